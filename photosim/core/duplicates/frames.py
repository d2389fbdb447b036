"""How videos relate to photos and to each other, told by their sampled frames.

A video's own vector and fingerprint come from one poster frame, so the pixel judge sees only
that moment. Its sampled frames (``video_frames``) tell more:

* a **still** grabbed from any moment of a clip lies very close (CNN cosine) to the frame
  sampled nearest that moment: the photo is related to the clip at that time — never a copy
  to trash because of it (see :mod:`~photosim.core.duplicates.policy`);
* two **copies of one video** (re-encoded, resized) have the same length and frames that
  match each other's almost all the way; then their posters (taken at the same moment) are
  compared by pixels as two photos would be, and a copy there is a deletable kind;
* a **trimmed** copy is shorter and nearly all its frames match frames of the longer one: a
  part of it, decided by the user (the longer one is kept, see
  :mod:`~photosim.core.duplicates.keeper`).

Between two videos with frames, the frames decide, whatever their posters look like: a copy
whose poster scene was cut away still groups, and two clips that merely open on the same
picture are not copies. A library without videos does none of this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from photosim.core.cancel import CancelToken, check
from photosim.core.catalog.videos import FrameVectors
from photosim.core.duplicates.kinds import Candidate, Level, Relation
from photosim.core.video import is_video

# A still and a frame of its clip above this cosine are one moment. A re-encoded grab of a
# frame sits at 0.97-1.0 from its sampled neighbour; another photo of the scene rarely passes.
STILL_COSINE = 0.93
# Two frames above this cosine show the same moment. Low on purpose: a low-bitrate x264
# re-encode at 224×168 of a 320×240 mpeg4 clip keeps only 0.63-0.96 of its frames' cosines
# (efficientnet-lite0; different pictures: 0.10-0.30). Same length and the posters' pixels
# guard the deletable kind; a trimmed part is only ever offered for review.
FRAME_COSINE = 0.6
# A video whose frames match another's at least this often is made of that one.
FRAME_SHARE = 0.8
# Two copies of one video last the same, to rounding by the container or the encoder.
SAME_LENGTH_S, SAME_LENGTH_SHARE = 0.5, 0.02
STILL_NEIGHBOURS = 16  # photos looked at per frame
FRAME_BLOCK = 2048  # frames compared with all others in one product

Key = tuple[int, int]  # candidate positions, lower first
# (frame vectors (n, dim), k) → (photo ids (n, k), cosines (n, k)), padded with -1
NearPhotos = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class FrameLinks:
    """Verdicts on pairs involving a video, found from frames; they take the place of the
    pixel judge's for those pairs."""

    relations: dict[Key, Relation] = field(default_factory=dict)
    still_times: dict[Key, float] = field(default_factory=dict)  # (still, video) → seconds
    trimmed: dict[Key, int] = field(default_factory=dict)  # pair → the shorter video
    # Same length, frames matching: copies if their posters are (judged by pixels).
    poster_pairs: list[Key] = field(default_factory=list)
    durations: dict[int, float] = field(default_factory=dict)  # video position → seconds

    def edges(self) -> list[tuple[int, int, Relation]]:
        return [(i, j, r) for (i, j), r in self.relations.items() if r.level is not None]


def frame_links(candidates: Sequence[Candidate], frames: FrameVectors,
                durations: Mapping[int, float], near_photos: NearPhotos,
                cancel: CancelToken | None = None) -> FrameLinks:
    """The frame verdicts of ``candidates``: ``frames`` of their videos, ``durations`` by
    photo id, ``near_photos`` the nearest library photos to each of a batch of vectors.
    ``cancel`` is heard between blocks of frames (``Cancelled``)."""
    position = {c.photo.id: i for i, c in enumerate(candidates)}
    runs = _runs(frames, position)
    links = FrameLinks(durations={position[v]: durations[v] for v in runs if v in durations})
    _link_stills(candidates, frames, runs, position, near_photos, links)
    _link_videos(candidates, frames, runs, position, links, cancel)
    return links


def _runs(frames: FrameVectors, position: Mapping[int, int]) -> dict[int, slice]:
    """Each candidate video's rows in ``frames`` (rows come ordered by video)."""
    ids = frames.photo_ids
    if len(ids) == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]).tolist()
    ends = [*starts[1:], len(ids)]
    return {int(ids[s]): slice(s, e) for s, e in zip(starts, ends, strict=True)
            if int(ids[s]) in position}


