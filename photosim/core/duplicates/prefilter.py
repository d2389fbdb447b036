"""The pairs worth judging one by one: neighbours, hash-near pairs and same-content files,
less those the judge would certainly find unrelated, decided for all pairs at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from photosim.core.cancel import CancelToken
from photosim.core.duplicates.gate import pixel_gate_scores
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Snapshot
from photosim.core.duplicates.pairs import PairTable, hash_pairs, pair_keys
from photosim.core.duplicates.settings import DedupSettings


def worth_judging(judge: PairJudge, pairs: PairTable,
                  cancel: CancelToken | None = None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(lo, hi): the pairs among ``pairs``, hash-near pairs and same-content files that the
    judge may find related, each once, lower position first. Past ``pixel_gate_above`` pairs,
    the pixel gate rules out what it can first (see :func:`_past_the_pixel_gate`)."""
    snapshot, settings = judge.snapshot, judge.settings
    table = pairs_to_judge(snapshot.candidates, pairs, settings)
    cosines = None if snapshot.vectors is None else \
        cosines_of_pairs(snapshot.candidates, snapshot.vectors, table.a, table.b, table.scores)
    same = same_content_of(snapshot.candidates, table.a, table.b)
    kept = could_relate(snapshot, table.a, table.b, settings, cosines, same)
    table = PairTable(table.a[kept], table.b[kept],
                      table.scores[kept] if cosines is None else cosines[kept], table.gates[kept])
    if len(table) > settings.pixel_gate_above:
        return _past_the_pixel_gate(judge, table, same[kept], cancel)
    return table.a, table.b


