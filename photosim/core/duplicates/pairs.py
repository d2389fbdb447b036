"""Pairs of photos worth a look, in one shape: :class:`PairTable`.

A table pairs positions — of candidates, or of rows of the vectors — with a score (the CNN
cosine, or 1 - DCT-hash distance / 64 in reduced mode) and a pixel-gate score where one is
known. The index's nearest neighbours and the DCT-hash-near pairs both arrive as one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from photosim.core.fingerprint import Fingerprint

# Answers the ``k`` nearest ids of each vector, best first (padded with -1), and their cosines.
QueryBatch = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PairTable:
    """Unordered pairs ``(a[i], b[i])`` of positions, with ``scores[i]`` and ``gates[i]``: the
    pair's :func:`~photosim.core.duplicates.gate.pixel_gate_scores`, NaN where not known."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    scores: NDArray[np.float32]
    gates: NDArray[np.float32]

    @classmethod
    def of(cls, a: Sequence[int] | NDArray[np.int64], b: Sequence[int] | NDArray[np.int64],
           scores: Sequence[float] | NDArray[np.float32],
           gates: Sequence[float] | NDArray[np.float32] | None = None) -> PairTable:
        """A table of these columns; gate scores unknown unless given."""
        count = len(a)
        return cls(np.asarray(a, np.int64).reshape(count), np.asarray(b, np.int64).reshape(count),
                   np.asarray(scores, np.float32).reshape(count),
                   np.full(count, np.nan, np.float32) if gates is None else
                   np.asarray(gates, np.float32).reshape(count))

    @classmethod
    def empty(cls) -> PairTable:
        return cls.of([], [], [])

    def __len__(self) -> int:
        return len(self.a)

    def triples(self) -> list[tuple[int, int, float]]:
        """``(a, b, score)`` per pair, as Python numbers."""
        return list(zip(self.a.tolist(), self.b.tolist(), self.scores.tolist(), strict=True))


def neighbour_pairs_from_index(query_batch: QueryBatch, vectors: np.ndarray, k: int,
                               floor: float,
                               row_ids: Sequence[int] | np.ndarray | None = None) -> PairTable:
    """Unique ``(row_i, row_j, cosine)`` with ``i < j`` and ``cosine ≥ floor``.

    ``query_batch`` answers ids; when the index labels rows by photo id, ``row_ids`` (the id of
    each row of ``vectors``) maps them back to rows. Ids the mapping does not know are dropped.
    """
    if len(vectors) == 0:
        return PairTable.empty()
    ids, sims = query_batch(vectors, k + 1)  # +1: each vector finds itself
    ids = np.asarray(ids, np.int64)
    sims = np.asarray(sims, np.float32)
    if row_ids is not None:
        ids = ids_to_rows(ids, np.asarray(row_ids, np.int64))
    rows = np.repeat(np.arange(len(vectors), dtype=np.int64), ids.shape[1])
    cols, values = ids.ravel(), sims.ravel()
    keep = (cols >= 0) & (cols != rows) & (values >= floor)
    return unique_pairs(rows[keep], cols[keep], values[keep])


