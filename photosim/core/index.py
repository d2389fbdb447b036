"""The vector index: approximate nearest neighbours over photo embeddings (hnswlib, cosine).

Memory design (measured in benchmarks/index_bench.py, decided for 1M photos of 2048-d vectors,
where float32 vectors alone would take 8 GB):

* The HNSW graph holds each vector projected onto its top ``REDUCED_DIM`` principal axes (fitted
  on the library's own vectors, uncentred so that dot products are what is preserved) once the
  index holds more than ``REDUCE_ABOVE`` photos; below that, it holds the full vectors.
* The full vectors live as float16 rows in immutable "segment" files, read a row at a time for
  re-ranking (the operating system's page cache keeps the hot ones; the process holds none).
  Memory-mapping them was measured and dropped: the kernel's fault-around mapped the whole 4 GB
  file into the process after a few hundred queries, which every task manager shows as ours.
  Vectors added since the last save sit in memory until ``save`` writes them as one more segment
  (or, past ``SPILL_ROWS``, a spill does).
* A query takes ``rerank_candidates(k)`` candidates from the graph and re-ranks them by the exact
  cosine of the full vectors, so scores are always those of the full vectors.

On disk an index is a folder holding ``header.json`` and the files it names. Files get a fresh
name when written and are never changed afterwards; the header is replaced last, atomically, so a
reader sees the previous index or the new one. The header records each file's size, and a CRC-32
for the graph and small files, checked before hnswlib parses a byte (hnswlib trusts its input and
could crash on garbage). Each segment has a sidecar of one CRC-32 per row (``<segment>.crc``),
checked on every read of a row: a damaged row is never used; it is fetched again from the
``repair`` source (the catalog, which holds every vector) or, lacking one, its photo is dropped.

Each live id also records a 64-bit key of the content it was embedded from (``content_key``), so
that a caller can find entries made from bytes the catalog no longer has (``stale_ids``).
"""

from __future__ import annotations

import errno
import functools
import io
import json
import logging
import os
import secrets
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import numpy.typing as npt

from photosim.core.fsutil import atomic_write_bytes, atomic_write_via

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 3: row checksums and content keys
HEADER_NAME = "header.json"

# Chosen by measurement (benchmarks/index_bench.py; figures in its docstring). At 100k clustered
# 2048-d vectors, recall@10 was 0.941 with 128 dims, 0.960 with 192 and 0.975 with 256; wider
# beams (ef 200) or deeper re-ranking (10k candidates) gained under 0.01 for 1-2x query CPU.
# 192 dims keep a 1M-photo graph near 0.9 GB.
M = 16
EF_CONSTRUCTION = 100
EF_SEARCH = 80
REDUCE_ABOVE = 20_000  # below this many photos the graph holds full vectors (< 200 MB)
REDUCED_DIM = 192
PCA_SAMPLE = 20_000  # vectors used to fit the projection
MAX_SEGMENTS = 16  # more segment files than this are merged at save
SPILL_ROWS = 131_072  # unsaved rows beyond this go to a segment file (512 MB at 2048-d)
GARBAGE_SHARE = 0.3  # rewrite the segments when this share of their rows is replaced/removed

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]
# (photo ids) -> (ids, vectors, content keys) for those still known: how damaged rows are healed.
RepairSource = Callable[[list[int]], tuple[IdArray, FloatArray, IdArray]]

# hnswlib's file header: offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (size_t); maxlevel (int); enterpoint (uint); maxM, maxM0, M (size_t);
# mult (double); ef_construction (size_t). Then the level-0 block, then per element a uint32
# byte count and that many bytes of upper-level links.
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_CRC_CHUNK = 1 << 22
_ROW_CHUNK = 65_536


RERANK_FACTOR = 4
RERANK_MIN = 64
# A bulk query batch this large is visited region by region (see ``locality_order``): at 100k
# photos, hnswlib's search took 45 % less CPU time that way and the in-memory re-ranking half.
LOCALITY_ABOVE = 4096
LOCALITY_CELLS = 1024
LOCALITY_DIMS = 32


def content_key(content_hash: str | None) -> int:
    """The key an entry records for the bytes it was embedded from: the first 63 bits of the
    content hash (hex); 0 when unknown."""
    if not content_hash:
        return 0
    try:
        return int(content_hash[:16], 16) >> 1
    except ValueError:
        return 0


def content_keys(hashes: Sequence[str | None]) -> IdArray:
    return np.fromiter((content_key(h) for h in hashes), np.int64, len(hashes))


def rerank_candidates(k: int) -> int:
    """How many graph candidates are re-ranked by full vectors to return ``k`` results."""
    return max(RERANK_FACTOR * k, RERANK_MIN)


