"""Each photo's nearest neighbours, kept in the catalog between sessions.

Finding duplicates starts from every photo's nearest neighbours in the vector index, and from
a coarse look at each neighbour pair's pixels (the pixel gate). At 100k photos those two cost
about 10 s, most of a duplicate pass, yet between two passes only the photos added or changed
since need them. So each photo's list is stored with the content it was found for, and the
search runs again only for photos whose list is missing or stale; indexing runs it for the
photos it embedded.

Each entry also records a check of the content its neighbour had when the list was found: an
entry whose neighbour changed since holds an outdated figure and is dropped (the neighbour's
own new list holds the pair if it still holds). New photos reach older ones the same way:
through their own lists.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from photosim.core.cancel import CancelToken
from photosim.core.duplicates.gate import pixel_gate_scores
from photosim.core.duplicates.pairs import PairTable, QueryBatch, ids_to_rows, unique_pair_entries
from photosim.core.fingerprint import Fingerprint

# photo id, content hash, ids (int64), sims (float32), gate scores (float32), neighbour
# content checks (uint32, see content_check)
StoredList = tuple[int, str, bytes, bytes, bytes, bytes]


def content_check(content_hash: str) -> int:
    """A 32-bit check of a content hash: enough to tell that a neighbour's content changed."""
    return zlib.crc32(content_hash.encode())


@dataclass(frozen=True)
class FoundList:
    """One photo's neighbours as just found: ids best first, their cosines, gate scores
    (:func:`photosim.core.duplicates.gate.pixel_gate_scores`, NaN where a fingerprint is
    missing) and content checks."""

    owner: int
    content_hash: str
    ids: NDArray[np.int64]
    sims: NDArray[np.float32]
    gates: NDArray[np.float32]
    checks: NDArray[np.uint32]

    def encoded(self) -> StoredList:
        return (self.owner, self.content_hash, self.ids.astype(np.int64).tobytes(),
                self.sims.astype(np.float32).tobytes(), self.gates.astype(np.float32).tobytes(),
                self.checks.astype(np.uint32).tobytes())


