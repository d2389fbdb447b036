"""Which member of a duplicate group to keep: the photo the others were made from.

Rules in a fixed order; the first that tells the members apart decides, and the reason names
it (see :func:`choose_keeper`):

1. in a reference folder, then a video over a still grabbed from it, then the whole video
   over a trimmed part of it,
2. full framing over a crop,
3. unedited over a tone, colour, flip or watermark edit,
4. the original format over a re-encode (RAW, then a camera's HEIC or JPEG, ... PNG/WebP),
5. camera metadata (capture date, camera) over stripped,
6. higher resolution over a downscale,
7. the better place and name (not "copy", "(1)", "-edited", not a messenger or download
   folder),
8. the oldest capture, then the oldest file (a copy is made after its original).

File size alone never decides: an edit re-encoded at a high quality is bigger than its
original, and the most common complaint about duplicate finders is keeping such a copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from photosim.core.duplicates.formats import format_rank, has_camera_metadata
from photosim.core.types import DuplicateKind, Photo
from photosim.core.video import is_video

# Names and folders that mark a copy: "IMG_1 (1).jpg", "photo copy.jpg", "x-edited.jpg",
# "Copy of x", and folders that apps and browsers fill with copies.
_COPY_NAME = re.compile(r"(\(\d+\)|\bcopy\b|\bkopie\b|\bcopie\b|[-_ ]edit(ed)?\b|"
                        r"^copy of\b)", re.IGNORECASE)
_COPY_FOLDERS = frozenset({
    "downloads", "download", "whatsapp", "whatsapp images", "telegram", "telegram desktop",
    "messenger", "signal", "viber", "copies", "copy", "duplicates", "tmp", "temp", "cache",
    "sent", "export", "exports"})


@dataclass(frozen=True)
class Link:
    """What the duplicate judge found between two members, as the keeper rules need it."""

    kind: DuplicateKind | None  # None: not related directly
    crop: int | None = None  # the id of the member that is a crop of the other
    edited: bool = False  # one is a tone, colour, flip or watermark edit of the other
    trimmed: int | None = None  # the id of the video that is a trimmed part of the other
    # the crop is a photo shown in the other, a screenshot of it (framed in interface), not
    # cut from it: the screenshot is the copy
    screenshot: bool = False


Links = Mapping[frozenset[int], Link]


def is_protected(photo: Photo, reference_folders: Sequence[Path]) -> bool:
    """A photo in a reference folder is never proposed for deletion, nor trashed."""
    return any(in_folder(photo.path, folder) for folder in reference_folders)


def in_folder(path: Path, folder: Path) -> bool:
    """Whether ``path`` is in ``folder``, as written or once links are resolved (a reference
    folder reached through a symlink protects its files too)."""
    if path.is_relative_to(folder):
        return True
    real, real_folder = os.path.realpath(path), os.path.realpath(folder)
    return real == real_folder or real.startswith(real_folder.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Rule:
    name: str  # what the reason says when this rule decided
    value: Callable[[Photo], float]  # higher is better


def copy_marks(photo: Photo) -> int:
    """How many signs of a copy its name and folders carry (0 for a clean place and name)."""
    marks = int(bool(_COPY_NAME.search(photo.path.stem)))
    return marks + sum(part.lower() in _COPY_FOLDERS for part in photo.path.parent.parts)


def choose_keeper(members: Sequence[Photo], links: Links | None = None,
                  reference_folders: Sequence[Path] = ()) -> tuple[Photo, str]:
    """The photo the others were made from, and the rule that decided it, in words."""
    if not members:
        raise ValueError("choose_keeper needs at least one photo")
    if len(members) == 1:
        return members[0], "The only copy"
    rules = _rules(members, links or {}, reference_folders)
    ranked = sorted(members, key=lambda p: _sort_key(p, rules), reverse=True)
    keeper, runner_up = ranked[0], ranked[1]
    for rule in rules:
        if rule.value(keeper) > rule.value(runner_up):
            return keeper, _describe(rule, keeper)
    return keeper, "Identical copies; kept the first by path"


def _sort_key(photo: Photo, rules: list[Rule]) -> tuple[object, ...]:
    # The path breaks the last ties, so the choice never depends on the order of members.
    return (*(rule.value(photo) for rule in rules), tuple(-ord(c) for c in str(photo.path)))


def _rules(members: Sequence[Photo], links: Links,
           reference_folders: Sequence[Path]) -> list[Rule]:
    crops = _times_derived(members, links, _crop_of)
    edits = _times_derived(members, links, _edit_of(members, links))
    cuts = _times_derived(members, links, lambda link, a, b: link.trimmed)
    return [
        Rule("in a reference folder", lambda p: float(is_protected(p, reference_folders))),
        # a still grabbed from a clip is never the video's keeper (see policy.crosses_media)
        Rule("a video (the others are its copies or stills)", lambda p: float(is_video(p.path))),
        Rule("the whole video (the others are cut from it)", lambda p: -float(cuts[p.id])),
        Rule("full framing (the others are crops of it)", lambda p: -float(crops[p.id])),
        Rule("unedited (the others are edits of it)", lambda p: -float(edits[p.id])),
        Rule("original format", lambda p: float(format_rank(p))),
        Rule("camera metadata (capture date, camera)",
             lambda p: float(has_camera_metadata(p))),
        Rule("higher resolution", lambda p: float(p.pixels)),
        Rule("better place and name (not a copy's)", lambda p: -float(copy_marks(p))),
        Rule("oldest capture", _capture_age),
        Rule("oldest file", lambda p: -float(p.mtime_ns)),
    ]


def _describe(rule: Rule, keeper: Photo) -> str:
    text = rule.name
    if rule.name == "original format":
        text = f"original format ({_format_name(keeper)})"
    elif rule.name == "higher resolution":
        text = f"higher resolution ({keeper.width}×{keeper.height})"
    elif rule.name == "oldest capture":
        text = f"oldest capture ({keeper.date_taken})"
    return text[0].upper() + text[1:]


def _times_derived(members: Sequence[Photo], links: Links,
                   derived: Callable[[Link, Photo, Photo], int | None]) -> dict[int, int]:
    """Per member, of how many other members it is a copy made from them (per ``derived``,
    which names the derived one of a pair, or None)."""
    count = {p.id: 0 for p in members}
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            link = links.get(frozenset((a.id, b.id)))
            if link is None:
                continue
            copy = derived(link, a, b)
            if copy is not None:
                count[copy] += 1
    return count


def _crop_of(link: Link, a: Photo, b: Photo) -> int | None:
    """The derived one of a crop pair: the crop; but a screenshot showing a photo is the
    photo's copy, not its original (the judge tells which crops are shown in one)."""
    if link.crop not in (a.id, b.id):
        return None
    crop, frame = (a, b) if link.crop == a.id else (b, a)
    return frame.id if link.screenshot else crop.id


