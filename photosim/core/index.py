"""The vector index: approximate nearest neighbours over photo embeddings (hnswlib, cosine).

The index is a cache of the catalog's vectors. It is saved atomically in the data directory and,
when it is missing, damaged, or was made by another model, ``VectorIndex.load`` answers ``None``
so that the caller rebuilds it from the catalog rather than trusting a bad file.

On disk an index is a folder holding ``header.json`` and the data files it names. Data files
carry a fresh name on every save and the header is replaced last, atomically, so a reader sees
either the previous index or the new one. The header records each file's size and CRC-32, which
is checked before hnswlib ever parses a byte (hnswlib trusts its input and could crash on garbage).
"""

from __future__ import annotations

import errno
import io
import json
import logging
import secrets
import struct
import threading
import zlib
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import numpy.typing as npt

from photosim.core.fsutil import atomic_write_bytes, atomic_write_via

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
HEADER_NAME = "header.json"

# HNSW parameters; see benchmarks/index_bench.py for how they were chosen.
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 64

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

# hnswlib's file header: offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (size_t); maxlevel (int); enterpoint (uint); maxM, maxM0, M (size_t);
# mult (double); ef_construction (size_t). Then the level-0 block, then per element a uint32
# byte count and that many bytes of upper-level links.
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_CRC_CHUNK = 1 << 22


