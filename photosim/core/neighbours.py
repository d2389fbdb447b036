"""Each photo's nearest neighbours, kept in the catalog between sessions.

Finding duplicates starts from every photo's nearest neighbours in the vector index. At 100k
photos that search costs about 6 s, most of a duplicate pass, yet between two passes only the
photos added or changed since need one. So each photo's list is stored with the content it
was found for, and a pass searches again only for photos whose list is missing or stale.

Lists are numbered by when they were found (their generation). A list found earlier than a
neighbour's own list may hold an outdated similarity for it (the neighbour changed since), so
such entries are dropped; the neighbour's newer list holds the pair if it still holds.
New photos reach older ones the same way: through their own lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from photosim.core.dedup import Pair, QueryBatch, ids_to_rows, unique_pairs

StoredList = tuple[int, str, int, bytes, bytes]  # photo id, content hash, generation, ids, sims
NewList = tuple[int, str, bytes, bytes]  # the same, before it has a generation


@dataclass(frozen=True)
class NeighbourLists:
    """Stored lists, flattened: list ``i`` belongs to photo ``owners[i]`` and holds
    ``ids[offsets[i]:offsets[i + 1]]`` with their cosines ``sims``, best first."""

    owners: NDArray[np.int64]
    hashes: list[str]
    generations: NDArray[np.int64]
    offsets: NDArray[np.int64]
    ids: NDArray[np.int64]
    sims: NDArray[np.float32]

    @classmethod
    def from_rows(cls, rows: Sequence[StoredList]) -> NeighbourLists:
        lengths = np.array([len(r[3]) // 8 for r in rows], np.int64)
        return cls(np.array([r[0] for r in rows], np.int64), [r[1] for r in rows],
                   np.array([r[2] for r in rows], np.int64),
                   np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                   np.frombuffer(b"".join(r[3] for r in rows), np.int64),
                   np.frombuffer(b"".join(r[4] for r in rows), np.float32))


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
               hashes: Sequence[str], k: int) -> list[NewList]:
    """The ``k`` nearest photos of each of ``vectors`` (photos ``owners``), as lists to store;
    ``query_batch`` answers photo ids, best first, padded with -1."""
    if len(vectors) == 0:
        return []
    ids, sims = query_batch(vectors, k + 1)  # +1: each photo finds itself
    ids, sims = np.asarray(ids, np.int64), np.asarray(sims, np.float32)
    found: list[NewList] = []
    for owner, content, row_ids, row_sims in zip(owners.tolist(), hashes, ids, sims,
                                                 strict=True):
        keep = (row_ids >= 0) & (row_ids != owner)
        found.append((owner, content, row_ids[keep][:k].tobytes(), row_sims[keep][:k].tobytes()))
    return found


def pairs_from_lists(stored: NeighbourLists, row_ids: NDArray[np.int64],
                     row_hashes: Sequence[str], floor: float) -> list[Pair]:
    """Unique ``(row_i, row_j, cosine)``, ``i < j``, ``cosine ≥ floor``, over the rows of the
    vectors held now (photo ``row_ids[r]``, content ``row_hashes[r]``), from the lists that
    are current (see the module's docstring)."""
    if len(row_ids) == 0 or len(stored.owners) == 0:
        return []
    owner_rows = ids_to_rows(stored.owners, row_ids)
    current = owner_rows >= 0
    current[current] = [stored.hashes[i] == row_hashes[r]
                        for i, r in zip(np.flatnonzero(current).tolist(),
                                        owner_rows[current].tolist(), strict=True)]
    generation_of_row = np.full(len(row_ids), np.iinfo(np.int64).max, np.int64)
    generation_of_row[owner_rows[current]] = stored.generations[current]
    lengths = np.diff(stored.offsets)
    list_of_entry = np.repeat(np.arange(len(stored.owners)), lengths)
    a = owner_rows[list_of_entry]
    b = ids_to_rows(stored.ids, row_ids)
    keep = current[list_of_entry] & (b >= 0) & (stored.sims >= floor)
    keep[keep] = generation_of_row[b[keep]] <= stored.generations[list_of_entry[keep]]
    keep &= a != b
    return unique_pairs(a[keep], b[keep], stored.sims[keep])