def ids_to_rows(ids: NDArray[np.int64], row_ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """The position in ``row_ids`` of each of ``ids``, or -1 where it is not there."""
    order = np.argsort(row_ids)
    sorted_ids = row_ids[order]
    where = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
    found = (len(sorted_ids) > 0) & (sorted_ids[where] == ids) & (ids >= 0)
    return np.where(found, order[where], -1)


def unique_pairs(a: NDArray[np.int64], b: NDArray[np.int64],
                 score: NDArray[np.float32]) -> PairTable:
    """Each unordered pair once, lower position first, with its best score."""
    kept = unique_pair_entries(a, b, score)
    return PairTable.of(np.minimum(a[kept], b[kept]), np.maximum(a[kept], b[kept]), score[kept])


def unique_pair_entries(a: NDArray[np.int64], b: NDArray[np.int64],
                        score: NDArray[np.float32]) -> NDArray[np.int64]:
    """The entries of ``(a, b, score)`` that give each unordered pair its best score, ordered
    by pair."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((-score, hi, lo))
    lo, hi = lo[order], hi[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    kept: NDArray[np.int64] = order[first]
    return kept


def hash_pairs(fingerprints: Sequence[Fingerprint | None], max_distance: int) -> PairTable:
    """Pairs whose DCT hashes differ by at most ``max_distance`` bits, score 1 - d/64.

    Multi-index hashing: split the 64 bits into chunks; by pigeonhole two hashes within the
    distance agree on at least one chunk up to a few bits (the radius), so only photos whose
    chunks are that close are compared — with numpy, never in a Python double loop. The split
    is chosen for the library's size (see :func:`_hash_chunking`).
    """
    present = [i for i, f in enumerate(fingerprints) if f is not None]
    if len(present) < 2:
        return PairTable.empty()
    positions = np.asarray(present, np.int64)
    hashes = np.asarray([fingerprints[i].phash for i in present],  # type: ignore[union-attr]
                        np.uint64)
    chunks, radius = _hash_chunking(len(hashes), max_distance)
    found: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]] = []
    bounds = np.linspace(0, 64, chunks + 1).round().astype(int)
    for start, stop in itertools.pairwise(bounds.tolist()):
        chunk = (hashes >> np.uint64(start)) & np.uint64((1 << (stop - start)) - 1)
        if radius == 0:
            found.append(_pairs_sharing_chunk(hashes, chunk, max_distance))
        else:
            found.append(_pairs_near_in_chunk(hashes, chunk, stop - start, radius,
                                              max_distance))
    a = np.concatenate([f[0] for f in found])
    b = np.concatenate([f[1] for f in found])
    d = np.concatenate([f[2] for f in found])
    score = (1.0 - d / 64.0).astype(np.float32)
    found_pairs = unique_pairs(a, b, score)
    return PairTable.of(positions[found_pairs.a], positions[found_pairs.b], found_pairs.scores)


_MAX_CHUNK_BITS = 22  # a chunk's bucket table has 2**bits entries (32 MB at 22 bits)


def _hash_chunking(count: int, max_distance: int) -> tuple[int, int]:
    """(chunks, radius) with chunks × (radius + 1) > max_distance, cheapest for ``count``
    hashes: exact chunks (radius 0) need many narrow chunks whose buckets grow with the
    library (100k photos: ~200 a bucket at 6 bits apart); a radius of 1 or 2 allows fewer,
    wider chunks with nearly empty buckets, at the price of probing each hash's neighbours.
    """
    best: tuple[float, int, int] | None = None
    for radius in range(3):
        chunks = min(max_distance // (radius + 1) + 1, 64)
        bits = 64 / chunks
        if radius and bits > _MAX_CHUNK_BITS:
            continue
        probes = sum(math.comb(math.ceil(bits), r) for r in range(radius + 1))
        cost = chunks * probes * count * (1.0 + count / 2.0 ** bits)
        if best is None or cost < best[0]:
            best = (cost, chunks, radius)
    assert best is not None
    return best[1], best[2]


def _pairs_near_in_chunk(hashes: NDArray[np.uint64], chunk: NDArray[np.uint64], bits: int,
                         radius: int, max_distance: int,
                         ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """All (i, j, distance), i < j, whose ``chunk`` values differ by at most ``radius`` bits
    and whose hashes by at most ``max_distance``: each hash probes the buckets of its chunk
    with every pattern of up to ``radius`` bits flipped."""
    values = chunk.astype(np.int64)
    order = np.argsort(values, kind="stable")
    first = np.searchsorted(values[order], np.arange((1 << bits) + 1))  # bucket v: first[v:v+2]
    out_a, out_b, out_d = [], [], []
    for flips in range(radius + 1):
        for bit_set in itertools.combinations(range(bits), flips):
            probe = values ^ sum(1 << b for b in bit_set)
            starts, sizes = first[probe], first[probe + 1] - first[probe]
            i = np.repeat(np.arange(len(values)), sizes)
            offsets = np.arange(len(i)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            j = order[np.repeat(starts, sizes) + offsets]
            keep = i < j  # each pair is probed from both sides (or twice in its own bucket)
            i, j = i[keep], j[keep]
            d = np.bitwise_count(hashes[i] ^ hashes[j]).astype(np.int64)
            close = d <= max_distance
            out_a.append(i[close])
            out_b.append(j[close])
            out_d.append(d[close])
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_d)


def _pairs_sharing_chunk(hashes: NDArray[np.uint64], chunk: NDArray[np.uint64],
                         max_distance: int,
                         ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """All (i, j, distance) with equal ``chunk`` values and distance ≤ ``max_distance``."""
    order = np.argsort(chunk, kind="stable")
    sorted_chunk = chunk[order]
    starts = np.flatnonzero(np.r_[True, sorted_chunk[1:] != sorted_chunk[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    out_a, out_b, out_d = [], [], []
    # Compare each member with the members after it in its bucket, one offset at a time:
    # offset o pairs sorted positions p and p + o, vectorised over all buckets at once.
    for offset in range(1, int(sizes.max(initial=1))):
        big = sizes > offset
        if not big.any():
            break
        firsts = np.repeat(starts[big], sizes[big] - offset)
        within = np.arange(len(firsts)) - np.repeat(
            np.cumsum(sizes[big] - offset) - (sizes[big] - offset), sizes[big] - offset)
        p = firsts + within
        i, j = order[p], order[p + offset]
        d = np.bitwise_count(hashes[i] ^ hashes[j]).astype(np.int64)
        close = d <= max_distance
        out_a.append(i[close])
        out_b.append(j[close])
        out_d.append(d[close])
    if not out_a:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_d)



def pair_keys(a: NDArray[np.int64], b: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """One integer per unordered pair of distinct positions below ``n``, lower position first."""
    distinct = a != b
    a, b = a[distinct], b[distinct]
    keys: NDArray[np.int64] = np.minimum(a, b) * n + np.maximum(a, b)
    return keys