def _link_stills(candidates: Sequence[Candidate], frames: FrameVectors,
                 runs: Mapping[int, slice], position: Mapping[int, int],
                 near_photos: NearPhotos, links: FrameLinks) -> None:
    """A still and the video one of whose frames it shows, at that frame's time."""
    if not runs:
        return
    rows = np.concatenate([np.arange(r.start, r.stop) for r in runs.values()])
    ids, scores = near_photos(frames.vectors[rows], STILL_NEIGHBOURS)
    best: dict[Key, tuple[float, float]] = {}  # (still, video) → (cosine, time)
    for row, hit_ids, hit_scores in zip(rows.tolist(), ids.tolist(), scores.tolist(),
                                        strict=True):
        video = position[int(frames.photo_ids[row])]
        for photo_id, score in zip(hit_ids, hit_scores, strict=True):
            still = position.get(int(photo_id))
            if still is None or score < STILL_COSINE or \
                    is_video(candidates[still].photo.path):
                continue
            if score > best.get((still, video), (-1.0, 0.0))[0]:
                best[(still, video)] = (float(score), float(frames.times[row]))
    for (still, video), (score, time) in best.items():
        links.relations[(min(still, video), max(still, video))] = \
            Relation(Level.EDITED, min(score, 1.0))
        links.still_times[(still, video)] = time


def _link_videos(candidates: Sequence[Candidate], frames: FrameVectors,
                 runs: Mapping[int, slice], position: Mapping[int, int],
                 links: FrameLinks, cancel: CancelToken | None) -> None:
    """Every pair of videos with frames: the same video, a trimmed part, or unrelated."""
    videos = [v for v in runs if position[v] in links.durations]
    if len(videos) < 2:
        return
    share, closeness = _frame_shares(frames, [runs[v] for v in videos], cancel)
    for x, a in enumerate(videos):
        for y in range(x + 1, len(videos)):
            i, j = position[a], position[videos[y]]
            ha, hb = candidates[i].photo.content_hash, candidates[j].photo.content_hash
            if ha and ha == hb:
                continue  # the same file: the judge calls it exact
            key = (min(i, j), max(i, j))
            score = float(min(closeness[x, y], closeness[y, x]))
            relation = _video_relation(key, (i, j), (share[x, y], share[y, x]), score, links)
            if relation is not None:
                links.relations[key] = relation


def _video_relation(key: Key, pair: tuple[int, int], shares: tuple[float, float],
                    score: float, links: FrameLinks) -> Relation | None:
    """The frames' verdict on two videos; None: left to their posters' pixels."""
    i, j = pair
    di, dj = links.durations[i], links.durations[j]
    if abs(di - dj) <= max(SAME_LENGTH_S, SAME_LENGTH_SHARE * max(di, dj)):
        if min(shares) >= FRAME_SHARE:
            links.poster_pairs.append(key)
            return None
        return Relation(None, score)
    shorter, share = (i, shares[0]) if di < dj else (j, shares[1])
    if share >= FRAME_SHARE:
        links.trimmed[key] = shorter
        return Relation(Level.SIMILAR, score)
    return Relation(None, score)


def _frame_shares(frames: FrameVectors, runs: Sequence[slice], cancel: CancelToken | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(share, closeness), both (videos × videos): how many of video x's frames have a match
    in video y, and their mean best cosine there.

    Every frame against every frame, ``FRAME_BLOCK`` frames at a time (one product per video
    reads the whole matrix once per video: ten times slower). Quadratic in the library's
    frames: 3,000 frames take about a second on 2 cores."""
    rows = np.concatenate([np.arange(r.start, r.stop) for r in runs])
    owners = np.concatenate([np.full(r.stop - r.start, n) for n, r in enumerate(runs)])
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    counts = np.diff(np.r_[starts, len(owners)]).astype(np.float32)
    vectors = np.ascontiguousarray(frames.vectors[rows], np.float32)
    hits = np.zeros((len(runs), len(runs)), np.float32)
    sums = np.zeros_like(hits)
    for start in range(0, len(vectors), FRAME_BLOCK):
        check(cancel)  # a block is a fraction of a second; a large video library has many
        block = slice(start, start + FRAME_BLOCK)
        # each frame of the block: its best cosine in every video (its own included)
        best = np.maximum.reduceat(vectors[block] @ vectors.T, starts, axis=1)
        np.add.at(hits, owners[block], (best >= FRAME_COSINE).astype(np.float32))
        np.add.at(sums, owners[block], best)
    return hits / counts[:, None], sums / counts[:, None]
