"""Duplicate groups a user can trust: kinds told apart, no chains, every group explained.

Grouping is complete-linkage: two groups merge only when every cross pair is related at the
group's level, so A≈B and B≈C never drags A and C together unless A≈C too. The one allowed
chain runs through a copy, which stands for its picture: a crop of a photo is also a crop of
that photo's watermarked or filtered copy (same framing), even when the two edits together
hide it from a direct comparison; a crop is a copy of whatever the frame it is cut from is a
copy of (two crops of one photo, or a crop and a screenshot holding the photo, are copies of
one picture); a re-shot of a scene is a re-shot of every copy of the shot. The clusters of
every level then become one group per photo (see :mod:`photosim.core.duplicates.partition`).
Each group's cohesion is its weakest pair; its members are listed most central first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photosim.core.cancel import CancelToken, check
from photosim.core.duplicates import workers
from photosim.core.duplicates.formats import is_screenshot_pair
from photosim.core.duplicates.frames import FrameLinks
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.keeper import Link, choose_keeper
from photosim.core.duplicates.kinds import KIND_OF_LEVEL, Candidate, Level, Relation, Snapshot
from photosim.core.duplicates.pairs import PairTable
from photosim.core.duplicates.partition import Part, partition
from photosim.core.duplicates.policy import with_suggestions
from photosim.core.duplicates.prefilter import worth_judging
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.duplicates.verdicts import CropSides, PixelCache
from photosim.core.types import (
    DuplicateGroup,
    DuplicateKind,
    Photo,
    Progress,
    ProgressCallback,
    Stage,
    no_progress,
)
from photosim.core.units import clock
from photosim.core.video import is_video

_REPORT_EVERY = 500  # pairs judged between two progress reports

Edge = tuple[int, int, Relation]  # two related candidate positions, lower first


@dataclass(frozen=True)
class GroupingOptions:
    """How to group: the thresholds, the pairs of photo ids the user said are not duplicates,
    the reference folders (their photos are kept), and the pixel verdicts carried over from
    earlier groupings (see :class:`~photosim.core.duplicates.verdicts.PixelVerdicts`)."""

    settings: DedupSettings = field(default_factory=DedupSettings)
    not_duplicates: Collection[frozenset[int]] = ()
    reference_folders: Sequence[Path] = ()
    pixel_cache: PixelCache | None = None
    # Verdicts on pairs involving a video, from its sampled frames (see duplicates.frames):
    # they replace the pixel judge's, which sees only a video's poster frame.
    frame_links: FrameLinks | None = None
    # Crop sides of reframed copies, by content: read before searching, found ones added.
    crop_sides: CropSides | None = None


def find_groups(snapshot: Snapshot, pairs: PairTable, options: GroupingOptions, *,
                progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> list[DuplicateGroup]:
    """Duplicate groups of every kind; ``pairs`` index into ``snapshot.candidates`` and, when
    the snapshot holds vectors, score each pair by its cosine (as
    :func:`~photosim.core.duplicates.pairs.neighbour_pairs_from_index` does); their gate
    scores, where known, spare the pixel gate a look at those pairs.

    Each photo is in one group at most (see :mod:`photosim.core.duplicates.partition`): a
    picture with its copies of every kind, and other shots of the scene found with them; each
    member carries its kind of relation to the keeper (``member_kinds``).
    ``options.pixel_cache`` carries pixel verdicts over to the next call. ``progress`` hears of each
    stage (``Stage.COMPARING_PIXELS``, then ``Stage.GROUPING``) and of every few hundred pairs
    judged; there ``cancel`` is checked too (``Cancelled``; the verdicts cached stay valid).
    """
    report = progress or no_progress
    report(Progress(Stage.COMPARING_PIXELS, 0, None))
    judge = PairJudge(snapshot, options.settings, pairs, options.pixel_cache)
    links = options.frame_links
    if links is not None:
        judge.take(links.relations, {})
    blocked = _blocked_pairs(snapshot.candidates, options.not_duplicates)
    edges = _edges(judge, pairs, blocked, report, cancel, options.pixel_cache)
    if links is not None:
        edges = _with_frame_edges(edges, links, judge, blocked)
    workers.find_crop_sides(judge, [(i, j) for i, j, _ in edges], cancel, options.crop_sides)
    clusters = []
    for done, level in enumerate(Level):
        check(cancel)
        report(Progress(Stage.GROUPING, done, len(Level)))
        clusters.append(_complete_linkage(edges, level, judge, blocked))
    return [_group_of_part(part, judge, options.reference_folders, links)
            for part in partition(clusters, copy_levels=Level.SIMILAR)]


def _with_frame_edges(edges: list[Edge], links: FrameLinks, judge: PairJudge,
                      blocked: set[tuple[int, int]]) -> list[Edge]:
    """``edges`` plus the related pairs that no neighbour list held (a still from the middle
    of a clip is far from its poster): the frame verdicts', and two videos of one length and
    frames whose posters are copies by their pixels."""
    seen = {(i, j) for i, j, _ in edges} | blocked
    posters = [(i, j, judge(i, j)) for i, j in links.poster_pairs if (i, j) not in seen]
    return edges + [e for e in links.edges() if (e[0], e[1]) not in seen] + \
        [e for e in posters if e[2].within(Level.EDITED)]


def _blocked_pairs(candidates: Sequence[Candidate],
                   not_duplicates: Collection[frozenset[int]]) -> set[tuple[int, int]]:
    """Candidate-position pairs the user said are not duplicates."""
    if not not_duplicates:
        return set()
    position: dict[int, list[int]] = {}
    for i, c in enumerate(candidates):
        position.setdefault(c.photo.id, []).append(i)
    blocked: set[tuple[int, int]] = set()
    for pair in not_duplicates:
        ids = tuple(pair)
        if len(ids) != 2:
            continue
        for i in position.get(ids[0], []):
            for j in position.get(ids[1], []):
                blocked.add((min(i, j), max(i, j)))
    return blocked


def _edges(judge: PairJudge, pairs: PairTable, blocked: set[tuple[int, int]],
           report: ProgressCallback = no_progress, cancel: CancelToken | None = None,
           pixel_cache: PixelCache | None = None) -> list[Edge]:
    """Related pairs from the given neighbours, hash-near pairs and same-content files; the
    pairs whose pixels must be compared are judged on every core first."""
    lo, hi = worth_judging(judge, pairs, cancel)
    pooled = workers.judge_pairs(
        judge, [(i, j) for i, j in zip(lo.tolist(), hi.tolist(), strict=True)
                if (i, j) not in blocked], report, cancel, pixel_cache)
    edges = []
    for done, (i, j) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        if done % _REPORT_EVERY == 0:
            check(cancel)
            # the pooled pairs were counted already, and are judged here at once
            report(Progress(Stage.COMPARING_PIXELS, min(pooled + done, len(lo)), len(lo)))
        if (i, j) in blocked:
            continue
        relation = judge(i, j)
        if relation.level is not None:
            edges.append((i, j, relation))
    return edges  # in no order: _densest_first orders them for each level


def _complete_linkage(edges: list[Edge], level: Level, judge: PairJudge,
                      blocked: set[tuple[int, int]]) -> list[list[int]]:
    """Merge along edges, closest first, only when every cross pair is related at ``level``."""
    cluster_of: dict[int, list[int]] = {}
    for i, j, _ in _densest_first(edges, level):
        ci = cluster_of.get(i, [i])
        cj = cluster_of.get(j, [j])
        if ci is cj or not _holds(ci, cj, level, judge, blocked):
            continue
        merged = ci + cj
        for member in merged:
            cluster_of[member] = merged
    unique = {id(c): c for c in cluster_of.values()}
    return sorted((sorted(c) for c in unique.values()), key=lambda c: c[0])


def _densest_first(edges: list[Edge], level: Level
                   ) -> list[Edge]:
    """The edges at or below ``level``, strictest first, then by how connected their ends are.

    A crop of a photo also fits inside a re-shot view that covers the same region; joining
    the photo's family (many related members) before a lone look-alike keeps it where it
    came from. Within equal support the closest pair goes first.
    """
    kept = [e for e in edges if e[2].within(level)]
    degree: dict[int, int] = {}
    for i, j, _ in kept:
        degree[i] = degree.get(i, 0) + 1
        degree[j] = degree.get(j, 0) + 1
    return sorted(kept, key=lambda e: (e[2].level, -(degree[e[0]] + degree[e[1]]),
                                       -e[2].score, e[0], e[1]))


def _holds(ci: list[int], cj: list[int], level: Level, judge: PairJudge,
           blocked: set[tuple[int, int]]) -> bool:
    members = {*ci, *cj}
    for a in ci:
        for b in cj:
            if (min(a, b), max(a, b)) in blocked:
                return False
            if judge.settled(a, b).within(level):
                continue
            if level < Level.EDITED or not _related_through(a, b, members, level, judge):
                return False
    return True


def _related_through(a: int, b: int, members: Collection[int], level: Level,
                     judge: PairJudge) -> bool:
    """Whether ``a`` relates to ``b`` at ``level`` through a member that is a copy of one of
    them — the only chaining allowed, because a copy stands for its picture.

    * EDITED: a crop of a photo is, geometrically, also a crop of that photo's watermarked or
      filtered copy, but the two edits together can hide it from a direct comparison. Only a
      framing-preserving link passes this on, so a crop never vouches for a re-shot view that
      happens to contain the same region.
    * SIMILAR: a re-shot of a scene is a re-shot of every copy of the shot, however far an
      edit (grayscale, a crop) moved that copy in the CNN's view.
    """
    for x, y in ((a, b), (b, a)):
        # Only through pairs already judged (the candidate edges): composing must not send
        # every member of a large group through the pixel comparison again.
        for m in judge.copies_of(x):
            if m == y or m not in members or _still_between_videos(judge, x, m, y):
                continue
            link, onward = judge.known(x, m), judge.known(m, y)
            if link is None or onward is None:
                continue
            if level == Level.EDITED:
                copy = link.within(Level.EDITED) and (
                    not link.reframed or _crops_of_one_frame(judge, x, m, y, onward))
            else:
                copy = link.within(Level.EDITED)
            if copy and onward.within(level):
                return True
    return False


def _still_between_videos(judge: PairJudge, x: int, m: int, y: int) -> bool:
    """A still that shows a moment of two videos makes neither a copy of the other: one may
    be trimmed, or another clip of the scene."""
    candidates = judge.candidates
    return is_video(candidates[x].photo.path) and is_video(candidates[y].photo.path) and \
        not is_video(candidates[m].photo.path)


def _crops_of_one_frame(judge: PairJudge, x: int, m: int, y: int, onward: Relation) -> bool:
    """Whether ``x`` is a crop of ``m``, so that it is a copy of whatever ``m`` is a copy of:
    two crops (a square one, a straightened one) of one photo, or a crop of a photo and a
    screenshot holding the photo, are copies of one picture. ``m`` must hold the frame ``x``
    is cut from, so that a crop never vouches for a re-shot view that merely contains the
    same region (there ``x`` would hold ``m``)."""
    return onward.within(Level.EDITED) and _crop_side(judge, x, m) == x


def _group_of_part(part: Part, judge: PairJudge, reference_folders: Sequence[Path],
                   links: FrameLinks | None = None) -> DuplicateGroup:
    """A group of the partition: the keeper chosen among the copies (another shot of the
    scene is never the picture the copies were made from), each member's relation to it."""
    candidates, cluster = judge.candidates, part.members
    scores = np.ones((len(cluster), len(cluster)), np.float32)
    for x, a in enumerate(cluster):
        for y in range(x + 1, len(cluster)):
            scores[x, y] = scores[y, x] = judge.settled(a, cluster[y]).score
    centrality = scores.sum(axis=1)
    order = sorted(range(len(cluster)), key=lambda x: (-centrality[x], cluster[x]))
    members = tuple(candidates[cluster[x]].photo for x in order)
    copies = [i for i in cluster if part.joined[i] < Level.SIMILAR] or cluster
    keeper, reason = choose_keeper([candidates[i].photo for i in copies],
                                   _keeper_links(copies, judge, links), reference_folders)
    position = {candidates[i].photo.id: i for i in cluster}
    kept = position[keeper.id]
    kinds: list[DuplicateKind | None] = []
    relations: list[str] = []
    for photo in members:
        kind, relation = _relation_to_keeper(position[photo.id], kept, part, judge)
        kinds.append(kind)
        relations.append("" if kind is None else
                         _frame_relation(position[photo.id], kept, candidates, links) or
                         describe_copy(keeper, photo, relation))
    return with_suggestions(DuplicateGroup(_group_kind(kinds), members, float(scores.min()),
                                           keeper, reason, tuple(relations), tuple(kinds)),
                            reference_folders)


