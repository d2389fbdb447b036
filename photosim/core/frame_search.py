"""Search over the sampled frames of the library's videos: one answer per video, its best
frame and that frame's time.

Frames live apart from the photo index (whose labels are photo ids and whose every entry the
duplicate passes treat as a photo). A library holds far fewer frames than photos (at most
``video_index.MAX_FRAMES`` per video, a few per typical phone clip), so an exact scan of a
float16 matrix kept in memory until the catalog changes answers in milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from photosim.core.catalog import Catalog
from photosim.core.catalog.videos import FrameVectors
from photosim.core.types import Match, Photo


@dataclass(frozen=True)
class FrameHit:
    photo_id: int  # the video
    score: float  # cosine of its best frame to the query
    time: float  # seconds: where that frame is


class FrameSearch:
    def __init__(self, catalog: Catalog, model_id: str, dim: int) -> None:
        self.catalog = catalog
        self.model_id = model_id
        self.dim = dim
        self._lock = threading.Lock()
        self._state: tuple[int, ...] | None = None
        self._frames: FrameVectors | None = None
        self._matrix = np.zeros((0, dim), np.float16)

    def _current(self) -> FrameVectors:
        state = self.catalog.state()
        with self._lock:
            if self._frames is None or state != self._state:
                self._frames = self.catalog.videos.frame_vectors(self.model_id, self.dim)
                self._matrix = self._frames.vectors.astype(np.float16)
                self._state = state
            return self._frames

    def best_per_video(self, query: np.ndarray, k: int,
                       exclude: Collection[int] = ()) -> list[FrameHit]:
        """The ``k`` videos whose best frame is nearest to ``query`` (a unit vector)."""
        frames = self._current()
        if len(frames.photo_ids) == 0 or k <= 0:
            return []
        scores = _scores(self._matrix, np.asarray(query, np.float32).ravel())
        # rows come ordered by video: the first row of each video starts its run
        starts = np.flatnonzero(np.r_[True, frames.photo_ids[1:] != frames.photo_ids[:-1]])
        best = np.maximum.reduceat(scores, starts)
        hits = []
        for run in np.argsort(-best):
            start = int(starts[run])
            end = int(starts[run + 1]) if run + 1 < len(starts) else len(scores)
            photo_id = int(frames.photo_ids[start])
            if photo_id in exclude:
                continue
            row = start + int(np.argmax(scores[start:end]))
            hits.append(FrameHit(photo_id, float(best[run]), float(frames.times[row])))
            if len(hits) >= k:
                break
        return hits


def _scores(matrix: np.ndarray, query: np.ndarray, rows: int = 4096) -> np.ndarray:
    """``matrix @ query`` for a float16 matrix, a few thousand rows at a time in float32
    (numpy has no fast float16 product; a float32 copy of every frame would double memory)."""
    out = np.empty(len(matrix), np.float32)
    for start in range(0, len(matrix), rows):
        out[start:start + rows] = matrix[start:start + rows].astype(np.float32) @ query
    return out


def with_video_times(matches: list[Match], frame_hits: list[FrameHit], photos: dict[int, Photo],
                     k: int) -> list[Match]:
    """Photo-index matches and frame hits as one ranking of ``k``: a video appears once, at
    its best frame (which scores at least what its poster frame scored in the index). The
    photo matches keep their order (core/ranking.py orders by more than the score); a video
    goes before the first of them that it outscores."""
    videos = {hit.photo_id: Match(photos[hit.photo_id], hit.score, hit.time)
              for hit in frame_hits if hit.photo_id in photos}
    pending = sorted(videos.values(), key=lambda m: -m.score)
    merged: list[Match] = []
    for match in (m for m in matches if m.photo.id not in videos):
        while pending and pending[0].score > match.score:
            merged.append(pending.pop(0))
        merged.append(match)
    return [*merged, *pending][:k]
