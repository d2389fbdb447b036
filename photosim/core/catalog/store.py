"""Typed queries over the catalog. Nothing outside this package writes SQL."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from photosim.core.catalog.db import Database
from photosim.core.catalog.pathcodec import from_db, text_from_db, to_db
from photosim.core.catalog.videos import VideoStore
from photosim.core.types import ImageInfo, Photo, PhotoRow, photo_from_row

log = logging.getLogger(__name__)

PHOTO_COLUMNS = ("id, path, size, mtime_ns, content_hash, width, height, format, date_taken, "
                 "orientation, camera, error, online, exif_fields")


@dataclass(frozen=True)
class Folder:
    path: Path
    reference: bool
    online: bool


@dataclass(frozen=True)
class ActionItem:
    original_path: Path
    trash_path: Path | None
    size: int
    mtime_ns: int
    content_hash: str | None


@dataclass(frozen=True)
class ActionRecord:
    id: int
    at: str
    kind: str
    undone: bool
    items: tuple[ActionItem, ...]


def _photo(row: sqlite3.Row) -> Photo:
    return photo_from_row(row)  # PHOTO_COLUMNS are in Photo's field order


def encode_vector(vector: np.ndarray) -> bytes:
    """float16 bytes, then their CRC-32 (4 bytes, little-endian): a damaged stored vector is
    found when read instead of silently ranking the wrong photos."""
    body = np.asarray(vector, dtype=np.float16).tobytes()
    return body + zlib.crc32(body).to_bytes(4, "little")


def intact_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Which blobs are whole vectors whose checksum holds (bool per blob). Blobs written
    before checksums (exactly ``dim`` float16s) are taken as they are."""
    body = dim * 2
    return np.fromiter(
        (len(b) == body or (len(b) == body + 4 and
                            zlib.crc32(memoryview(b)[:body]) == int.from_bytes(b[body:], "little"))
         for b in blobs), np.bool_, len(blobs))


def decode_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """float16 blobs (checked by ``intact_vectors`` first) → float32 (n, dim), re-normalised
    (float16 rounding shifts norms slightly).

    A few thousand rows at a time, in place: at 100k vectors, converting and normalising the
    whole array at once made three 800 MB temporaries, which took longer than the arithmetic.
    """
    out = np.empty((len(blobs), dim), np.float32)
    for start in range(0, len(blobs), _DECODE_ROWS):
        part = out[start:start + _DECODE_ROWS]
        part[:] = np.frombuffer(b"".join(b[:dim * 2] for b in blobs[start:start + _DECODE_ROWS]),
                                np.float16).reshape(-1, dim)
        norms = np.sqrt(np.einsum("ij,ij->i", part, part))
        part /= np.maximum(norms, 1e-12)[:, np.newaxis]
    return out


_DECODE_ROWS = 4096
# "inside this folder": CAST so that names stored as raw bytes (see pathcodec) match too
_INSIDE = "CAST(path AS TEXT) LIKE CAST(? AS TEXT) ESCAPE '\\'"
_IDS_PER_QUERY = 500



def _claimed_marker(model_id: str) -> str:
    """The ``settings`` key recording that the bare-id vectors of ``model_id`` were claimed."""
    return f"vectors keyed by file:{model_id}"

