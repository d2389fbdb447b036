"""What may be trashed: the one decider the UI and the CLI show and confirm.

A duplicate group is the photo the others were made from (its keeper, see
:mod:`photosim.core.duplicates.keeper`) plus its other members, each with its relation to the
keeper. An identical file, the same picture re-encoded or resized, or an edited copy may be
suggested for the trash; another shot of the same scene never is (it is decided photo by
photo), and nothing in a reference folder ever is. Bulk actions go through
:func:`bulk_trash`, so "Apply suggestions" and scripting can never reach a different shot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from photosim.core.duplicates.keeper import in_folder, is_protected
from photosim.core.types import DuplicateGroup, DuplicateKind, Photo
from photosim.core.video import is_video

# Kinds whose members may be suggested for the trash; SIMILAR (another shot) never is.
DELETABLE_KINDS = frozenset({DuplicateKind.EXACT, DuplicateKind.SAME, DuplicateKind.EDITED})
# What the core suggests for a member (DuplicateGroup.suggestions)
KEEP, TRASH, REVIEW, PROTECTED = "keep", "trash", "review", "protected"

def protecting_folder(photo: Photo, reference_folders: Sequence[Path]) -> Path | None:
    return next((f for f in reference_folders if in_folder(photo.path, f)), None)


def member_kind(group: DuplicateGroup, photo: Photo) -> DuplicateKind | None:
    """How ``photo`` relates to the group's keeper (None for the keeper itself)."""
    if photo.id == group.keeper.id:
        return None
    for member, kind in zip(group.members, group.member_kinds, strict=False):
        if member.id == photo.id:
            return kind
    return group.kind


def may_suggest_trash(group: DuplicateGroup, photo: Photo,
                      reference_folders: Sequence[Path]) -> bool:
    """Whether ``photo`` is suggested for the trash: a copy of the keeper (identical, same
    picture or edited), not the keeper, not in a reference folder."""
    return member_kind(group, photo) in DELETABLE_KINDS and \
        not is_protected(photo, reference_folders) and not crosses_media(group, photo)


def crosses_media(group: DuplicateGroup, photo: Photo) -> bool:
    """A video in a photo's group, or a photo in a group that holds a video: related, never
    a copy to trash. (Stills of two moments of one clip group together through the clip;
    with a still kept — in a reference folder — the other still is no copy of it.)"""
    return is_video(photo.path) != is_video(group.keeper.path) or (
        not is_video(photo.path) and any(is_video(m.path) for m in group.members))


def suggestion(group: DuplicateGroup, photo: Photo, reference_folders: Sequence[Path]) -> str:
    """Keep the keeper; never touch a reference file; trash a copy; review another shot."""
    if is_protected(photo, reference_folders):
        return PROTECTED
    if photo.id == group.keeper.id:
        return KEEP
    if crosses_media(group, photo):
        return REVIEW
    return TRASH if member_kind(group, photo) in DELETABLE_KINDS else REVIEW


def with_suggestions(group: DuplicateGroup, reference_folders: Sequence[Path]
                     ) -> DuplicateGroup:
    """The group with what the core suggests for each member (see :func:`suggestion`), and
    a video's stills (or a still's video) worded as such."""
    return _with_media_relations(replace(group, suggestions=tuple(
        suggestion(group, p, reference_folders) for p in group.members)))


def _with_media_relations(group: DuplicateGroup) -> DuplicateGroup:
    if not any(crosses_media(group, p) for p in group.members):
        return group
    relations = [group.relation_of(p) for p in group.members]
    return replace(group, relations=tuple(
        _media_relation(group, p, relation)
        for p, relation in zip(group.members, relations, strict=True)))


def _media_relation(group: DuplicateGroup, photo: Photo, relation: str) -> str:
    """A still's relation to its video (or a video's to a still), in words; the moment the
    frames found, when they did ("a still from clip.mp4 at 0:42")."""
    if is_video(photo.path) == is_video(group.keeper.path) or \
            relation.startswith(("a still from ", "a video showing ")):
        return relation
    return "a video showing this picture" if is_video(photo.path) else \
        "a still from this video"


def suggested_trash(group: DuplicateGroup, reference_folders: Sequence[Path]) -> list[Photo]:
    """The members of one group that "apply suggestions" would trash."""
    return [p for p in group.members if may_suggest_trash(group, p, reference_folders)]


def bulk_trash(groups: Sequence[DuplicateGroup],
               reference_folders: Sequence[Path]) -> list[Photo]:
    """What a bulk action (the app's "Apply suggestions", ``dupes`` scripting) may trash:
    copies only, never another shot of a scene, never a reference file, each file once."""
    seen: set[int] = set()
    out = []
    for group in groups:
        for photo in suggested_trash(group, reference_folders):
            if photo.id not in seen:
                seen.add(photo.id)
                out.append(photo)
    return out


def reclaimable_bytes(groups: Sequence[DuplicateGroup],
                      reference_folders: Sequence[Path]) -> int:
    """The space the suggestions free: exactly the size of :func:`bulk_trash`."""
    return sum(p.size for p in bulk_trash(groups, reference_folders))


def with_keeper(group: DuplicateGroup, keeper: Photo) -> DuplicateGroup:
    """The group with the user's own choice of keeper, which the reason says. The members
    trade relations: the old keeper relates to the new one as the new one did to it (a
    similar-scene shot stays one, whichever of the two is kept)."""
    if keeper.id == group.keeper.id:
        return group
    new_kind = member_kind(group, keeper)
    kinds = tuple(None if p.id == keeper.id else new_kind if p.id == group.keeper.id
                  else member_kind(group, p) for p in group.members)
    relations = tuple("" if p.id == keeper.id else "the suggested keeper"
                      if p.id == group.keeper.id else group.relation_of(p)
                      for p in group.members)
    mine = replace(group, keeper=keeper, keep_reason="Your choice", member_kinds=kinds,
                   relations=relations)
    protected = [p.path for p, s in zip(group.members, group.suggestions, strict=False)
                 if s == PROTECTED]
    return with_suggestions(mine, protected)