def _group_kind(kinds: Sequence[DuplicateKind | None]) -> DuplicateKind:
    """The loosest kind of copy in the group; similar scene when it holds no copies."""
    copy_kinds = [k for k in kinds if k is not None and k != DuplicateKind.SIMILAR]
    return max(copy_kinds, key=list(DuplicateKind).index) if copy_kinds else \
        DuplicateKind.SIMILAR


def _relation_to_keeper(i: int, kept: int, part: Part, judge: PairJudge
                        ) -> tuple[DuplicateKind | None, Relation]:
    """(The member's kind of relation to the keeper, None for the keeper; the verdict that
    describes it). A copy held in the group through another copy is an edited copy."""
    if i == kept:
        return None, Relation(Level.EXACT, 1.0)
    relation = judge.settled(i, kept)
    if part.joined[i] >= Level.SIMILAR or part.joined[kept] >= Level.SIMILAR:
        return DuplicateKind.SIMILAR, Relation(Level.SIMILAR, relation.score)
    if relation.within(Level.EDITED):
        assert relation.level is not None
        return KIND_OF_LEVEL[relation.level], relation
    return DuplicateKind.EDITED, Relation(None, relation.score)


def _keeper_links(cluster: Sequence[int], judge: PairJudge,
                  links: FrameLinks | None = None) -> dict[frozenset[int], Link]:
    """What the keeper rules need of each judged pair: its kind, which is the crop, whether
    one is an edit of the other, whether the crop is a photo shown in a screenshot."""
    candidates = judge.candidates
    found: dict[frozenset[int], Link] = {}
    for x, a in enumerate(cluster):
        for b in cluster[x + 1:]:
            relation = judge.known(a, b)
            if relation is None or relation.level is None:
                continue
            crop = _crop_side(judge, a, b) if relation.reframed and \
                relation.level == Level.EDITED else None
            ids = (candidates[a].photo.id, candidates[b].photo.id)
            trimmed = None if links is None else links.trimmed.get((min(a, b), max(a, b)))
            found[frozenset(ids)] = Link(
                KIND_OF_LEVEL[relation.level],
                None if crop is None else candidates[crop].photo.id,
                relation.level == Level.EDITED and crop is None,
                None if trimmed is None else candidates[trimmed].photo.id,
                crop is not None and relation.shown_inside)
    return found


