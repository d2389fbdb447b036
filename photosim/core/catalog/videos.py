"""Video facts and frame vectors in the catalog (tables from migration 5).

A video is a row in ``photos`` like any picture: its poster frame gives it a vector, a
fingerprint and a thumbnail. These tables add its length and the vectors of all its sampled
frames, so that search can answer "this clip, at 0:42".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photosim.core.catalog.db import Database


@dataclass(frozen=True)
class VideoFacts:
    duration: float  # seconds
    poster_time: float  # seconds: the frame the grid shows and the video's own vector


@dataclass(frozen=True)
class FrameVectors:
    """Every sampled frame of the library's videos for one model, one row per frame."""

    photo_ids: np.ndarray  # int64: the video's photo id
    times: np.ndarray  # float64 seconds
    vectors: np.ndarray  # float32 (n, dim), unit length


class VideoStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, conn: sqlite3.Connection, content_hash: str, facts: VideoFacts,
            model_id: str | None, times: Sequence[float], vectors: np.ndarray | None) -> None:
        """Record one video's facts and (with a model) its frames, inside the caller's
        transaction. Frames of contents no file holds any more (the old bytes of a changed
        video) go at the same time."""
        from photosim.core.catalog.store import encode_vector

        conn.execute("INSERT OR REPLACE INTO videos VALUES (?, ?, ?)",
                     (content_hash, facts.duration, facts.poster_time))
        if model_id is not None and vectors is not None:
            conn.execute("DELETE FROM video_frames WHERE content_hash = ? AND model_id = ?",
                         (content_hash, model_id))
            conn.executemany("INSERT INTO video_frames VALUES (?, ?, ?, ?)",
                             [(content_hash, model_id, float(t), encode_vector(v))
                              for t, v in zip(times, vectors, strict=True)])
        self.drop_orphans(conn)

    @staticmethod
    def drop_orphans(conn: sqlite3.Connection) -> None:
        """Forget videos and frames whose content no file in the library holds."""
        for table in ("videos", "video_frames"):
            conn.execute(f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM photos p "
                         f"WHERE p.content_hash = {table}.content_hash)")

    def facts_of(self, content_hash: str) -> VideoFacts | None:
        row = self.db.connection().execute(
            "SELECT duration, poster_time FROM videos WHERE content_hash = ?",
            (content_hash,)).fetchone()
        return VideoFacts(float(row[0]), float(row[1])) if row else None

    def frame_vectors(self, model_id: str, dim: int) -> FrameVectors:
        """The frames of every readable video file (a copy's frames appear once per file)."""
        from photosim.core.catalog.store import decode_vectors, intact_vectors

        rows = self.db.connection().execute(
            "SELECT p.id, f.time, f.vector FROM photos p JOIN video_frames f ON "
            "f.content_hash = p.content_hash AND f.model_id = ? WHERE p.error IS NULL "
            "ORDER BY p.id, f.time", (model_id,)).fetchall()
        intact = intact_vectors([r[2] for r in rows], dim)
        rows = [r for r, ok in zip(rows, intact, strict=True) if ok]
        return FrameVectors(np.array([r[0] for r in rows], np.int64),
                            np.array([r[1] for r in rows], np.float64),
                            decode_vectors([r[2] for r in rows], dim))