class VectorIndex:
    """Photo ids and their L2-normalised vectors; find the nearest by cosine similarity.

    Thread-safe: one lock serialises changes and queries (a query takes about a millisecond).
    """

    def __init__(self, dim: int, model_id: str, capacity: int = 1024, *,
                 reduce_above: int | None = None, reduced_dim: int | None = None) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, not {dim}")
        self.dim = dim
        self.model_id = model_id
        self._reduce_above = REDUCE_ABOVE if reduce_above is None else reduce_above
        self._reduced_dim = min(REDUCED_DIM if reduced_dim is None else reduced_dim, dim)
        self._lock = threading.RLock()
        self._store = _VectorStore(dim)
        self._slot_of: dict[int, int] = {}  # live photo id -> row in the store
        self._key_of: dict[int, int] = {}  # live photo id -> content key (0: unknown)
        self.repair: RepairSource | None = None  # where damaged rows are fetched again from
        self.damaged_rows = 0  # rows found damaged (and healed or dropped) since opened
        self.healed_rows = 0  # of those, rows fetched again from ``repair``
        self._graph_deleted: set[int] = set()  # ids the graph still holds, marked deleted
        self._projection: FloatArray | None = None  # (dim, reduced_dim) once reduced
        self._folder: Path | None = None  # where it was last saved or loaded from
        self._graph = _new_graph(dim, "cosine", capacity)

    # ----------------------------------------------------------------- changes

    def add(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray,
            keys: Sequence[int] | np.ndarray | None = None) -> None:
        """Add or replace vectors; re-adding an id (even a removed one) replaces its vector.

        ``keys`` are the content keys (``content_key``) the vectors were made from."""
        key_array = np.zeros(len(ids), np.int64) if keys is None else \
            np.asarray(keys, np.int64).reshape(-1)
        if len(key_array) != len(ids):
            raise ValueError(f"expected {len(ids)} content keys, got {len(key_array)}")
        id_array, vector_array, key_array = _checked_batch(ids, vectors, self.dim, key_array)
        if id_array.size == 0:
            return
        with self._lock:
            for id_chunk, vector_chunk in _chunks(id_array, vector_array):
                self._add_chunk(id_chunk, vector_chunk)
            self._key_of.update(zip(id_array.tolist(), key_array.tolist(), strict=True))
            if self._projection is None and len(self._slot_of) > self._reduce_above:
                self._switch_to_reduced()

    def _add_chunk(self, ids: IdArray, vectors: FloatArray) -> None:
        self._store.garbage += sum(1 for i in ids.tolist() if i in self._slot_of)
        slots = self._store.append(vectors)
        if self._store.tail_rows() > SPILL_ROWS and self._folder is not None:
            # A long first indexing run must not hold every new vector in memory until it saves.
            self._store.persist(self._folder)
        self._reserve(ids)
        self._graph.add_items(self._graph_vectors(vectors), ids.astype(np.uint64))
        for photo_id, slot in zip(ids.tolist(), slots.tolist(), strict=True):
            self._slot_of[photo_id] = slot
        self._graph_deleted.difference_update(ids.tolist())

    def remove(self, ids: Iterable[int]) -> None:
        """Forget these ids; ids not in the index are ignored."""
        with self._lock:
            for photo_id in {int(i) for i in ids} & self._slot_of.keys():
                self._graph.mark_deleted(photo_id)
                del self._slot_of[photo_id]
                self._key_of.pop(photo_id, None)
                self._graph_deleted.add(photo_id)
                self._store.garbage += 1

    def _reserve(self, ids: IdArray) -> None:
        """Grow the graph's capacity geometrically so that ``ids`` fit."""
        new_labels = sum(1 for i in ids.tolist()
                         if i not in self._slot_of and i not in self._graph_deleted)
        needed = self._graph.element_count + new_labels
        capacity = self._graph.max_elements
        if needed > capacity:
            self._graph.resize_index(max(needed, capacity * 2))

    def _graph_vectors(self, vectors: FloatArray) -> FloatArray:
        if self._projection is None:
            return vectors
        return np.ascontiguousarray(vectors @ self._projection)

    def _switch_to_reduced(self) -> None:
        """Fit the projection on the vectors held so far and rebuild the graph with it."""
        ids = np.fromiter(self._slot_of.keys(), np.int64, len(self._slot_of))
        slots = np.fromiter(self._slot_of.values(), np.int64, len(self._slot_of))
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(slots, size=min(len(slots), PCA_SAMPLE), replace=False))
        self._use_projection(fit_projection(self._store.rows(sample)[0], self._reduced_dim),
                             len(ids))
        for start in range(0, len(ids), _ROW_CHUNK):
            part = slice(start, start + _ROW_CHUNK)
            vectors = self._store.rows(slots[part])[0]  # a damaged row is healed at its next read
            self._graph.add_items(self._graph_vectors(vectors), ids[part].astype(np.uint64))
        log.info("vector index reduced to %d dimensions at %d photos",
                 self._reduced_dim, len(ids))

    def _use_projection(self, projection: FloatArray, capacity: int) -> None:
        """Start an empty graph over projected vectors (the caller fills it)."""
        self._projection = projection
        self._graph = _new_graph(self._reduced_dim, "ip", capacity)
        self._graph_deleted = set()

    # ----------------------------------------------------------------- queries

    def query(
        self, vector: np.ndarray, k: int, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest live ids to ``vector`` with their cosine similarity, best first."""
        query = _checked_vectors(vector, self.dim, rows=1)
        with self._lock:
            excluded = {int(i) for i in exclude} & self._slot_of.keys()
            wanted = min(k, len(self._slot_of) - len(excluded))
            if wanted <= 0:
                return []
            candidates = self._candidates(self._graph_vectors(query),
                                          rerank_candidates(wanted) + len(excluded))[0]
            candidates = np.array([c for c in candidates.tolist() if c not in excluded], np.int64)
            ids, sims = self._rerank(query[0], candidates, wanted)
        return [(int(i), float(s)) for i, s in zip(ids, sims, strict=True)]

    def neighbourhood(self, vector: np.ndarray, count: int, exclude: Collection[int] = ()
                      ) -> tuple[IdArray, FloatArray]:
        """The ``count`` nearest live ids to ``vector`` by exact cosine, with their full
        vectors (float32, best first): the pool a re-ranking (core/ranking.py) orders."""
        query = _checked_vectors(vector, self.dim, rows=1)
        with self._lock:
            excluded = {int(i) for i in exclude} & self._slot_of.keys()
            wanted = min(count, len(self._slot_of) - len(excluded))
            if wanted <= 0:
                return np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32)
            # The pool itself is the re-ranking depth: as many graph candidates, no more rows
            # read than a plain query of k = count / RERANK_FACTOR would read.
            candidates = self._candidates(self._graph_vectors(query),
                                          max(wanted, RERANK_MIN) + len(excluded))[0]
            candidates = np.array([c for c in candidates.tolist() if c not in excluded], np.int64)
            ids, full = self._full_rows(candidates)
            sims = full @ query[0] / np.maximum(np.linalg.norm(full, axis=1), 1e-12)
            order = np.argsort(-sims, kind="stable")[:wanted]
            return ids[order], np.asarray(full[order], np.float32)

    def query_batch(self, vectors: np.ndarray, k: int,
                    known: tuple[IdArray, FloatArray] | None = None,
                    candidates: int | None = None, ef: int | None = None
                    ) -> tuple[IdArray, FloatArray]:
        """Nearest ids and similarities per row, best first; padded with -1 (ids and scores)
        where the index holds fewer than ``k`` photos.

        ``known`` — (ids sorted ascending, their full vectors) — lets a caller that already
        holds every vector in memory (duplicate search over the whole library) have the
        candidates re-ranked in bulk instead of reading them back from disk per query.
        ``candidates`` and ``ef`` trade recall for speed (defaults: the tuned values); a bulk
        search for near-duplicates, which sit very close together, can afford a narrow beam.
        """
        queries = _checked_vectors(vectors, self.dim)
        ids = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
        sims = np.full((len(queries), max(k, 0)), -1.0, dtype=np.float32)
        with self._lock:
            wanted = min(k, len(self._slot_of))
            if wanted <= 0 or len(queries) == 0:
                return ids, sims
            projected = self._graph_vectors(queries)
            order = self._visiting_order(projected)
            pool = np.empty((len(queries), min(max(candidates or rerank_candidates(wanted),
                                                   wanted), len(self._slot_of))), np.int64)
            pool[order] = self._candidates(projected[order], pool.shape[1], ef)
            if known is not None:
                found, scores = _rerank_in_memory(queries, pool, wanted, *known, order=order)
                ids[:, :wanted], sims[:, :wanted] = found, scores
                return ids, sims
            for row in order.tolist():
                found, scores = self._rerank(queries[row], pool[row], wanted)
                ids[row, :wanted], sims[row, :wanted] = found, scores
        return ids, sims

    def _visiting_order(self, projected: FloatArray) -> IdArray:
        """The order in which a batch of queries is searched and re-ranked: by region of the
        space when the batch is large, so neighbouring queries find the same parts of the graph
        and the same candidate vectors still in the CPU cache (benchmarks/dedup_scale.py)."""
        if len(projected) < LOCALITY_ABOVE or self._projection is None:
            return np.arange(len(projected), dtype=np.int64)
        # The projection's leading axes carry most of the variance: enough to tell regions.
        return locality_order(projected[:, :LOCALITY_DIMS])

    def _candidates(self, projected: FloatArray, k: int, ef: int | None = None) -> IdArray:
        """hnswlib's nearest labels for queries already in the graph's space, retried with a
        wider beam when deletions starve it."""
        k = min(k, len(self._slot_of))
        projected = np.ascontiguousarray(projected)
        ef = max(ef or EF_SEARCH, k)
        while True:
            self._graph.set_ef(ef)
            try:
                labels, _ = self._graph.knn_query(projected, k=k)
                return labels.astype(np.int64)  # type: ignore[no-any-return]
            except RuntimeError:
                # Too few live neighbours reached; only a graph full of deletions does this.
                if ef >= self._graph.element_count:
                    raise
                ef = min(ef * 4, self._graph.element_count)
            finally:
                self._graph.set_ef(EF_SEARCH)

    def _rerank(self, query: FloatArray, candidates: IdArray, k: int) -> tuple[IdArray, FloatArray]:
        """The best ``k`` candidates by exact cosine of their full vectors."""
        candidates, full = self._full_rows(candidates)
        norms = np.linalg.norm(full, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
        sims = (full @ query) / np.maximum(norms, 1e-12)
        order = np.argsort(-sims, kind="stable")[:k]
        return candidates[order], sims[order].astype(np.float32)

    def _full_rows(self, ids: IdArray) -> tuple[IdArray, FloatArray]:
        """The full vectors of live ``ids`` (and the ids kept): a row whose checksum fails is
        replaced by the repair source's vector, or its id dropped when there is none."""
        if self.damaged_rows:  # a row dropped earlier in this batch is no candidate any more
            ids = np.array([i for i in ids.tolist() if i in self._slot_of], np.int64)
        slots = np.array([self._slot_of[i] for i in ids.tolist()], np.int64)
        full, intact = self._store.rows(slots)
        if intact.all():
            return ids, full
        damaged = ids[~intact]
        self.damaged_rows += len(damaged)
        log.warning("vector index: %d damaged row(s) found (checksum); %s", len(damaged),
                    "fetched again from the catalog" if self.repair else "dropped")
        self.remove(damaged.tolist())
        if self.repair is not None:
            healed_ids, vectors, keys = self.repair(damaged.tolist())
            if len(healed_ids):
                self.healed_rows += len(healed_ids)
                self.add(healed_ids, vectors, keys)
                by_id = dict(zip(np.asarray(healed_ids).tolist(), range(len(healed_ids)),
                                 strict=True))
                for position in np.flatnonzero(~intact).tolist():
                    row = by_id.get(int(ids[position]))
                    if row is not None:
                        full[position] = vectors[row]
                        intact[position] = True
        return ids[intact], full[intact]

    def verify(self) -> int:
        """Check the checksum of every live row (reads them all, a chunk at a time, so that
        queries go on in between); a damaged row is healed or dropped as on any read, and
        is written again by the next ``save``. Returns how many rows were damaged."""
        with self._lock:
            before = self.damaged_rows
            table = self._slot_table()
        order = table[np.argsort(table[:, 1], kind="stable"), 0]  # in file order
        for start in range(0, len(order), _ROW_CHUNK):
            with self._lock:
                live = [i for i in order[start:start + _ROW_CHUNK].tolist() if i in self._slot_of]
                self._full_rows(np.array(live, np.int64))
        return self.damaged_rows - before

    def vectors(self, ids: Sequence[int] | np.ndarray) -> tuple[IdArray, FloatArray]:
        """The full vectors this index holds for those of ``ids`` it holds (checked rows)."""
        with self._lock:
            held = np.array([i for i in np.asarray(ids, np.int64).tolist() if i in self._slot_of],
                            np.int64)
            return self._full_rows(held)

    def saved_in(self, folder: Path) -> bool:
        """Whether this index was loaded from or last saved to ``folder``."""
        return self._folder is not None and self._folder == folder

    def content_key_of(self, photo_id: int) -> int | None:
        with self._lock:
            return self._key_of.get(int(photo_id)) if photo_id in self._slot_of else None

    def stale_ids(self, ids: IdArray, keys: IdArray) -> IdArray:
        """Of ``ids`` (with the content keys the catalog has for them), those this index holds
        with a vector made from other content, or from content it does not know (key 0)."""
        with self._lock:
            held = np.fromiter((self._key_of.get(i, -1) if i in self._slot_of else -2
                                for i in ids.tolist()), np.int64, len(ids))
        picked: IdArray = np.asarray(ids, np.int64)[(held != -2) & (held != keys)]
        return picked

    def ids(self) -> IdArray:
        with self._lock:
            return np.sort(np.fromiter(self._slot_of.keys(), np.int64, len(self._slot_of)))

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, photo_id: object) -> bool:
        return isinstance(photo_id, int | np.integer) and int(photo_id) in self._slot_of

    # ------------------------------------------------------------- persistence

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` atomically; the previous index stays valid until then.

        Raises ``OSError`` when the disk refuses the write (e.g. it is full).
        """
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            self._compact_if_wasteful(folder)
            self._store.persist(folder)
            self._folder = folder
            token = secrets.token_hex(6)
            files = {"graph": folder / f"graph-{token}.hnsw",
                     "slots": folder / f"slots-{token}.npy"}
            atomic_write_via(files["graph"], self._write_graph)
            atomic_write_bytes(files["slots"], _npy_bytes(self._slot_table()))
            if self._projection is not None:
                files["projection"] = folder / f"projection-{token}.npy"
                atomic_write_bytes(files["projection"], _npy_bytes(self._projection))
            described = {name: _describe(path) for name, path in files.items()}
            header = self._header(described)
            atomic_write_bytes(folder / HEADER_NAME, json.dumps(header, indent=1).encode())
            keep = {p.name for p in files.values()} | self._store.file_names()
        _remove_unreferenced(folder, keep)

    def _header(self, files: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "model_id": self.model_id,
            "dim": self.dim,
            "count": len(self._slot_of),
            "graph": {"space": "ip" if self._projection is not None else "cosine",
                      "M": M, "ef_construction": EF_CONSTRUCTION},
            "projection": None if self._projection is None else {
                "kind": "pca-uncentred", "dim": self._reduced_dim, "file": files["projection"]},
            "files": files,
            "segments": self._store.describe(),
        }

    def _slot_table(self) -> IdArray:
        """(n, 3) of live id, store row and content key, the one source of which ids are live."""
        table = np.empty((len(self._slot_of), 3), np.int64)
        table[:, 0] = np.fromiter(self._slot_of.keys(), np.int64, len(self._slot_of))
        table[:, 1] = np.fromiter(self._slot_of.values(), np.int64, len(self._slot_of))
        table[:, 2] = np.fromiter((self._key_of.get(i, 0) for i in self._slot_of),
                                  np.int64, len(self._slot_of))
        return table

    def _write_graph(self, path: Path) -> None:
        self._graph.save_index(str(path))
        # hnswlib writes through an unchecked ofstream: a full disk yields a short file silently.
        try:
            _check_hnsw_layout(path)
        except _Unusable as error:
            raise OSError(errno.EIO, f"the index could not be written completely ({error}); "
                          "is the disk full?", str(path)) from None

    def _compact_if_wasteful(self, folder: Path) -> None:
        """Rewrite the vector rows when replaced/removed rows or segment files pile up."""
        store = self._store
        if store.garbage <= GARBAGE_SHARE * max(store.row_count, 1) and \
                len(store.segments) <= MAX_SEGMENTS:
            return
        table = self._slot_table()
        table = table[np.argsort(table[:, 1], kind="stable")]  # read the rows in file order
        # Damaged rows are healed by this read (they move to the tail) or dropped, so re-read
        # the table after it before the rewrite.
        for start in range(0, len(table), _ROW_CHUNK):
            self._full_rows(table[start:start + _ROW_CHUNK, 0])
        table = self._slot_table()
        table = table[np.argsort(table[:, 1], kind="stable")]
        new_slots = store.compact(table[:, 1], folder)
        self._slot_of = dict(zip(table[:, 0].tolist(), new_slots.tolist(), strict=True))

    @classmethod
    def load(cls, folder: Path, model_id: str, dim: int) -> VectorIndex | None:
        """The index saved in ``folder``, or ``None`` when it is absent or unusable for this model.

        ``None`` means "rebuild from the catalog"; the reason is logged.
        """
        try:
            return cls._load(folder, model_id, dim)
        except _Unusable as reason:
            log.info("vector index in %s not used: %s", folder, reason)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, MemoryError) as error:
            log.warning("vector index in %s could not be read: %s", folder, error)
        return None

    @classmethod
    def _load(cls, folder: Path, model_id: str, dim: int) -> VectorIndex:
        header = _read_header(folder / HEADER_NAME)
        _expect(header.get("format") == FORMAT_VERSION, f"format {header.get('format')!r}")
        _expect(header.get("model_id") == model_id, f"made by model {header.get('model_id')!r}")
        _expect(header.get("dim") == dim, f"dimension {header.get('dim')!r}, expected {dim}")
        files = header["files"]
        index = cls(dim, model_id, capacity=1)
        index._store = _VectorStore.open(folder, dim, header["segments"])
        index._folder = folder
        table = np.load(_verified(folder, files["slots"]), allow_pickle=False)
        _expect(table.ndim == 2 and table.shape[1] == 3 and len(table) == header["count"],
                "id table does not match the header")
        _expect(len(table) == 0 or int(table[:, 1].max()) < index._store.row_count,
                "id table points past the stored vectors")
        index._slot_of = dict(zip(table[:, 0].tolist(), table[:, 1].tolist(), strict=True))
        index._key_of = dict(zip(table[:, 0].tolist(), table[:, 2].tolist(), strict=True))
        index._store.garbage = index._store.row_count - len(table)
        if header["projection"] is not None:
            index._load_projection(folder, header["projection"])
        index._load_graph(_verified(folder, files["graph"]))
        return index

    def _load_projection(self, folder: Path, info: dict[str, Any]) -> None:
        projection = np.load(_verified(folder, info["file"]), allow_pickle=False)
        _expect(projection.shape == (self.dim, info["dim"]) and projection.dtype == np.float32,
                "projection does not match the header")
        self._projection = projection
        self._reduced_dim = int(info["dim"])

    def _load_graph(self, path: Path) -> None:
        _check_hnsw_layout(path)
        space, dim = ("ip", self._reduced_dim) if self._projection is not None else ("cosine",
                                                                                      self.dim)
        self._graph = hnswlib.Index(space=space, dim=dim)
        self._graph.load_index(str(path), max_elements=0)
        self._graph.set_ef(EF_SEARCH)
        labels = set(self._graph.get_ids_list())
        _expect(self._slot_of.keys() <= labels, "the graph lacks some ids")
        self._graph_deleted = labels - self._slot_of.keys()

    @classmethod
    def build(cls, model_id: str, dim: int, ids: np.ndarray, vectors: np.ndarray,
              keys: np.ndarray | None = None) -> VectorIndex:
        """A new index over ``vectors`` (e.g. all of the catalog's vectors for this model).

        A large library gets its projection first, so the graph never holds full vectors.
        """
        index = cls(dim, model_id, capacity=max(len(ids), 1))
        if len(ids) > index._reduce_above:
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(len(ids), size=min(len(ids), PCA_SAMPLE), replace=False))
            index._use_projection(fit_projection(
                np.asarray(vectors[sample], np.float32), index._reduced_dim), len(ids))
        index.add(ids, vectors, keys)
        return index


def fit_projection(sample: FloatArray, dim: int) -> FloatArray:
    """The top ``dim`` principal axes of ``sample``, uncentred so that x·y ≈ (xP)·(yP).

    Randomised subspace iteration (Halko et al.): a few passes of thin products instead of a
    full eigendecomposition, which takes 10-20 s for 2048-d on two cores.
    """
    rng = np.random.default_rng(0)
    width = min(dim + 32, sample.shape[1])
    basis = rng.standard_normal((sample.shape[1], width)).astype(np.float32)
    for _ in range(4):
        basis = np.linalg.qr(sample.T @ (sample @ basis))[0]
    _, _, right = np.linalg.svd(sample @ basis, full_matrices=False)
    return np.ascontiguousarray((basis @ right.T)[:, :dim], dtype=np.float32)


class _VectorStore:
    """Full vectors as float16 rows: immutable segment files, then a tail of rows added since
    the last save, kept in memory. A row's number (its slot) never changes except
    through ``compact``."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.segments: list[_Segment] = []
        self._starts: list[int] = []  # first slot of each segment
        self._tail: list[npt.NDArray[np.float16]] = []
        self.row_count = 0
        self.garbage = 0  # rows no live id points to

    @classmethod
    def open(cls, folder: Path, dim: int, entries: list[dict[str, Any]]) -> _VectorStore:
        store = cls(dim)
        for entry in entries:
            name, rows = str(entry["name"]), int(entry["rows"])
            _expect(Path(name).name == name and rows >= 0, "bad segment entry")
            path = folder / name
            _expect(path.is_file() and path.stat().st_size == rows * dim * 2,
                    f"segment {name} is missing or has the wrong size")
            crcs = np.load(_verified(folder, entry["crc"]), allow_pickle=False)
            _expect(crcs.shape == (rows,) and crcs.dtype == np.uint32,
                    f"row checksums of {name} do not match the header")
            store._add_segment(path, crcs)
        return store

    def _add_segment(self, path: Path, crcs: npt.NDArray[np.uint32]) -> None:
        rows = len(crcs)
        self.segments.append(_Segment(path, crcs, self.dim))
        self._starts.append(self.row_count)
        self.row_count += rows

    def append(self, vectors: FloatArray) -> IdArray:
        first = self.row_count
        self._tail.append(vectors.astype(np.float16))
        self.row_count += len(vectors)
        return np.arange(first, self.row_count, dtype=np.int64)

    def rows(self, slots: IdArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Rows by slot as float32, in the order asked, and which of them passed their
        checksum (a failed row's values are garbage)."""
        out = np.empty((len(slots), self.dim), np.float32)
        intact = np.ones(len(slots), np.bool_)
        bounds = [*self._starts, self._saved_rows()]
        owner = np.searchsorted(np.asarray(bounds), slots, side="right") - 1
        for number in np.unique(owner).tolist():
            picked = owner == number
            if number < len(self.segments):
                out[picked], intact[picked] = self.segments[number].read(
                    slots[picked] - bounds[number])
            else:
                out[picked] = self._tail_array()[slots[picked] - bounds[-1]]
        return out, intact

    def tail_rows(self) -> int:
        return self.row_count - self._saved_rows()

    def _saved_rows(self) -> int:
        return self._starts[-1] + self.segments[-1].rows if self.segments else 0

    def _tail_array(self) -> npt.NDArray[np.float16]:
        if len(self._tail) > 1:
            self._tail = [np.concatenate(self._tail)]
        return self._tail[0] if self._tail else np.zeros((0, self.dim), np.float16)

    def persist(self, folder: Path) -> None:
        """Write the tail as a new segment in ``folder``, and copy in segments living elsewhere."""
        for number, segment in enumerate(self.segments):
            if segment.path.parent.resolve() != folder.resolve():
                copy = folder / f"vectors-{secrets.token_hex(6)}.f16"
                atomic_write_via(copy, functools.partial(shutil.copyfile, segment.path))
                _write_row_crcs(copy, segment.crcs)
                self.segments[number] = _Segment(copy, segment.crcs, self.dim)
        tail = self._tail_array()
        if len(tail):
            path = folder / f"vectors-{secrets.token_hex(6)}.f16"
            atomic_write_via(path, lambda target: tail.tofile(target))
            crcs = _row_crcs(tail)
            _write_row_crcs(path, crcs)
            self._tail = []
            self.row_count -= len(tail)
            self._add_segment(path, crcs)

    def compact(self, live_slots: IdArray, folder: Path) -> IdArray:
        """Rewrite only ``live_slots``, in that order, as one segment in ``folder``; returns
        their new slots. Streams in chunks: a million rows never sit in memory at once."""
        path = folder / f"vectors-{secrets.token_hex(6)}.f16"
        crc_parts: list[npt.NDArray[np.uint32]] = []

        def write(target: Path) -> None:
            with open(target, "wb") as handle:
                for start in range(0, len(live_slots), _ROW_CHUNK):
                    rows = self.rows(live_slots[start:start + _ROW_CHUNK])[0].astype(np.float16)
                    crc_parts.append(_row_crcs(rows))
                    handle.write(rows.tobytes())

        atomic_write_via(path, write)
        crcs = np.concatenate(crc_parts) if crc_parts else np.zeros(0, np.uint32)
        _write_row_crcs(path, crcs)
        self.segments, self._starts, self._tail = [], [], []
        self.row_count, self.garbage = 0, 0
        if len(live_slots):
            self._add_segment(path, crcs)
        return np.arange(len(live_slots), dtype=np.int64)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": seg.path.name, "rows": seg.rows, "crc": _describe(_crc_path(seg.path))}
                for seg in self.segments]

    def file_names(self) -> set[str]:
        return {name for seg in self.segments
                for name in (seg.path.name, _crc_path(seg.path).name)}


def _row_crcs(rows: npt.NDArray[np.float16]) -> npt.NDArray[np.uint32]:
    """One CRC-32 per row (about 1 µs per 4 KB row)."""
    return np.fromiter((zlib.crc32(row) for row in np.ascontiguousarray(rows)), np.uint32,
                       len(rows))


def _crc_path(segment: Path) -> Path:
    return segment.with_suffix(".crc")


def _write_row_crcs(segment: Path, crcs: npt.NDArray[np.uint32]) -> None:
    atomic_write_bytes(_crc_path(segment), _npy_bytes(crcs.astype(np.uint32)))


class _Segment:
    """One immutable file of float16 rows, read with plain (unbuffered) file reads, and the
    CRC-32 of each row, checked on every read."""

    def __init__(self, path: Path, crcs: npt.NDArray[np.uint32], dim: int) -> None:
        rows = len(crcs)
        self.path, self.rows, self.dim, self.crcs = path, rows, dim, crcs
        self._row_bytes = dim * 2
        # Open for the segment's lifetime; closed when the segment is dropped.
        self._file = open(path, "rb", buffering=0) if rows else None  # noqa: SIM115

    def read(self, local: IdArray) -> tuple[npt.NDArray[np.float16], npt.NDArray[np.bool_]]:
        """Rows by number, in the order asked, and whether each passed its checksum; a run of
        neighbouring rows takes one read."""
        distinct = np.unique(local)
        block = np.empty((len(distinct), self.dim), np.float16)
        if self._file is not None and len(distinct):
            self._read_runs(distinct, block.reshape(-1).view(np.uint8).data)
        intact = _row_crcs(block) == self.crcs[distinct]
        where = np.searchsorted(distinct, local)
        return block[where], intact[where]

    def _read_runs(self, distinct: IdArray, into: memoryview) -> None:
        assert self._file is not None
        starts = np.flatnonzero(np.diff(distinct, prepend=-2) != 1).tolist()
        for first, end in zip(starts, [*starts[1:], len(distinct)], strict=True):
            offset = int(distinct[first]) * self._row_bytes
            target = into[first * self._row_bytes:end * self._row_bytes]
            if self._read_at(offset, target) != len(target):
                raise OSError(errno.EIO, "vector segment is shorter than recorded",
                              str(self.path))

    def _read_at(self, offset: int, target: memoryview) -> int:
        """One positioned read: a single system call where the platform has ``preadv``."""
        assert self._file is not None
        if hasattr(os, "preadv"):
            return os.preadv(self._file.fileno(), [target], offset)
        self._file.seek(offset)
        return self._file.readinto(target) or 0

    def __del__(self) -> None:
        if self._file is not None:
            self._file.close()


def _new_graph(dim: int, space: str, capacity: int) -> Any:
    graph = hnswlib.Index(space=space, dim=dim)
    graph.init_index(max_elements=max(capacity, 1), M=M, ef_construction=EF_CONSTRUCTION)
    graph.set_ef(EF_SEARCH)
    return graph


class _Unusable(Exception):  # a reason to rebuild; never reaches users
    """The saved index exists but does not fit (other model, other format, damaged)."""


def _expect(condition: bool, reason: str) -> None:
    if not condition:
        raise _Unusable(reason)


def _chunks(ids: IdArray, vectors: np.ndarray) -> Iterable[tuple[IdArray, FloatArray]]:
    dim = vectors.shape[1]
    for start in range(0, len(ids), _ROW_CHUNK):
        part = slice(start, start + _ROW_CHUNK)
        yield ids[part], _checked_vectors(vectors[part], dim, rows=len(ids[part]))


def _checked_batch(
    ids: Sequence[int] | np.ndarray, vectors: np.ndarray, dim: int, keys: IdArray
) -> tuple[IdArray, np.ndarray, IdArray]:
    """ids as int64, vectors checked for shape (n, dim) but not yet converted, so that a huge
    float16 or memory-mapped input is converted a chunk at a time; of duplicate ids the last
    one wins."""
    id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
    if np.ndim(vectors) != 2 or np.shape(vectors) != (len(id_array), dim):
        raise ValueError(f"expected vectors of shape ({len(id_array)}, {dim}), "
                         f"got {np.shape(vectors)}")
    if id_array.size and id_array.min() < 0:
        raise ValueError("ids must be non-negative")
    if len(np.unique(id_array)) != len(id_array):
        first_from_end = np.unique(id_array[::-1], return_index=True)[1]
        keep = np.sort(len(id_array) - 1 - first_from_end)
        id_array, vectors, keys = id_array[keep], np.asarray(vectors)[keep], keys[keep]
    return id_array, vectors, keys


def _checked_vectors(vectors: np.ndarray, dim: int, rows: int | None = None) -> FloatArray:
    """``vectors`` as a C-contiguous float32 (n, dim) array; a single vector becomes one row."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dim or (rows is not None and len(array) != rows):
        expected = f"({rows if rows is not None else 'n'}, {dim})"
        raise ValueError(f"expected vectors of shape {expected}, got {np.shape(vectors)}")
    return array


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _describe(path: Path) -> dict[str, Any]:
    return {"name": path.name, "size": path.stat().st_size, "crc32": _crc32(path)}


def _verified(folder: Path, entry: dict[str, Any]) -> Path:
    """The file named by a header entry, once its size and checksum match the header."""
    name = str(entry["name"])
    _expect(Path(name).name == name, f"bad file name {name!r}")
    path = folder / name
    _expect(path.is_file(), f"{name} is missing")
    _expect(path.stat().st_size == entry["size"], f"{name} has the wrong size")
    _expect(_crc32(path) == entry["crc32"], f"{name} is damaged (checksum)")
    return path


def _read_header(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise _Unusable("no saved index")
    try:
        header = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Unusable(f"unreadable header ({error})") from error
    _expect(isinstance(header, dict), "unreadable header")
    return header  # type: ignore[no-any-return]


def _check_hnsw_layout(path: Path) -> None:
    """Walk hnswlib's file layout and insist that it accounts for every byte of the file."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(_HNSW_HEADER.size)
        _expect(len(head) == _HNSW_HEADER.size, "graph file is truncated")
        fields = _HNSW_HEADER.unpack(head)
        count, per_element = fields[2], fields[3]
        links_at = _HNSW_HEADER.size + count * per_element
        _expect(links_at <= size, "graph file is truncated")
        handle.seek(links_at)
        tail = handle.read()
    offset = 0
    for _ in range(count):
        _expect(offset + 4 <= len(tail), "graph file is truncated")
        (link_bytes,) = struct.unpack_from("<I", tail, offset)
        offset += 4 + link_bytes
    _expect(offset == len(tail), "graph file has the wrong length")


def _remove_unreferenced(folder: Path, keep: set[str]) -> None:
    """Delete files of earlier saves; a failure only leaves litter for the next save."""
    prefixes = ("graph-", "slots-", "projection-", "vectors-", "deleted-")
    # Temporary files of a save that was killed (".graph-….hnsw.….tmp", ".header.json.….tmp"):
    # the caller is the one writer (the library lock), and its own are all renamed by now.
    litter = tuple("." + prefix for prefix in (*prefixes, HEADER_NAME + "."))
    for path in folder.iterdir():
        is_litter = path.name.startswith(litter) and path.name.endswith(".tmp")
        if (path.name.startswith(prefixes) or is_litter) and path.name not in keep:
            try:
                path.unlink()
            except OSError as error:
                log.warning("could not remove old index file %s: %s", path, error)


def locality_order(vectors: FloatArray, cells: int = LOCALITY_CELLS) -> IdArray:
    """A permutation of the rows that puts rows from one region of the space next to each other.

    Each row goes to the most similar of ``cells`` rows picked at random (one step of k-means,
    which is all an ordering needs); rows are then sorted by that cell, stably.
    """
    picked = np.random.default_rng(0).choice(len(vectors), min(cells, len(vectors)),
                                             replace=False)
    centres = np.ascontiguousarray(vectors[np.sort(picked)], np.float32)
    cell = np.empty(len(vectors), np.int64)
    for start in range(0, len(vectors), _ROW_CHUNK // 8):
        block = slice(start, start + _ROW_CHUNK // 8)
        cell[block] = np.argmax(np.asarray(vectors[block], np.float32) @ centres.T, axis=1)
    return np.argsort(cell, kind="stable")


def _rerank_in_memory(queries: FloatArray, candidates: IdArray, k: int, known_ids: IdArray,
                      known_vectors: FloatArray, chunk: int = 16,
                      order: IdArray | None = None) -> tuple[IdArray, FloatArray]:
    """Exact cosine re-ranking of each row's candidates against vectors held in memory.

    Rows are taken in ``order`` (default: as given) a few at a time: a small chunk's gathered
    candidates (16 × 32 × 2048 floats, 4 MB) stay in the CPU cache between the gather and the
    products; 256 rows at a time spilled to memory and took twice as long.
    """
    found = np.empty((len(queries), k), np.int64)
    scores = np.empty((len(queries), k), np.float32)
    positions = np.clip(np.searchsorted(known_ids, candidates), 0, max(len(known_ids) - 1, 0))
    present = known_ids[positions] == candidates
    rows_in_order = np.arange(len(queries)) if order is None else order
    for start in range(0, len(queries), chunk):
        block = rows_in_order[start:start + chunk]
        gathered = known_vectors[positions[block]]  # (rows, candidates, dim)
        sims = np.einsum("rcd,rd->rc", gathered, queries[block]).astype(np.float32)
        sims[~present[block]] = -np.inf  # never a photo the caller does not know
        best = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        found[block] = np.take_along_axis(candidates[block], best, axis=1)
        scores[block] = np.take_along_axis(sims, best, axis=1)
    found[~np.isfinite(scores)] = -1
    scores[~np.isfinite(scores)] = -1.0
    return found, scores