@dataclass(frozen=True)
class NeighbourLists:
    """Stored lists, flattened: list ``i`` belongs to photo ``owners[i]`` and holds
    ``ids[offsets[i]:offsets[i + 1]]`` with their ``sims``, ``gates`` and ``checks``, best
    first."""

    owners: NDArray[np.int64]
    hashes: list[str]
    offsets: NDArray[np.int64]
    ids: NDArray[np.int64]
    sims: NDArray[np.float32]
    gates: NDArray[np.float32]
    checks: NDArray[np.uint32]

    @classmethod
    def from_rows(cls, rows: Sequence[StoredList]) -> NeighbourLists:
        """The lists of catalog rows; a row whose parts disagree in length (damaged) is left
        out, so that it counts as missing and is found again."""
        rows = [r for r in rows if _consistent(r)]
        lengths = np.array([len(r[2]) // 8 for r in rows], np.int64)
        return cls(np.array([r[0] for r in rows], np.int64), [r[1] for r in rows],
                   np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                   np.frombuffer(b"".join(r[2] for r in rows), np.int64),
                   np.frombuffer(b"".join(r[3] for r in rows), np.float32),
                   np.frombuffer(b"".join(r[4] for r in rows), np.float32),
                   np.frombuffer(b"".join(r[5] for r in rows), np.uint32))


def _consistent(row: StoredList) -> bool:
    count = len(row[2]) // 8
    return len(row[2]) == 8 * count and all(len(part) == 4 * count for part in row[3:])


def lists_to_find(stored: NeighbourLists, row_ids: NDArray[np.int64],
                  row_hashes: Sequence[str]) -> NDArray[np.int64]:
    """Rows (photo ``row_ids[r]`` with content ``row_hashes[r]``; "" leaves a photo out)
    without a stored list for their current content."""
    current = dict(zip(stored.owners.tolist(), stored.hashes, strict=True))
    stale = [row for row, (photo, content) in enumerate(zip(row_ids.tolist(), row_hashes,
                                                             strict=True))
             if content and current.get(photo) != content]
    return np.array(stale, np.int64)


def find_lists(query_batch: QueryBatch, vectors: np.ndarray, owners: NDArray[np.int64],
               content: Mapping[int, str], k: int) -> list[FoundList]:
    """The ``k`` nearest photos of each of ``vectors`` (photos ``owners``; ``content``: every
    photo's content hash), without gate scores yet (see :func:`with_gate_scores`);
    ``query_batch`` answers photo ids, best first, padded with -1."""
    if len(vectors) == 0:
        return []
    ids, sims = query_batch(vectors, k + 1)  # +1: each photo finds itself
    ids, sims = np.asarray(ids, np.int64), np.asarray(sims, np.float32)
    found = []
    for owner, row_ids, row_sims in zip(owners.tolist(), ids, sims, strict=True):
        keep = (row_ids >= 0) & (row_ids != owner)
        neighbours = row_ids[keep][:k]
        checks = np.array([content_check(content.get(i, "")) for i in neighbours.tolist()],
                          np.uint32)
        found.append(FoundList(owner, content[owner], neighbours, row_sims[keep][:k],
                               np.full(len(neighbours), np.nan, np.float32), checks))
    return found


def with_gate_scores(found: Sequence[FoundList], fingerprints: Mapping[int, Fingerprint | None],
                     cancel: CancelToken | None = None) -> list[FoundList]:
    """``found`` with the gate score of each owner and neighbour (by photo id), all at once."""
    owners = np.concatenate([np.full(len(f.ids), f.owner, np.int64) for f in found] or
                            [np.zeros(0, np.int64)])
    others = np.concatenate([f.ids for f in found] or [np.zeros(0, np.int64)])
    photos = np.unique(np.concatenate([owners, others]))
    prints = [fingerprints.get(int(i)) for i in photos]
    scores = pixel_gate_scores(prints, np.searchsorted(photos, owners),
                               np.searchsorted(photos, others), cancel)
    bounds = np.cumsum([0, *(len(f.ids) for f in found)])
    return [FoundList(f.owner, f.content_hash, f.ids, f.sims, scores[start:stop], f.checks)
            for f, start, stop in zip(found, bounds[:-1], bounds[1:], strict=True)]


def pairs_from_lists(stored: NeighbourLists, row_ids: NDArray[np.int64],
                     row_hashes: Sequence[str], floor: float) -> PairTable:
    """Unique pairs of rows ``a < b`` with their cosines, ``cosine ≥ floor``, over the vectors
    held now (photo ``row_ids[r]``, content ``row_hashes[r]``), from the lists that are
    current (see the module's docstring)."""
    owner_rows = ids_to_rows(stored.owners, row_ids)
    current = owner_rows >= 0
    current[current] = [stored.hashes[i] == row_hashes[r]
                        for i, r in zip(np.flatnonzero(current).tolist(),
                                        owner_rows[current].tolist(), strict=True)]
    check_of_row = np.array([content_check(h) for h in row_hashes], np.uint32)
    list_of_entry = np.repeat(np.arange(len(stored.owners)), np.diff(stored.offsets))
    a = owner_rows[list_of_entry]
    b = ids_to_rows(stored.ids, row_ids)
    keep = current[list_of_entry] & (b >= 0) & (stored.sims >= floor) & (a != b)
    keep[keep] = check_of_row[b[keep]] == stored.checks[keep]  # the neighbour is unchanged
    a, b, sims, gates = a[keep], b[keep], stored.sims[keep], stored.gates[keep]
    kept = unique_pair_entries(a, b, sims)
    return PairTable(np.minimum(a[kept], b[kept]), np.maximum(a[kept], b[kept]), sims[kept],
                     gates[kept])