def pairs_to_judge(candidates: Sequence[Candidate], pairs: PairTable,
                   settings: DedupSettings) -> PairTable:
    """Positions ``a < b``, each pair once: ``pairs``, hash-near pairs and same content; each
    keeps the score and gate score ``pairs`` gave it (NaN for the pairs it did not give)."""
    hashed = hash_pairs([c.fingerprint for c in candidates], settings.same_hash_distance)
    same = _same_content_pairs(candidates)
    n = max(len(candidates), 1)
    distinct = pairs.a != pairs.b
    given_keys = pair_keys(pairs.a[distinct], pairs.b[distinct], n)
    other_keys = pair_keys(
        np.concatenate([hashed.a, np.fromiter((p[0] for p in same), np.int64, len(same))]),
        np.concatenate([hashed.b, np.fromiter((p[1] for p in same), np.int64, len(same))]), n)
    keys = np.unique(np.concatenate([given_keys, other_keys]))
    where = np.searchsorted(keys, given_keys)
    given = np.full(len(keys), np.nan, np.float32)
    given[where] = pairs.scores[distinct]
    known_gates = np.full(len(keys), np.nan, np.float32)
    known_gates[where] = pairs.gates[distinct]
    return PairTable(keys // n, keys % n, given, known_gates)


def _past_the_pixel_gate(judge: PairJudge, table: PairTable, same: NDArray[np.bool_],
                         cancel: CancelToken | None = None
                         ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The pairs of ``table`` still worth judging one by one once the pixel gate has told the
    judge which pixels cannot agree: those it passed, and, on the CNN alone, the same file or
    a similar scene. The rest cannot relate at all. ``table`` holds the pairs' cosines (NaN
    where a photo has no vector) and their gate scores already known (NaN where not);
    ``same``: which pairs are the same file (see :func:`same_content_of`)."""
    lo, hi = table.a, table.b
    scores = table.gates.copy()
    todo = np.flatnonzero(np.isnan(scores))
    scores[todo] = pixel_gate_scores([c.fingerprint for c in judge.candidates], lo[todo],
                                     hi[todo], cancel)
    pixels = ~(scores < judge.settings.pixel_gate_ncc)  # NaN (no fingerprint) passes
    judge.rule_out_pixels(zip(lo[~pixels].tolist(), hi[~pixels].tolist(), strict=True))
    keep = pixels | same
    if judge.vectors is None:
        keep[:] = True
    else:  # NaN (no vector) is kept
        keep |= ~(table.scores < judge.settings.similar_cosine - _COSINE_MARGIN)
    return lo[keep], hi[keep]


# Cosines computed here and in PairJudge.cosine may differ in the last bits; a pair this close
# to a threshold is left to the judge.
_COSINE_MARGIN = 1e-4


def could_relate(snapshot: Snapshot, lo: NDArray[np.int64], hi: NDArray[np.int64],
                 settings: DedupSettings, cosines: NDArray[np.float32] | None = None,
                 same_content: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
    """False for pairs that :class:`PairJudge` would certainly find unrelated, over all pairs at
    once, so that only the rest is judged one by one in Python.

    The judge relates two different files only when the CNN agrees (cosine at least the
    ``edited_cosine``, the ``similar_cosine`` or, for conclusive pixels, the ``proof_cosine``)
    or, for the "same picture" path, when their DCT hashes are within ``same_hash_distance``;
    a pair without a cosine (no vector) is always judged. ``cosines`` (see
    :func:`cosines_of_pairs`) and ``same_content`` (:func:`same_content_of`) save computing
    them again.
    """
    candidates, vectors = snapshot.candidates, snapshot.vectors
    n = len(lo)
    maybe = np.ones(n, bool)
    if vectors is None or n == 0:
        return maybe
    if cosines is None:
        cosines = cosines_of_pairs(candidates, vectors, lo, hi)
    cnn_floor = min(settings.edited_cosine, settings.similar_cosine,
                    settings.proof_cosine) - _COSINE_MARGIN
    maybe[cosines < cnn_floor] = False  # NaN (no vector) stays
    maybe |= _hashes_within(candidates, lo, hi, settings.same_hash_distance)
    maybe |= same_content_of(candidates, lo, hi) if same_content is None else same_content
    return maybe


def cosines_of_pairs(candidates: Sequence[Candidate], vectors: np.ndarray,
                      lo: NDArray[np.int64], hi: NDArray[np.int64],
                      given: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """The CNN cosine of each pair; NaN where a photo has no vector. ``given`` holds the
    cosines already known (the index's neighbours come with theirs), NaN where unknown: at
    100k photos, computing them again read 12 GB of vectors for nothing."""
    rows = np.array([-1 if c.vector_row is None else c.vector_row for c in candidates], np.int64)
    has = (rows[lo] >= 0) & (rows[hi] >= 0)
    cosines = np.full(len(lo), np.nan, np.float32)
    if given is not None:
        cosines[has] = given[has]
    todo = has & np.isnan(cosines)
    cosines[todo] = _pair_cosines(vectors, rows[lo[todo]], rows[hi[todo]])
    return cosines


def _pair_cosines(vectors: np.ndarray, a: NDArray[np.int64], b: NDArray[np.int64],
                  chunk: int = 4096) -> NDArray[np.float32]:
    out = np.empty(len(a), np.float32)
    for start in range(0, len(a), chunk):
        part = slice(start, start + chunk)
        out[part] = np.einsum("pd,pd->p", np.asarray(vectors[a[part]], np.float32),
                              np.asarray(vectors[b[part]], np.float32))
    return out


def _hashes_within(candidates: Sequence[Candidate], lo: NDArray[np.int64],
                   hi: NDArray[np.int64], max_distance: int) -> NDArray[np.bool_]:
    """Both photos have fingerprints whose DCT hashes differ by at most ``max_distance`` bits."""
    hashes = np.array([0 if c.fingerprint is None else c.fingerprint.phash for c in candidates],
                      np.uint64)
    present = np.array([c.fingerprint is not None for c in candidates], bool)
    close = np.bitwise_count(hashes[lo] ^ hashes[hi]) <= max_distance
    return close & present[lo] & present[hi]  # type: ignore[no-any-return]


def same_content_of(candidates: Sequence[Candidate], lo: NDArray[np.int64],
                  hi: NDArray[np.int64]) -> NDArray[np.bool_]:
    codes: dict[str, int] = {}
    content = np.array([codes.setdefault(c.photo.content_hash, len(codes))
                        if c.photo.content_hash else -1 - i
                        for i, c in enumerate(candidates)], np.int64)
    return content[lo] == content[hi]  # type: ignore[no-any-return]


def _same_content_pairs(candidates: Sequence[Candidate]) -> list[tuple[int, int]]:
    by_hash: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        if c.photo.content_hash:
            by_hash.setdefault(c.photo.content_hash, []).append(i)
    return [(group[0], other) for group in by_hash.values() for other in group[1:]]