class VectorIndex:
    """Photo ids and their L2-normalised vectors; find the nearest by cosine similarity.

    Thread-safe: one lock serialises changes and queries (a query takes about a millisecond).
    """

    def __init__(self, dim: int, model_id: str, capacity: int = 1024) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, not {dim}")
        self.dim = dim
        self.model_id = model_id
        self._lock = threading.RLock()
        self._hnsw = hnswlib.Index(space="cosine", dim=dim)
        self._hnsw.init_index(max_elements=max(capacity, 1), M=M, ef_construction=EF_CONSTRUCTION)
        self._hnsw.set_ef(EF_SEARCH)
        self._live: set[int] = set()
        self._deleted: set[int] = set()  # labels hnswlib still holds, marked deleted

    # ----------------------------------------------------------------- changes

    def add(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace vectors; re-adding an id (even a removed one) replaces its vector."""
        id_array, vector_array = _checked_batch(ids, vectors, self.dim)
        if id_array.size == 0:
            return
        with self._lock:
            self._reserve(id_array)
            self._hnsw.add_items(vector_array, id_array.astype(np.uint64))
            added = id_array.tolist()
            self._live.update(added)
            self._deleted.difference_update(added)

    def remove(self, ids: Iterable[int]) -> None:
        """Forget these ids; ids not in the index are ignored."""
        with self._lock:
            for photo_id in {int(i) for i in ids} & self._live:
                self._hnsw.mark_deleted(photo_id)
                self._live.discard(photo_id)
                self._deleted.add(photo_id)

    def _reserve(self, ids: IdArray) -> None:
        """Grow hnswlib's capacity geometrically so that ``ids`` fit."""
        new_labels = sum(1 for i in ids.tolist() if i not in self._live and i not in self._deleted)
        needed = self._hnsw.element_count + new_labels
        capacity = self._hnsw.max_elements
        if needed > capacity:
            self._hnsw.resize_index(max(needed, capacity * 2))

    # ----------------------------------------------------------------- queries

    def query(
        self, vector: np.ndarray, k: int, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest live ids to ``vector`` with their cosine similarity, best first."""
        query = _checked_vectors(vector, self.dim, rows=1)
        with self._lock:
            excluded = {int(i) for i in exclude} & self._live
            wanted = min(k, len(self._live) - len(excluded))
            if wanted <= 0:
                return []
            labels, sims = self._search(query, wanted + len(excluded))
        hits = [(int(i), float(s)) for i, s in zip(labels[0], sims[0], strict=True)]
        return [hit for hit in hits if hit[0] not in excluded][:wanted]

    def query_batch(self, vectors: np.ndarray, k: int) -> tuple[IdArray, FloatArray]:
        """Nearest ids and similarities for each row; rows padded with -1 beyond the live count."""
        queries = _checked_vectors(vectors, self.dim)
        ids = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
        sims = np.full((len(queries), max(k, 0)), -1.0, dtype=np.float32)
        with self._lock:
            wanted = min(k, len(self._live))
            if wanted <= 0 or len(queries) == 0:
                return ids, sims
            labels, found = self._search(queries, wanted)
        ids[:, :wanted] = labels
        sims[:, :wanted] = found
        return ids, sims

    def _search(self, queries: FloatArray, k: int) -> tuple[IdArray, FloatArray]:
        """hnswlib's search, retried with a wider beam when deletions starve it of results."""
        ef = max(EF_SEARCH, k)
        while True:
            self._hnsw.set_ef(ef)
            try:
                labels, distances = self._hnsw.knn_query(queries, k=k)
                break
            except RuntimeError:
                # Too few live neighbours reached; only a graph full of deletions does this.
                if ef >= self._hnsw.element_count:
                    raise
                ef = min(ef * 4, self._hnsw.element_count)
            finally:
                self._hnsw.set_ef(EF_SEARCH)
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def ids(self) -> IdArray:
        with self._lock:
            return np.array(sorted(self._live), dtype=np.int64)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, photo_id: object) -> bool:
        return isinstance(photo_id, int | np.integer) and int(photo_id) in self._live

    # ------------------------------------------------------------- persistence

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` atomically; the previous index stays valid until then."""
        with self._lock:
            token = secrets.token_hex(6)
            graph = folder / f"graph-{token}.hnsw"
            deleted = folder / f"deleted-{token}.npy"
            atomic_write_via(graph, self._write_graph)
            atomic_write_bytes(deleted, _npy_bytes(np.array(sorted(self._deleted), np.int64)))
            header = {
                "format": FORMAT_VERSION,
                "model_id": self.model_id,
                "dim": self.dim,
                "count": len(self._live),
                "space": "cosine",
                "projection": None,
                "files": {"graph": _describe(graph), "deleted": _describe(deleted)},
            }
            atomic_write_bytes(folder / HEADER_NAME, json.dumps(header, indent=1).encode())
        _remove_unreferenced(folder, {graph.name, deleted.name})

    def _write_graph(self, path: Path) -> None:
        self._hnsw.save_index(str(path))
        # hnswlib writes through an unchecked ofstream: a full disk yields a short file silently.
        try:
            _check_hnsw_layout(path)
        except _Unusable as error:
            raise OSError(errno.EIO, f"the index could not be written completely ({error}); "
                          "is the disk full?", str(path)) from None

    @classmethod
    def load(cls, folder: Path, model_id: str, dim: int) -> VectorIndex | None:
        """The index saved in ``folder``, or ``None`` when it is absent or unusable for this model.

        ``None`` means "rebuild from the catalog"; the reason is logged.
        """
        try:
            return cls._load(folder, model_id, dim)
        except _Unusable as reason:
            log.info("vector index in %s not used: %s", folder, reason)
        except (OSError, ValueError, RuntimeError, MemoryError) as error:
            log.warning("vector index in %s could not be read: %s", folder, error)
        return None

    @classmethod
    def _load(cls, folder: Path, model_id: str, dim: int) -> VectorIndex:
        header = _read_header(folder / HEADER_NAME)
        _expect(header.get("format") == FORMAT_VERSION, f"format {header.get('format')!r}")
        _expect(header.get("model_id") == model_id, f"made by model {header.get('model_id')!r}")
        _expect(header.get("dim") == dim, f"dimension {header.get('dim')!r}, expected {dim}")
        files = header["files"]
        graph = _verified(folder, files["graph"])
        deleted = np.load(_verified(folder, files["deleted"]), allow_pickle=False)
        _check_hnsw_layout(graph)
        index = cls(dim, model_id, capacity=1)
        index._hnsw.load_index(str(graph), max_elements=0)
        index._hnsw.set_ef(EF_SEARCH)
        labels = set(index._hnsw.get_ids_list())
        index._deleted = {int(i) for i in deleted.tolist()}
        index._live = labels - index._deleted
        _expect(index._deleted <= labels, "deleted ids the graph does not hold")
        _expect(len(index._live) == header["count"], "count differs from the header")
        return index

    @classmethod
    def build(cls, model_id: str, dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """A new index over ``vectors`` (e.g. all of the catalog's vectors for this model)."""
        index = cls(dim, model_id, capacity=max(len(ids), 1))
        index.add(ids, vectors)
        return index


class _Unusable(Exception):  # a reason to rebuild; never reaches users
    """The saved index exists but does not fit (other model, other format, damaged)."""


def _expect(condition: bool, reason: str) -> None:
    if not condition:
        raise _Unusable(reason)


def _checked_batch(
    ids: Sequence[int] | np.ndarray, vectors: np.ndarray, dim: int
) -> tuple[IdArray, FloatArray]:
    """ids as int64 and vectors as float32 (n, dim); of duplicate ids the last one wins."""
    id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
    vector_array = _checked_vectors(vectors, dim, rows=len(id_array))
    if id_array.size and id_array.min() < 0:
        raise ValueError("ids must be non-negative")
    if len(np.unique(id_array)) != len(id_array):
        first_from_end = np.unique(id_array[::-1], return_index=True)[1]
        keep = np.sort(len(id_array) - 1 - first_from_end)
        id_array, vector_array = id_array[keep], vector_array[keep]
    return id_array, vector_array


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
    """Delete data files of earlier saves; a failure only leaves litter for the next save."""
    for path in folder.iterdir():
        if path.name.startswith(("graph-", "deleted-", "vectors-")) and path.name not in keep:
            try:
                path.unlink()
            except OSError as error:
                log.warning("could not remove old index file %s: %s", path, error)