class Catalog:
    def __init__(self, db_path: Path, read_only: bool = False) -> None:
        self.db = Database(db_path, read_only)
        self.videos = VideoStore(self.db)

    @property
    def read_only(self) -> bool:
        """Opened by a command that only reads. What it derives (neighbour lists, pixel
        verdicts, cluster state) stays in memory then: the next writer derives it again."""
        return self.db.read_only

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """Writes that land together or not at all (see ``Database.transaction``)."""
        return self.db.transaction()

    def state(self) -> tuple[int, ...]:
        """Changes whenever the catalog changes (see ``Database.state``)."""
        return self.db.state()

    # -- folders ---------------------------------------------------------------------------
    def folders(self) -> list[Folder]:
        rows = self.db.connection().execute(
            "SELECT path, reference, online FROM folders ORDER BY path")
        return [Folder(from_db(r["path"]), bool(r["reference"]), bool(r["online"])) for r in rows]

    def add_folder(self, path: Path, reference: bool) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO folders(path, reference) VALUES (?, ?) ON CONFLICT(path) "
                         "DO UPDATE SET reference = excluded.reference",
                         (to_db(path), int(reference)))

    def remove_folder(self, path: Path) -> list[int]:
        """Forget a folder and its photos; returns the removed photo ids."""
        with self.db.transaction() as conn:
            ids = [r[0] for r in conn.execute(
                f"SELECT id FROM photos WHERE path = ? OR {_INSIDE}",
                (to_db(path), _prefix_pattern(path)))]
            conn.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in ids])
            conn.execute("DELETE FROM folders WHERE path = ?", (to_db(path),))
            VideoStore.drop_orphans(conn)
        return ids

    def set_folder_online(self, path: Path, online: bool) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE folders SET online = ? WHERE path = ?", (int(online), to_db(path)))
            conn.execute(f"UPDATE photos SET online = ? WHERE {_INSIDE}",
                         (int(online), _prefix_pattern(path)))

    # -- photos ----------------------------------------------------------------------------
    def photos(self, under: Path | None = None) -> list[Photo]:
        conn = self.db.connection()
        if under is None:
            rows = conn.execute(f"SELECT {PHOTO_COLUMNS} FROM photos ORDER BY path")
        else:
            rows = conn.execute(f"SELECT {PHOTO_COLUMNS} FROM photos WHERE {_INSIDE} "
                                "ORDER BY path", (_prefix_pattern(under),))
        return [_photo(r) for r in rows]

    def photo_rows(self) -> list[PhotoRow]:
        """Every photo as a plain row (see ``PhotoRow``), ordered by path."""
        cursor = self.db.connection().cursor()
        cursor.row_factory = None  # plain tuples: no Row objects to make
        rows: list[PhotoRow] = cursor.execute(
            f"SELECT {PHOTO_COLUMNS} FROM photos ORDER BY path").fetchall()
        # the rare name stored as raw bytes (see pathcodec) comes back as text like the rest
        return [row if isinstance(row[1], str) else (row[0], text_from_db(row[1]), *row[2:])
                for row in rows]

    def photo_by_path(self, path: Path) -> Photo | None:
        row = self.db.connection().execute(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE path = ?", (to_db(path),)).fetchone()
        return _photo(row) if row else None

    def photos_by_ids(self, ids: Iterable[int]) -> dict[int, Photo]:
        rows = self._rows_with_ids(f"SELECT {PHOTO_COLUMNS} FROM photos WHERE id IN ({{marks}})",
                                   ids)
        return {row["id"]: _photo(row) for row in rows}

    def _rows_with_ids(self, query: str, ids: Iterable[int], *params: object
                       ) -> Iterator[sqlite3.Row]:
        """The rows of ``query`` for photo ``ids``, its ``IN ({marks})`` filled a few hundred ids
        at a time (SQLite caps the parameters of one statement); ``params`` come first."""
        wanted = [int(i) for i in ids]
        conn = self.db.connection()
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start:start + _IDS_PER_QUERY]
            yield from conn.execute(query.format(marks=",".join("?" * len(chunk))),
                                    (*params, *chunk))

    def photos_by_hash(self, content_hash: str) -> list[Photo]:
        """The photos holding this content (a "not a duplicate" decision is by content)."""
        rows = self.db.connection().execute(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE content_hash = ?", (content_hash,))
        return [_photo(r) for r in rows]

    def stat_map(self, under: Path) -> dict[str, tuple[int, int, int]]:
        """path → (id, size, mtime_ns) for every photo under a folder: the fast unchanged check."""
        rows = self.db.connection().execute(
            f"SELECT id, path, size, mtime_ns FROM photos WHERE {_INSIDE}",
            (_prefix_pattern(under),))
        return {text_from_db(r["path"]): (r["id"], r["size"], r["mtime_ns"]) for r in rows}

    def upsert_photo(self, conn: sqlite3.Connection, path: Path, size: int, mtime_ns: int,
                     content_hash: str | None, info: ImageInfo | None,
                     fingerprint: bytes | None, error: str | None) -> int:
        """Insert or refresh one file's row inside the caller's transaction; returns its id."""
        values = (size, mtime_ns, content_hash,
                  info.width if info else None, info.height if info else None,
                  info.format if info else None, info.date_taken if info else None,
                  info.orientation if info else None, info.camera if info else None,
                  info.exif_fields if info else 0, fingerprint, error)
        row = conn.execute(
            "INSERT INTO photos(path, size, mtime_ns, content_hash, width, height, format, "
            "date_taken, orientation, camera, exif_fields, fingerprint, error, online) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(path) DO UPDATE SET "
            "size=excluded.size, mtime_ns=excluded.mtime_ns, content_hash=excluded.content_hash,"
            " width=excluded.width, height=excluded.height, format=excluded.format, "
            "date_taken=excluded.date_taken, orientation=excluded.orientation, "
            "camera=excluded.camera, exif_fields=excluded.exif_fields, "
            "fingerprint=excluded.fingerprint, error=excluded.error, online=1 RETURNING id",
            (to_db(path), *values)).fetchone()
        return int(row[0])

    def move_photo(self, conn: sqlite3.Connection, photo_id: int, new_path: Path, size: int,
                   mtime_ns: int) -> None:
        conn.execute("DELETE FROM photos WHERE path = ? AND id != ?", (to_db(new_path), photo_id))
        conn.execute("UPDATE photos SET path = ?, size = ?, mtime_ns = ?, online = 1 "
                     "WHERE id = ?", (to_db(new_path), size, mtime_ns, photo_id))

    def delete_photos(self, ids: Sequence[int]) -> None:
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in ids])
            VideoStore.drop_orphans(conn)

    def known_info(self, content_hash: str) -> tuple[ImageInfo | None, bytes | None]:
        """Metadata and fingerprint of another file with the same bytes, to skip decoding."""
        row = self.db.connection().execute(
            "SELECT width, height, format, date_taken, orientation, camera, exif_fields, "
            "fingerprint FROM photos WHERE content_hash = ? AND error IS NULL AND width IS NOT "
            "NULL LIMIT 1", (content_hash,)).fetchone()
        if row is None:
            return None, None
        info = ImageInfo(width=row["width"], height=row["height"], format=row["format"],
                         date_taken=row["date_taken"], orientation=row["orientation"] or 1,
                         camera=row["camera"], exif_fields=row["exif_fields"] or 0)
        return info, row["fingerprint"]

    def fingerprints(self) -> dict[int, bytes]:
        rows = self.db.connection().execute(
            "SELECT id, fingerprint FROM photos WHERE fingerprint IS NOT NULL")
        return {r["id"]: r["fingerprint"] for r in rows}

    def ids_with_stale_fingerprint(self, version: int) -> set[int]:
        """Photos whose stored fingerprint is of another version than ``version`` (its first
        byte), to be computed again."""
        rows = self.db.connection().execute(
            "SELECT id FROM photos WHERE fingerprint IS NOT NULL AND "
            "substr(fingerprint, 1, 1) != ?", (bytes([version]),))
        return {int(r[0]) for r in rows}

    def errors(self) -> list[Photo]:
        rows = self.db.connection().execute(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE error IS NOT NULL ORDER BY path")
        return [_photo(r) for r in rows]

    def counts(self, model_id: str | None) -> tuple[int, int, int]:
        """(photos, photos with a vector for ``model_id``, photos with an error)."""
        conn = self.db.connection()
        total = conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
        errors = conn.execute("SELECT COUNT(*) FROM photos WHERE error IS NOT NULL").fetchone()[0]
        embedded = 0
        if model_id is not None:
            embedded = conn.execute(
                "SELECT COUNT(*) FROM photos p JOIN vectors v ON v.content_hash = p.content_hash"
                " AND v.model_id = ?", (model_id,)).fetchone()[0]
        return int(total), int(embedded), int(errors)

    # -- vectors ---------------------------------------------------------------------------
    def has_vector(self, content_hash: str, model_id: str) -> bool:
        row = self.db.connection().execute(
            "SELECT 1 FROM vectors WHERE content_hash = ? AND model_id = ?",
            (content_hash, model_id)).fetchone()
        return row is not None

    def ids_lacking_vector(self, model_id: str) -> set[int]:
        """Readable photos that have no vector for the model (e.g. after switching models)."""
        rows = self.db.connection().execute(
            "SELECT p.id FROM photos p WHERE p.error IS NULL AND p.content_hash IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.content_hash = p.content_hash "
            "AND v.model_id = ?)", (model_id,))
        return {int(r[0]) for r in rows}

    def put_vector(self, conn: sqlite3.Connection, content_hash: str, model_id: str,
                   vector: np.ndarray) -> None:
        conn.execute("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                     (content_hash, model_id, encode_vector(vector)))

    def vector_for_hash(self, content_hash: str, model_id: str, dim: int) -> np.ndarray | None:
        row = self.db.connection().execute(
            "SELECT vector FROM vectors WHERE content_hash = ? AND model_id = ?",
            (content_hash, model_id)).fetchone()
        if row is None or not self._intact([row[0]], dim).all():
            return None
        vector: np.ndarray = decode_vectors([row[0]], dim)[0]
        return vector

    def embedded_photos(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids int64, vectors float32) of every photo with a vector for the model."""
        rows = self.db.connection().execute(
            "SELECT p.id, v.vector FROM photos p JOIN vectors v ON v.content_hash = "
            "p.content_hash AND v.model_id = ? ORDER BY p.id", (model_id,)).fetchall()
        rows = self._intact_rows(rows, dim)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return ids, decode_vectors([r[1] for r in rows], dim)

    def embedded_hashes(self, model_id: str) -> tuple[np.ndarray, list[str]]:
        """(ids, content hashes) of the photos that have a vector for the model."""
        rows = self.db.connection().execute(
            "SELECT p.id, p.content_hash FROM photos p JOIN vectors v ON v.content_hash = "
            "p.content_hash AND v.model_id = ? ORDER BY p.id", (model_id,)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]

    def vectors_for_ids(self, model_id: str, dim: int, ids: Sequence[int]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) for some photos; ids without a vector are left out."""
        rows = list(self._rows_with_ids(
            "SELECT p.id, v.vector FROM photos p JOIN vectors v ON v.content_hash = "
            "p.content_hash AND v.model_id = ? WHERE p.id IN ({marks})", ids, model_id))
        rows = self._intact_rows(rows, dim)
        return (np.array([r[0] for r in rows], dtype=np.int64),
                decode_vectors([r[1] for r in rows], dim))

    def vectors_and_hashes_for_ids(self, model_id: str, dim: int, ids: Sequence[int]
                                   ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(ids, vectors, content hashes) for some photos; ids without a vector are left out."""
        rows = list(self._rows_with_ids(
            "SELECT p.id, v.vector, p.content_hash FROM photos p JOIN vectors v ON "
            "v.content_hash = p.content_hash AND v.model_id = ? WHERE p.id IN ({marks})",
            ids, model_id))
        rows = self._intact_rows(rows, dim)
        return (np.array([r[0] for r in rows], dtype=np.int64),
                decode_vectors([r[1] for r in rows], dim), [r[2] for r in rows])

    def _intact(self, blobs: Sequence[bytes], dim: int) -> np.ndarray:
        intact = intact_vectors(blobs, dim)
        if not intact.all():
            log.warning("%d stored vector(s) in %s are damaged (checksum); they are left out "
                        "and computed again by the next index run",
                        int((~intact).sum()), self.db.path)
        return intact

    def _intact_rows(self, rows: list[Any], dim: int) -> list[Any]:
        """The rows whose vector (column 1) is intact; damaged ones count as missing."""
        intact = self._intact([r[1] for r in rows], dim)
        return rows if intact.all() else [r for r, ok in zip(rows, intact, strict=True) if ok]

    def drop_damaged_vectors(self, model_id: str, dim: int) -> int:
        """Delete the model's stored vectors that fail their checksum (so that indexing
        computes them again); returns how many. Reads every vector: one indexing pass."""
        damaged: list[str] = []
        cursor = self.db.connection().execute(
            "SELECT content_hash, vector FROM vectors WHERE model_id = ?", (model_id,))
        while batch := cursor.fetchmany(_DECODE_ROWS):
            intact = intact_vectors([r[1] for r in batch], dim)
            damaged += [r[0] for r, ok in zip(batch, intact, strict=True) if not ok]
        if damaged:
            with self.db.transaction() as conn:
                conn.executemany("DELETE FROM vectors WHERE content_hash = ? AND model_id = ?",
                                 [(h, model_id) for h in damaged])
        return len(damaged)

    def claim_unkeyed_vectors(self, model_id: str, vector_key: str, adopt: bool) -> int:
        """Once per model id: vectors stored under the bare ``model_id`` (before vectors were
        keyed by the model file's content) move to ``vector_key`` when ``adopt`` (the file is
        the one the spec pins, so no other file can have made them), else they are deleted
        (no one can tell which file made them; indexing computes them again). Their class
        guesses, cluster state and video frame vectors go the same way. Returns how many
        vectors moved or went.

        A marker in ``settings`` makes later opens free: the statements scan the tables."""
        if self.read_only or not self.unkeyed_vectors_wait(model_id, vector_key):
            return 0
        tables = ("vectors", "classes", "cluster_state", "video_frames")  # keyed by model_id
        with self.db.transaction() as conn:
            changed = 0
            for table in tables:
                if adopt:  # OR IGNORE: a row already under the new key wins
                    count = conn.execute(f"UPDATE OR IGNORE {table} SET model_id = ? "
                                         "WHERE model_id = ?", (vector_key, model_id)).rowcount
                    changed += count if table == "vectors" else 0
                count = conn.execute(f"DELETE FROM {table} WHERE model_id = ?",
                                     (model_id,)).rowcount
                changed += count if table == "vectors" else 0
            conn.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                         (_claimed_marker(model_id), vector_key))
        return changed

    def unkeyed_vectors_wait(self, model_id: str, vector_key: str) -> bool:
        """Whether ``claim_unkeyed_vectors`` has still to run for ``model_id`` and finds
        vectors under the bare id: a reader, which may not claim them, then reads them under
        that id, as the photosim that stored them did, until a writer opens the library."""
        if vector_key == model_id or self.get_setting(_claimed_marker(model_id)) is not None:
            return False
        row = self.db.connection().execute(
            "SELECT 1 FROM vectors WHERE model_id = ? LIMIT 1", (model_id,)).fetchone()
        return row is not None

    def drop_orphan_vectors(self) -> int:
        """Forget vectors whose content no longer exists in the library (kept: content of
        trashed files, which ``undo`` may bring back)."""
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM vectors WHERE content_hash NOT IN "
                               "(SELECT content_hash FROM photos WHERE content_hash IS NOT NULL) "
                               "AND content_hash NOT IN (SELECT content_hash FROM action_items "
                               "WHERE content_hash IS NOT NULL)")
            return cur.rowcount

    # -- nearest neighbours (photosim/core/duplicates/neighbours.py) ---------------------
    def neighbour_lists(self, search_key: str
                        ) -> list[tuple[int, str, bytes, bytes, bytes, bytes]]:
        """(photo id, content hash, ids, sims, gates, checks) of each stored list for the key
        (photosim/core/duplicates/neighbours.py)."""
        rows = self.db.connection().execute(
            "SELECT photo_id, content_hash, ids, sims, gates, checks FROM neighbours "
            "WHERE search_key = ?", (search_key,)).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def put_neighbour_lists(self, search_key: str,
                            lists: Sequence[tuple[int, str, bytes, bytes, bytes, bytes]]
                            ) -> None:
        """Store (photo id, content hash, ids, sims, gates, checks) lists; lists for another
        key (a previous model or search setting) are dropped."""
        if self.read_only:
            return
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM neighbours WHERE search_key != ?", (search_key,))
            conn.executemany(
                "INSERT OR REPLACE INTO neighbours SELECT ?, ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM photos WHERE id = ?)",
                [(photo, search_key, content, ids, sims, gates, checks, photo)
                 for photo, content, ids, sims, gates, checks in lists])

    def pixel_verdicts(self, valid_for: str
                       ) -> list[tuple[str, str, int | None, float, int, bool]]:
        """(hash a, hash b, level or None, score, framing, mirrored) stored for the key;
        framing: 0 for the same framing, above for a reframed copy (the duplicate search
        tells which side is the crop with it)."""
        rows = self.db.connection().execute(
            "SELECT hash_a, hash_b, level, score, reframed, mirrored FROM pixel_verdicts "
            "WHERE valid_for = ?", (valid_for,)).fetchall()
        return [(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5])) for r in rows]

    def put_pixel_verdicts(self, valid_for: str,
                           verdicts: Sequence[tuple[str, str, int | None, float, int, bool]]
                           ) -> None:
        """Store verdicts for the key; those for other keys, or for contents the library no
        longer holds, are dropped."""
        if self.read_only:
            return
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM pixel_verdicts WHERE valid_for != ?", (valid_for,))
            conn.execute("DELETE FROM pixel_verdicts WHERE NOT EXISTS (SELECT 1 FROM photos "
                         "WHERE content_hash = hash_a) OR NOT EXISTS (SELECT 1 FROM photos "
                         "WHERE content_hash = hash_b)")
            conn.executemany("INSERT OR REPLACE INTO pixel_verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(a, b, valid_for, level, score, int(reframed), int(mirrored))
                              for a, b, level, score, reframed, mirrored in verdicts])

    def drop_pixel_evidence(self) -> None:
        """Forget every neighbour list and pixel verdict: both were derived from fingerprints
        that are being replaced; the duplicate finder finds them again when it needs them."""
        if self.read_only:
            return
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM neighbours")
            conn.execute("DELETE FROM pixel_verdicts")

    def fingerprints_of(self, ids: Sequence[int]) -> dict[int, bytes]:
        """Fingerprints of some photos (those that have one)."""
        return {r[0]: r[1] for r in self._rows_with_ids(
            "SELECT id, fingerprint FROM photos WHERE id IN ({marks}) AND fingerprint IS NOT "
            "NULL", ids)}

    # -- class guesses and clusters ------------------------------------------------------------
    def put_classes(self, conn: sqlite3.Connection, content_hash: str, model_id: str,
                    class_ids: np.ndarray, probs: np.ndarray) -> None:
        conn.execute("INSERT OR REPLACE INTO classes VALUES (?, ?, ?, ?)",
                     (content_hash, model_id, np.asarray(class_ids, np.int16).tobytes(),
                      np.asarray(probs, np.float32).tobytes()))

    def photo_classes(self, model_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(photo ids, class ids (n, k) int16, probabilities (n, k) float32)."""
        rows = self.db.connection().execute(
            "SELECT p.id, c.class_ids, c.probs FROM photos p JOIN classes c ON c.content_hash ="
            " p.content_hash AND c.model_id = ? ORDER BY p.id", (model_id,)).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.int16), np.zeros((0, 0), np.float32)
        ids = np.array([r[0] for r in rows], np.int64)
        class_ids = np.stack([np.frombuffer(r[1], np.int16) for r in rows])
        probs = np.stack([np.frombuffer(r[2], np.float32) for r in rows])
        return ids, class_ids, probs

    def classes_of(self, model_id: str, ids: Sequence[int]
                   ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Photo id → (class ids int16 (k,), probabilities float32 (k,)) for those of ``ids``
        that have class guesses for the model."""
        return {r[0]: (np.frombuffer(r[1], np.int16), np.frombuffer(r[2], np.float32))
                for r in self._rows_with_ids(
                    "SELECT p.id, c.class_ids, c.probs FROM photos p JOIN classes c ON "
                    "c.content_hash = p.content_hash AND c.model_id = ? WHERE p.id IN ({marks})",
                    ids, model_id)}

    def cluster_state(self, model_id: str, granularity: float) -> bytes | None:
        row = self.db.connection().execute(
            "SELECT state FROM cluster_state WHERE model_id = ? AND granularity = ?",
            (model_id, granularity)).fetchone()
        return bytes(row[0]) if row else None

    def save_cluster_state(self, model_id: str, granularity: float, state: bytes) -> None:
        if self.read_only:
            return
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO cluster_state VALUES (?, ?, ?)",
                         (model_id, granularity, state))

    # -- decisions -------------------------------------------------------------------------
    def add_not_duplicate(self, hashes: Sequence[str]) -> None:
        pairs = [(a, b) for i, a in enumerate(sorted(hashes)) for b in sorted(hashes)[i + 1:]
                 if a != b]
        with self.db.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO not_duplicates VALUES (?, ?)", pairs)

    def not_duplicate_pairs(self) -> set[frozenset[str]]:
        rows = self.db.connection().execute("SELECT hash_a, hash_b FROM not_duplicates")
        return {frozenset((r[0], r[1])) for r in rows}

    def remove_not_duplicate(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Forget "not a duplicate" decisions (stored with the smaller hash first)."""
        rows = [(min(a, b), max(a, b)) for a, b in pairs]
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM not_duplicates WHERE hash_a = ? AND hash_b = ?", rows)

    # -- action log ------------------------------------------------------------------------
    def record_action(self, kind: str, items: Sequence[ActionItem]) -> int:
        with self.db.transaction() as conn:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            action_id = int(conn.execute("INSERT INTO actions(at, kind) VALUES (?, ?) "
                                         "RETURNING id", (now, kind)).fetchone()[0])
            conn.executemany(
                "INSERT INTO action_items VALUES (?, ?, ?, ?, ?, ?)",
                [(action_id, to_db(i.original_path),
                  to_db(i.trash_path) if i.trash_path else None,
                  i.size, i.mtime_ns, i.content_hash) for i in items])
        return action_id

    def actions(self) -> list[ActionRecord]:
        conn = self.db.connection()
        records = []
        for row in conn.execute("SELECT id, at, kind, undone FROM actions ORDER BY id DESC"):
            items = tuple(
                ActionItem(from_db(i["original_path"]),
                           from_db(i["trash_path"]) if i["trash_path"] else None,
                           i["size"], i["mtime_ns"], i["content_hash"])
                for i in conn.execute("SELECT * FROM action_items WHERE action_id = ?",
                                      (row["id"],)))
            records.append(ActionRecord(row["id"], row["at"], row["kind"], bool(row["undone"]),
                                        items))
        return records

    def mark_undone(self, action_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE actions SET undone = 1 WHERE id = ?", (action_id,))

    # -- scan problems ---------------------------------------------------------------------
    def replace_scan_problems(self, roots: Sequence[Path],
                              problems: Sequence[tuple[Path, str]]) -> None:
        """A finished scan of ``roots`` found these: earlier ones under them are forgotten."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.transaction() as conn:
            for root in roots:
                conn.execute(f"DELETE FROM scan_problems WHERE path = ? OR {_INSIDE}",
                             (to_db(root), _prefix_pattern(root)))
            self._put_scan_problems(conn, problems, now)

    def add_scan_problems(self, problems: Sequence[tuple[Path, str]]) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.transaction() as conn:
            self._put_scan_problems(conn, problems, now)

    @staticmethod
    def _put_scan_problems(conn: sqlite3.Connection, problems: Sequence[tuple[Path, str]],
                           now: str) -> None:
        conn.executemany("INSERT OR REPLACE INTO scan_problems VALUES (?, ?, ?)",
                         [(to_db(path), reason, now) for path, reason in problems])

    def scan_problems(self) -> list[tuple[Path, str]]:
        rows = self.db.connection().execute(
            "SELECT path, reason FROM scan_problems ORDER BY path")
        return [(from_db(r["path"]), str(r["reason"])) for r in rows]

    # -- settings --------------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        row = self.db.connection().execute(
            "SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))


def _prefix_pattern(folder: Path) -> str | bytes:
    """A LIKE pattern matching every path strictly inside ``folder`` (raw bytes when the
    folder's name is not UTF-8; SQLite's LIKE compares the bytes)."""
    inside = to_db(str(folder).rstrip(os.sep) + os.sep)
    if isinstance(inside, bytes):
        return inside.replace(b"\\", b"\\\\").replace(b"%", b"\\%").replace(b"_", b"\\_") + b"%"
    return inside.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