def _edit_of(members: Sequence[Photo], links: Links
             ) -> Callable[[Link, Photo, Photo], int | None]:
    """Which of an edited pair is the edit: the judge cannot tell a brightened copy from a
    darkened original, so the evidence is the files'. The original kept its camera metadata,
    more copies share its picture, and it was there first."""
    family = {p.id: 1 + sum(1 for q in members if q.id != p.id and
                            (link := links.get(frozenset((p.id, q.id)))) is not None and
                            link.kind in (DuplicateKind.EXACT, DuplicateKind.SAME))
              for p in members}

    def evidence(p: Photo) -> tuple[int, int, int]:
        return int(has_camera_metadata(p)), family[p.id], -p.mtime_ns

    def edit(link: Link, a: Photo, b: Photo) -> int | None:
        if not link.edited or link.crop is not None:
            return None
        ea, eb = evidence(a), evidence(b)
        if ea == eb:
            return None
        return b.id if ea > eb else a.id

    return edit


def _capture_age(photo: Photo) -> float:
    # ISO 8601 digits sort by time; negated so that higher (earlier) is better, and a photo
    # without a capture date counts as the newest.
    taken = "".join(ch for ch in photo.date_taken or "" if ch.isdigit())[:14]
    return -float(taken.ljust(14, "0")) if taken else -float("9" * 14)


def _format_name(photo: Photo) -> str:
    fmt = (photo.format or photo.path.suffix.lstrip(".") or "unknown").upper()
    return "HEIC" if fmt == "HEIF" else fmt