def _frame_relation(member: int, kept: int, candidates: Sequence[Candidate],
                    links: FrameLinks | None) -> str:
    """How a member relates to the keeper by the frames of a video, in words ("a still from
    clip.mp4 at 0:42"); "" when frames did not relate the two."""
    if links is None:
        return ""
    name = candidates[kept].photo.path.name
    if (member, kept) in links.still_times:
        return f"a still from {name} at {clock(links.still_times[(member, kept)])}"
    if (kept, member) in links.still_times:
        return f"a video showing this picture at {clock(links.still_times[(kept, member)])}"
    shorter = links.trimmed.get((min(member, kept), max(member, kept)))
    if shorter is None:
        return ""
    lengths = f"{clock(links.durations[member])} of {clock(links.durations[kept])}"
    return f"a trimmed part of {name} ({lengths})" if shorter == member else \
        f"a longer cut of {name} ({lengths})"


def _crop_side(judge: PairJudge, a: int, b: int) -> int | None:
    """Which of a reframed pair is the crop: the one that fits inside the other better."""
    return judge.crop_side(a, b)


def describe_copy(keeper: Photo, other: Photo, relation: Relation) -> str:
    """How ``other`` differs from the suggested keeper, in a few words ("cropped, smaller,
    PNG"), so a reviewer sees why it is in the group before comparing pixels."""
    if relation.level == Level.EXACT:
        return "identical file"
    if relation.level == Level.SAME:
        what = ["same video" if is_video(other.path) and is_video(keeper.path)
                else "same picture"]
    elif relation.level == Level.EDITED and relation.shown_inside:
        what = ["a screenshot showing it" if is_screenshot_pair(keeper, other)
                else "the photo its screenshot shows"]
    elif relation.level == Level.EDITED:
        what = ["cropped" if relation.reframed else "mirrored" if relation.mirrored
                else "colours, tones or marks changed"]
    elif relation.level == Level.SIMILAR:
        return "another shot of the same scene"
    else:  # held in the group through another member (see _related_through)
        what = ["a copy of another photo in the group"]
    if other.pixels and keeper.pixels and other.pixels != keeper.pixels:
        what.append(f"{'smaller' if other.pixels < keeper.pixels else 'larger'} "
                    f"({other.width}×{other.height})")
    if other.format and keeper.format and other.format != keeper.format:
        what.append(other.format)
    return ", ".join(what)
