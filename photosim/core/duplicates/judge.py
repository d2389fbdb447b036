"""Duplicate groups a user can trust: kinds told apart, no chains, every group explained.

Pure functions over catalog rows, stored fingerprints and CNN vectors; nothing here decodes a
file or searches the index, so a moved threshold slider regroups from stored neighbour pairs.

How a pair of photos is judged (see :class:`PairJudge`):

* **exact** — the same content hash.
* **same picture** — pixel grids agree almost perfectly (normalised cross-correlation of the
  small grayscale grids), the DCT hashes are close, the aspect ratio and the colours match.
  Resizing, re-encoding, another format and EXIF rotation (already applied on decode) keep all
  of these.
* **edited** — one grid explains the other after a monotone tone curve (so brightness,
  contrast, gamma, clipping, filters and grayscale cost nothing), leaving far less residual
  than the picture shows against itself shifted by one cell; the worst few cells are left
  out, where a watermark sits. A flip compares the mirrored grid; a crop is *contained*: the
  smaller grid is found, at some scale and sub-cell offset, inside the larger one. A re-shot
  scene, moved by a few percent, leaves a residual near or above that one-cell shift. The
  CNN must still agree (cosine above a floor), less so when the pixels are conclusive.
* **similar scene** — only the CNN agrees (a burst, the same scene re-shot). Never mixed with
  the kinds above; two photos whose EXIF capture times differ are never called copies.

Grouping is complete-linkage: two groups merge only when every cross pair is related at the
group's level, so A≈B and B≈C never drags A and C together unless A≈C too. The one allowed
chain runs through a copy, which stands for its picture: a crop of a photo is also a crop of
that photo's watermarked or filtered copy (same framing), even when the two edits together
hide it from a direct comparison; a re-shot of a scene is a re-shot of every copy of the
shot. Each group's cohesion is its weakest pair; its members are listed most central first.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from photosim.core.cancel import CancelToken, check
from photosim.core.fingerprint import Fingerprint, hamming
from photosim.core.keeper import choose_keeper
from photosim.core.types import DuplicateGroup, DuplicateKind, Photo, StageProgress, no_progress

Pair = tuple[int, int, float]
QueryBatch = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
FloatGrid = NDArray[np.float32]


class Level(IntEnum):
    """How close a pair is; lower is closer. Mirrors :class:`DuplicateKind`."""

    EXACT = 0
    SAME = 1
    EDITED = 2
    SIMILAR = 3


KIND_OF_LEVEL = {Level.EXACT: DuplicateKind.EXACT, Level.SAME: DuplicateKind.SAME,
                 Level.EDITED: DuplicateKind.EDITED, Level.SIMILAR: DuplicateKind.SIMILAR}


@dataclass(frozen=True)
class DedupSettings:
    """Thresholds, measured on benchmarks/dedup_eval.py; ``similar_cosine`` is the slider."""

    similar_cosine: float = 0.90  # CNN cosine for "similar scene"
    edited_cosine: float = 0.60  # CNN cosine an edited copy must still reach
    same_ncc: float = 0.995  # grid correlation of the same picture, in its worst strip
    same_hash_distance: int = 6  # DCT-hash bits a same picture may differ by
    same_colour_distance: float = 3.0  # mean |ΔRGB| of the 8×8 colour grids
    colour_cast: float = 0.08  # |Δ log channel ratio| a same picture may show (warm filters)
    saturation_ratio: float = 1.25  # chroma may grow or shrink by this factor (grayscale)
    edited_residual: float = 1.1  # tone-curve residual / 1-cell-shift energy of an aligned edit
    crop_residual: float = 0.35  # the same residual for a crop placed inside its original
    crop_residual_loose: float = 0.45  # ...enough when the crop correlation agrees as well
    edited_trim: float = 0.10  # share of worst cells an aligned edit may change (watermark)
    crop_trim: float = 0.06  # ... and a crop (less: a shifted view differs along one edge)
    proof_residual: float = 0.2  # pixels this conclusive need less of the CNN:
    proof_cosine: float = 0.35  # crops of grayscale copies drift far from the CNN's view
    crop_ncc: float = 0.965  # worst-strip correlation that admits the loose crop residual
    crop_min_worst: float = 0.75  # worst-strip correlation any crop must reach
    crop_noise_ratio: float = 1.5  # crop residual / the original's own resampling residual
    crop_blur: float = 0.6  # cells of blur before the fine crop comparison (anti-aliasing)
    min_crop_fraction: float = 0.45  # a crop keeps at least this much of each side
    aspect_tolerance: float = 0.03  # relative aspect difference still "the same shape"
    capture_gap_s: float = 2.0  # EXIF capture times further apart: different shots
    hash_distance: int = 8  # reduced mode (no model): DCT-hash candidate pairs
    # Past this many candidate pairs, pixels are compared only for pairs whose coarse 6×6
    # views agree somewhere (see pixel_gate): a large library's look-alikes are many.
    pixel_gate_above: int = 20_000
    pixel_gate_ncc: float = 0.75

    @classmethod
    def from_threshold(cls, threshold: float | None) -> DedupSettings:
        """Settings for a user threshold (the "similar scene" cosine); None means defaults."""
        if threshold is None:
            return cls()
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        return cls(similar_cosine=threshold)

    @classmethod
    def from_strictness(cls, strictness: float) -> DedupSettings:
        """One user-facing knob in [0, 1]: 0 lenient, 1 strict; 0.5 gives the defaults."""
        s = min(max(strictness, 0.0), 1.0) - 0.5
        base = cls()
        return replace(base, similar_cosine=min(0.99, base.similar_cosine + 0.12 * s),
                       edited_residual=base.edited_residual * (1 - s),
                       crop_residual=base.crop_residual * (1 - 0.5 * s),
                       crop_residual_loose=base.crop_residual_loose * (1 - 0.5 * s),
                       crop_ncc=base.crop_ncc + 0.06 * s,
                       same_ncc=min(0.995, base.same_ncc + 0.04 * s))


@dataclass(frozen=True)
class Candidate:
    """One photo as the grouping sees it."""

    photo: Photo
    fingerprint: Fingerprint | None
    vector_row: int | None  # row in `vectors`; None if not embedded


@dataclass(frozen=True)
class Relation:
    """The verdict on one pair: its level (None: unrelated) and a similarity in [0, 1]."""

    level: Level | None
    score: float
    reframed: bool = False  # one is a crop of the other, not the same framing
    mirrored: bool = False  # one is the other flipped left to right

    def within(self, level: Level) -> bool:
        return self.level is not None and self.level <= level


# -- candidate pairs ----------------------------------------------------------------------------
def neighbour_pairs_from_index(query_batch: QueryBatch, vectors: np.ndarray, k: int,
                               floor: float,
                               row_ids: Sequence[int] | np.ndarray | None = None) -> list[Pair]:
    """Unique ``(row_i, row_j, cosine)`` with ``i < j`` and ``cosine ≥ floor``.

    ``query_batch`` answers ids; when the index labels rows by photo id, ``row_ids`` (the id of
    each row of ``vectors``) maps them back to rows. Ids the mapping does not know are dropped.
    """
    if len(vectors) == 0:
        return []
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
                 score: NDArray[np.float32]) -> list[Pair]:
    """``(lo, hi, score)`` once per unordered pair, with its best score."""
    kept = unique_pair_entries(a, b, score)
    lo, hi = np.minimum(a[kept], b[kept]), np.maximum(a[kept], b[kept])
    return list(zip(lo.tolist(), hi.tolist(), score[kept].tolist(), strict=True))


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


def hash_pairs(fingerprints: Sequence[Fingerprint | None], max_distance: int) -> list[Pair]:
    """Pairs whose DCT hashes differ by at most ``max_distance`` bits, score 1 - d/64.

    Multi-index hashing: split the 64 bits into chunks; by pigeonhole two hashes within the
    distance agree on at least one chunk up to a few bits (the radius), so only photos whose
    chunks are that close are compared — with numpy, never in a Python double loop. The split
    is chosen for the library's size (see :func:`_hash_chunking`).
    """
    present = [i for i, f in enumerate(fingerprints) if f is not None]
    if len(present) < 2:
        return []
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
    return [(int(positions[i]), int(positions[j]), s)
            for i, j, s in unique_pairs(a, b, score)]


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


# -- judging a pair -----------------------------------------------------------------------------
PixelCache = dict[tuple[str, str], "Relation | None"]


# Part of every stored verdict's key: raise it when PairJudge's pixel comparison changes, so
# that verdicts stored by an earlier version are not taken for this one's.
JUDGE_VERSION = 1


class PixelVerdicts:
    """Pixel verdicts kept between groupings, so that a moved similar-scene threshold regroups
    without comparing a single grid again (at 100k photos, most of a grouping's time); the
    library stores them in its catalog too, for the next session.

    Keyed by the two files' content hashes; valid for one model's vectors (the verdicts use its
    cosine) and one set of thresholds other than ``similar_cosine``, which only decides the
    similar-scene level and is applied afresh each time (see :meth:`key`).
    """

    def __init__(self) -> None:
        self._verdicts: PixelCache = {}
        self._valid_for: str | None = None
        self._saved = 0  # verdicts, in insertion order, that the owner has stored already

    @staticmethod
    def key(settings: DedupSettings, model_id: str | None) -> str:
        """What the verdicts hold for, in a few characters: judge, thresholds and model."""
        valid_for = repr((JUDGE_VERSION, replace(settings, similar_cosine=0.0), model_id))
        return hashlib.sha1(valid_for.encode()).hexdigest()[:16]

    def for_key(self, key: str) -> tuple[PixelCache, bool]:
        """(The verdicts for ``key``, whether they were just started empty)."""
        fresh = key != self._valid_for
        if fresh:
            self._verdicts = {}
            self._valid_for = key
            self._saved = 0
        return self._verdicts, fresh

    def all_saved(self) -> None:
        """Count every verdict held as stored (they came from the store)."""
        self._saved = len(self._verdicts)

    def take_unsaved(self, key: str) -> list[tuple[tuple[str, str], Relation | None]]:
        """The verdicts for ``key`` judged since the last call, to be stored; none when other
        settings have replaced them meanwhile."""
        if key != self._valid_for:
            return []
        # list() copies in one step, which a search adding verdicts meanwhile cannot break
        unsaved = list(self._verdicts.items())[self._saved:]
        self._saved += len(unsaved)
        return unsaved


class PairJudge:
    """Decides how two candidates relate; verdicts are cached because grouping asks again."""

    def __init__(self, candidates: Sequence[Candidate], vectors: np.ndarray | None,
                 settings: DedupSettings, known: Iterable[Pair] = (),
                 pixel_cache: PixelCache | None = None) -> None:
        self.candidates = candidates
        self.vectors = vectors
        self.settings = settings
        self._pixel_cache = pixel_cache
        self._no_pixels: set[tuple[int, int]] = set()
        self._copies: dict[int, list[int]] = {}
        self._known = known
        self._cosines: dict[tuple[int, int], float] | None = None  # made on first need
        self._cache: dict[tuple[int, int], Relation] = {}
        self._grids: dict[int, FloatGrid] = {}
        self._standard: dict[tuple[int, tuple[int, ...]], FloatGrid | None] = {}
        self._balances: dict[int, tuple[NDArray[np.float64], float]] = {}
        self._self_fits: dict[int, float] = {}

    def __call__(self, i: int, j: int) -> Relation:
        key = (min(i, j), max(i, j))
        found = self._cache.get(key)
        if found is None:
            found = self._judge(*key)
            self._cache[key] = found
            if found.within(Level.EDITED):
                self._copies.setdefault(i, []).append(j)
                self._copies.setdefault(j, []).append(i)
        return found

    def copies_of(self, i: int) -> list[int]:
        """The photos judged so far to be copies of ``i`` (exact, same picture or edited)."""
        return self._copies.get(i, [])

    def cosine(self, i: int, j: int) -> float | None:
        ri, rj = self.candidates[i].vector_row, self.candidates[j].vector_row
        if self.vectors is not None and ri is not None and rj is not None:
            return float(np.dot(self.vectors[ri], self.vectors[rj]))
        if self.vectors is None:
            return None
        if self._cosines is None:  # only photos without a row need it: rare, so made lazily
            self._cosines = {(min(a, b), max(a, b)): s for a, b, s in self._known}
        return self._cosines.get((min(i, j), max(i, j)))

    def _judge(self, i: int, j: int) -> Relation:
        a, b = self.candidates[i], self.candidates[j]
        if a.photo.content_hash and a.photo.content_hash == b.photo.content_hash:
            return Relation(Level.EXACT, 1.0)
        cos = self.cosine(i, j)
        fa, fb = a.fingerprint, b.fingerprint
        if fa is None or fb is None or (i, j) in self._no_pixels:
            return self._similar_only(cos, None)
        pixels = self._cached_pixel_level(i, j, fa, fb, cos)
        if pixels is not None:
            return pixels
        return self._similar_only(cos, fa if cos is None else None, fb)

    def settled(self, i: int, j: int) -> Relation:
        """The verdict on a pair when merging groups: as judged if it was a candidate pair,
        else on the CNN alone. Pixels are compared for candidate pairs only — neighbours in
        the index or near in hash — so that merging large groups never starts a pixel
        comparison per cross pair; a copy that far from the others in the CNN's view joins
        through a member that shares its framing (see _related_through)."""
        found = self.known(i, j)
        if found is None:
            key = (min(i, j), max(i, j))
            self._no_pixels.add(key)
            found = self(*key)
        return found

    def known(self, i: int, j: int) -> Relation | None:
        """The verdict on a pair already judged, without judging it."""
        return self._cache.get((min(i, j), max(i, j)))

    def rule_out_pixels(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Judge these pairs (``i < j``) on their CNN cosine alone: a bulk check
        (:func:`pixel_gate`) found their pixels too far apart for any comparison to succeed."""
        self._no_pixels.update(pairs)

    def _cached_pixel_level(self, i: int, j: int, fa: Fingerprint, fb: Fingerprint,
                            cos: float | None) -> Relation | None:
        a, b = self.candidates[i].photo, self.candidates[j].photo
        key = None
        if self._pixel_cache is not None and a.content_hash and b.content_hash:
            key = (min(a.content_hash, b.content_hash), max(a.content_hash, b.content_hash))
            if key in self._pixel_cache:
                return self._pixel_cache[key]
        found = self._pixel_level(i, j, fa, fb, cos, _capture_differs(a, b, self.settings))
        if key is not None and self._pixel_cache is not None:
            self._pixel_cache[key] = found
        return found

    def _similar_only(self, cos: float | None, fa: Fingerprint | None,
                      fb: Fingerprint | None = None) -> Relation:
        if cos is not None:
            level = Level.SIMILAR if cos >= self.settings.similar_cosine else None
            return Relation(level, max(cos, 0.0))
        if fa is not None and fb is not None:  # reduced mode: no vectors at all
            close = hamming(fa.phash, fb.phash) <= self.settings.hash_distance
            return Relation(Level.SIMILAR if close else None,
                            1.0 - hamming(fa.phash, fb.phash) / 64)
        return Relation(None, 0.0)

    def _pixel_level(self, i: int, j: int, fa: Fingerprint, fb: Fingerprint,
                     cos: float | None, capture_differs: bool) -> Relation | None:
        s = self.settings
        if capture_differs:  # two shots, however alike
            return None
        same = self._same_picture(i, j, fa, fb, cos)
        if same is not None:
            return same
        if cos is not None and cos < min(s.proof_cosine, s.edited_cosine):
            return None  # too far apart in the CNN for any pixel evidence to matter
        edit = self._edit_residual(i, j, fa, fb)
        if edit is None:
            return None
        residual, reframed, mirrored = edit
        # Pixels that line up this well need less agreement from the CNN (a crop of a
        # grayscale copy can fall to 0.4 there); different photos never line up like this.
        floor = s.proof_cosine if residual <= s.proof_residual else s.edited_cosine
        if cos is not None and cos < floor:
            return None
        return Relation(Level.EDITED, cos if cos is not None else 1.0 - min(residual, 1.0),
                        reframed, mirrored)

    def _same_picture(self, i: int, j: int, fa: Fingerprint, fb: Fingerprint,
                      cos: float | None) -> Relation | None:
        """SAME when the grids, hashes and colours agree almost perfectly."""
        s = self.settings
        if not _aspect_close(fa.aspect, fb.aspect, s.aspect_tolerance):
            return None
        if hamming(fa.phash, fb.phash) > s.same_hash_distance:
            return None
        shape = self._grid(i).shape
        za, zb = self._standardised(i, shape), self._standardised(j, shape)
        if za is None or zb is None:
            return None  # a flat grid matches nothing (its correlation is undefined)
        whole, worst = _match(za, zb)
        if worst >= s.same_ncc and \
                _same_colours(fa, fb, self._balance(i), self._balance(j), s):
            return Relation(Level.SAME, cos if cos is not None else whole)
        return None

    def _standardised(self, i: int, shape: tuple[int, ...]) -> FloatGrid | None:
        """Photo ``i``'s grid at ``shape``, standardised (see :func:`_standardise`)."""
        key = (i, shape)
        if key not in self._standard:
            self._standard[key] = _standardise(_resize_grid(self._grid(i), shape))
        return self._standard[key]

    def _balance(self, i: int) -> tuple[NDArray[np.float64], float]:
        found = self._balances.get(i)
        if found is None:
            fp = self.candidates[i].fingerprint
            assert fp is not None
            found = self._balances[i] = _colour_balance(fp)
        return found

    def _edit_residual(self, i: int, j: int, fa: Fingerprint, fb: Fingerprint
                       ) -> tuple[float, bool, bool] | None:
        """(How far the pixels are from an edit of one another, lower is closer; whether the
        edit is a crop; whether one is mirrored), or None for no edit.

        An edit keeps the framing (tone curves, filters, grayscale, a watermark, a flip) or
        keeps part of it (a crop). Either way one grid, after a monotone tone curve, explains
        the other far better than the picture explains itself shifted by one cell; a re-shot
        scene, moved by a few percent, does not.
        """
        s = self.settings
        ga, gb = self._grid(i), self._grid(j)
        if _aspect_close(fa.aspect, fb.aspect, s.aspect_tolerance):
            aligned, mirrored = _aligned_residual(ga, _resize_grid(gb, ga.shape), s.crop_blur,
                                                  s.edited_trim)
            if aligned <= s.edited_residual:
                return aligned, False, mirrored
        fits = [self._crop_fit(big, small) for big, small in ((i, j), (j, i))]
        crop = min(fits, key=lambda f: f.residual)
        if _crop_accepted(crop, s):
            return crop.residual, True, crop.mirrored
        return None

    def _crop_fit(self, big: int, small: int) -> CropFit:
        """How well photo ``small`` fits inside photo ``big``, with ``big``'s own noise floor."""
        s = self.settings
        fit = _containment(self._grid(big), self._grid(small), s.min_crop_fraction,
                           s.crop_blur, s.crop_trim)
        if math.isinf(fit.residual):
            return fit  # no placement: the noise floor (a search of its own) is not needed
        return replace(fit, noise=self._self_fit(big))

    def _self_fit(self, i: int) -> float:
        """The residual of a photo fitted inside itself: what resampling alone costs on it.

        The search never tries the full size, so this is the residual of a 97 % view of the
        picture — the floor a true crop can reach on this picture's texture."""
        found = self._self_fits.get(i)
        if found is None:
            s = self.settings
            grid = self._grid(i)
            found = _containment(grid, grid, s.min_crop_fraction, s.crop_blur,
                                 s.crop_trim).residual
            self._self_fits[i] = found
        return found

    def _grid(self, i: int) -> FloatGrid:
        grid = self._grids.get(i)
        if grid is None:
            fp = self.candidates[i].fingerprint
            assert fp is not None
            grid = fp.grid.astype(np.float32)
            self._grids[i] = grid
        return grid


def _capture_differs(a: Photo, b: Photo, settings: DedupSettings) -> bool:
    """True when both photos carry EXIF capture times that are too far apart to be one shot."""
    ta, tb = _parse_time(a.date_taken), _parse_time(b.date_taken)
    if ta is None or tb is None:
        return False
    return abs((ta - tb).total_seconds()) > settings.capture_gap_s


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def _aspect_close(a: float, b: float, tolerance: float) -> bool:
    return abs(math.log(max(a, 1e-6) / max(b, 1e-6))) <= tolerance


def _same_colours(fa: Fingerprint, fb: Fingerprint,
                  balance_a: tuple[NDArray[np.float64], float],
                  balance_b: tuple[NDArray[np.float64], float], settings: DedupSettings) -> bool:
    """Colours match absolutely, in cast and in saturation.

    The absolute distance alone lets a dark or nearly neutral picture pass for its own warm
    filter or grayscale copy; a channel-ratio cast and a chroma ratio catch those at any
    brightness. Re-encoding moves neither by more than a few percent.
    """
    diff = np.abs(fa.colour.astype(np.int16) - fb.colour.astype(np.int16))
    if float(diff.mean()) > settings.same_colour_distance:
        return False
    (cast_a, chroma_a), (cast_b, chroma_b) = balance_a, balance_b  # see _colour_balance
    if float(np.abs(cast_a - cast_b).max()) > settings.colour_cast:
        return False
    return abs(math.log(chroma_a / chroma_b)) <= math.log(settings.saturation_ratio)


def _colour_balance(fp: Fingerprint) -> tuple[NDArray[np.float64], float]:
    """(log red/green and blue/green ratios of the mean colour, mean chroma + offset)."""
    cells = fp.colour.astype(np.float64)
    mean = cells.reshape(-1, 3).mean(axis=0) + 4.0  # the offset keeps dark pictures stable
    cast = np.log(mean[[0, 2]] / mean[1])
    chroma = float(np.abs(cells - cells.mean(axis=2, keepdims=True)).mean()) + 0.5
    return cast, chroma


def _resize_grid(grid: FloatGrid, shape: tuple[int, ...]) -> FloatGrid:
    if grid.shape == shape:
        return grid
    # Area averaging, like the fingerprint's own grid, so both sides are equally blurred.
    image = Image.fromarray(grid, mode="F").resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(image, np.float32)


def _match(za: FloatGrid, zb: FloatGrid) -> tuple[float, float]:
    """(whole-grid correlation, correlation of the worst edge strip) of two standardised grids
    of one shape (see :func:`_standardise`).

    For zero-mean, unit-variance grids, 1 - mean squared difference / 2 is the correlation.
    Computing it per strip (each quarter along every edge) exposes a shifted view, whose new
    content sits in one strip, where a global figure averages it away.
    """
    sq = np.square(za - zb)
    return 1.0 - float(sq.mean()) / 2.0, 1.0 - float(_worst_strip_error(sq)) / 2.0


def _worst_strip_error(sq: FloatGrid) -> FloatGrid:
    """The mean of ``sq`` (..., rows, cols) over the worst of its four edge strips, each a
    quarter of the grid along one edge."""
    rows, cols = sq.shape[-2:]
    qr, qc = max(1, rows // 4), max(1, cols // 4)
    by_row, by_col = sq.sum(axis=-1), sq.sum(axis=-2)
    worst: FloatGrid = np.maximum.reduce([
        by_row[..., :qr].sum(axis=-1) / (qr * cols), by_row[..., -qr:].sum(axis=-1) / (qr * cols),
        by_col[..., :qc].sum(axis=-1) / (rows * qc), by_col[..., -qc:].sum(axis=-1) / (rows * qc)])
    return worst


def _standardise(grid: FloatGrid) -> FloatGrid | None:
    std = float(grid.std())
    if std < 1e-3:
        return None
    standard: FloatGrid = (grid - grid.mean()) / std
    return standard


@dataclass(frozen=True)
class CropFit:
    """How well a picture fits inside another: tone-curve residual (lower is better, see
    :func:`_tone_residuals`), correlation of the worst edge strip (higher is better) and the
    residual the larger picture leaves against itself (its texture's noise floor)."""

    residual: float
    worst: float
    noise: float = 0.0
    mirrored: bool = False


_NO_FIT = CropFit(math.inf, 0.0)
_NOISE_FLOOR = 0.02  # below this a self-fit is exact; dividing by it would only amplify noise


def _crop_accepted(fit: CropFit, s: DedupSettings) -> bool:
    """A crop fits far better than a shifted view, on every count that can tell them apart.

    A shifted view brings content the other picture lacks, which lifts the residual, drops the
    correlation of the edge strip holding it, and leaves the fit well above what resampling
    alone costs on this picture; a true crop stays within its picture's noise floor.
    """
    if fit.residual > s.crop_noise_ratio * max(fit.noise, _NOISE_FLOOR):
        return False
    if fit.residual <= s.crop_residual and fit.worst >= s.crop_min_worst:
        return True
    return fit.residual <= s.crop_residual_loose and fit.worst >= s.crop_ncc


def _containment(big: FloatGrid, small: FloatGrid, min_fraction: float,
                 blur: float, trim: float) -> CropFit:
    """How well ``small`` (or its mirror) fits somewhere inside ``big``.

    The crop's size inside ``big`` is unknown: a coarse search tries scales from
    ``min_fraction`` to 0.97 of ``big``'s width at whole-cell offsets; the best placement is
    then refined at sub-cell offsets and finer scales, where a true crop lines up almost
    exactly and a shifted view of the scene does not. ``blur`` (in cells) smooths both sides
    before that comparison: the two grids sample the scene at different cell phases, and on
    fine texture that aliasing, not the content, would otherwise decide the score.
    """
    bh, bw = big.shape
    small_aspect = small.shape[1] / small.shape[0]
    best: tuple[float, int, int, int, int, bool] | None = None
    for fraction in np.linspace(min_fraction, 0.97, _CROP_SCALES):
        cols = round(float(fraction) * bw)
        rows = round(cols / small_aspect)
        if cols < 4 or rows < 4 or rows > bh or rows < min_fraction * bh:
            continue
        patch = _resize_grid(small, (rows, cols))
        for mirrored in (False, True):
            score, y, x = _best_window(big, patch[:, ::-1] if mirrored else patch)
            if best is None or score > best[0]:
                best = (score, y, x, rows, cols, mirrored)
    if best is None or best[0] < _CROP_GATE:
        return _NO_FIT  # nowhere near: spare the fine comparison (most look-alike pairs)
    _, y, x, rows, cols, mirrored = best
    fit = _refine(big, small[:, ::-1] if mirrored else small, y, x, rows, cols, blur, trim)
    return replace(fit, mirrored=mirrored)


_CROP_SCALES = 10  # coarse scales tried between the smallest crop and 97 %
# Correlation of the best coarse placement below which a fine comparison is not worth its
# cost: true crops on the evaluation sets start near 0.77, look-alike photos mostly below.
_CROP_GATE = 0.7
_SHIFTS = np.array([(s, dy, dx) for s in (0.97, 1.0, 1.03) for dy in (-0.5, -0.25, 0.0, 0.25, 0.5)
                    for dx in (-0.5, -0.25, 0.0, 0.25, 0.5)], np.float32)


def _refine(big: FloatGrid, small: FloatGrid, y: int, x: int, rows: int,
            cols: int, blur: float, trim: float) -> CropFit:
    """Best fit of ``small`` over sub-cell shifts and ±3 % scales around a coarse placement."""
    # Imported here, not at the top: scipy took a fifth of the app's start-up.
    from scipy.ndimage import gaussian_filter, map_coordinates

    patch = _resize_grid(small, (rows, cols))
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    scale, dy, dx = (_SHIFTS[:, k, None, None] for k in range(3))
    coords = np.stack([y + dy + rr * scale, x + dx + cc * scale])  # (2, shifts, rows, cols)
    windows = map_coordinates(big, coords.reshape(2, -1), order=1, mode="nearest")
    windows = windows.reshape(len(_SHIFTS), rows, cols).astype(np.float32)
    if blur > 0:
        windows = gaussian_filter(windows, (0.0, blur, blur), mode="nearest")
        patch = gaussian_filter(patch, blur, mode="nearest")
    residuals = _tone_residuals(windows, patch, trim)
    best = int(np.argmin(residuals))
    return CropFit(float(residuals[best]), _worst_strips(windows[best:best + 1], patch)[0])


def _aligned_residual(a: FloatGrid, b: FloatGrid, blur: float, trim: float
                      ) -> tuple[float, bool]:
    """(:func:`_tone_residuals` of two grids of one framing, whether ``a`` fits better
    mirrored)."""
    from scipy.ndimage import gaussian_filter  # here, not at the top: see _refine

    if blur > 0:
        a, b = gaussian_filter(a, blur, mode="nearest"), gaussian_filter(b, blur, mode="nearest")
    residuals = _tone_residuals(np.stack([a, a[:, ::-1]]), b, trim)
    # Mirrored only when clearly so: a symmetric picture fits either way.
    return float(residuals.min()), bool(2 * residuals[1] < residuals[0])


def _tone_residuals(references: FloatGrid, target: FloatGrid,
                    trim: float) -> NDArray[np.float64]:
    """For each reference grid, how much of ``target`` no tone curve of it explains.

    The tone curve is the monotone map that gives the reference the target's histogram
    (quantile matching), so brightness, contrast, gamma, clipping and grayscale cost nothing.
    What is left — trimmed of the worst ``trim`` share of cells, where a watermark or a
    sticker sits — is divided by the
    energy the target loses to a one-cell shift in its flattest direction: that makes the
    figure comparable between busy and smooth pictures, and a re-shot scene, moved by more
    than a cell, lands near or above 1 while an edited copy stays far below.
    """
    flattest_shift = _shift_energy(target, trim)
    if flattest_shift < _MIN_STRUCTURE:
        # A featureless grid fits anywhere (and explains anything, the other way round): no
        # pixel evidence either way. Trimmed, like the residual, so that a few busy cells in
        # a plain picture are not all it has. References are checked the same way below.
        return np.full(len(references), np.inf)
    n = target.size
    flat_refs = references.reshape(len(references), n)
    ordered_target = np.sort(target.ravel())
    predicted = np.empty_like(flat_refs)
    np.put_along_axis(predicted, np.argsort(flat_refs, axis=1, kind="stable"),
                      ordered_target[np.newaxis, :], axis=1)
    forward = _trimmed_mean((predicted - target.ravel()) ** 2, trim)
    # And the other way round, so that neither side's flat regions decide alone.
    ordered_refs = np.sort(flat_refs, axis=1)
    back = np.empty_like(flat_refs)
    rank = np.argsort(np.argsort(target.ravel(), kind="stable"), kind="stable")
    back[:] = ordered_refs[:, rank]
    variance_ratio = float(target.var()) / np.maximum(flat_refs.var(axis=1), 1e-6)
    backward = _trimmed_mean((back - flat_refs) ** 2, trim) * variance_ratio
    residuals: NDArray[np.float64] = np.minimum(forward, backward) / flattest_shift
    count = len(references)
    across = _trimmed_mean(((references[:, :, 1:] - references[:, :, :-1]) ** 2)
                           .reshape(count, -1), trim)
    down = _trimmed_mean(((references[:, 1:, :] - references[:, :-1, :]) ** 2)
                         .reshape(count, -1), trim)
    residuals[np.minimum(across, down) < _MIN_STRUCTURE] = np.inf
    return residuals


_MIN_STRUCTURE = 1.0  # mean squared one-cell change (gray levels²) of a grid worth judging


def _trimmed_mean(squares: NDArray[np.float32], trim: float) -> NDArray[np.float64]:
    """Mean of each row without its largest ``trim`` share."""
    keep = max(1, int(squares.shape[-1] * (1.0 - trim)))
    means: NDArray[np.float64] = np.sort(squares, axis=-1)[..., :keep].mean(axis=-1,
                                                                           dtype=np.float64)
    return means


def _shift_energy(grid: FloatGrid, trim: float) -> float:
    """Trimmed mean squared change of ``grid`` under a one-cell shift, along its flatter axis."""
    across = (grid[:, 1:] - grid[:, :-1]) ** 2
    down = (grid[1:, :] - grid[:-1, :]) ** 2
    return float(min(_trimmed_mean(across.ravel(), trim), _trimmed_mean(down.ravel(), trim)))


def _worst_strips(windows: FloatGrid, patch: FloatGrid) -> list[float]:
    """Per window, the correlation with ``patch`` of the worst of its four edge strips."""
    zp = _standardise(patch)
    if zp is None:
        return [0.0] * len(windows)
    centred = windows - windows.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt((centred * centred).mean(axis=(1, 2), keepdims=True))
    sq = (centred / np.maximum(std, 1e-3) - zp) ** 2
    worst = _worst_strip_error(sq)
    return (1.0 - np.minimum(worst / 2.0, 1.0)).tolist()  # type: ignore[no-any-return]


def _best_window(big: FloatGrid, patch: FloatGrid) -> tuple[float, int, int]:
    """Highest normalised cross-correlation of ``patch`` over every window of ``big``."""
    windows = np.lib.stride_tricks.sliding_window_view(big, patch.shape)
    n = patch.size
    flat = windows.reshape(windows.shape[0], windows.shape[1], n)
    w_centred = flat - flat.mean(axis=2, keepdims=True)
    p = (patch - patch.mean()).ravel()
    p_norm = float(np.sqrt((p * p).sum()))
    w_norm = np.sqrt((w_centred * w_centred).sum(axis=2))
    if p_norm < 1e-6:
        return 0.0, 0, 0
    scores = (w_centred @ p) / np.maximum(w_norm * p_norm, 1e-6)
    y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[y, x]), int(y), int(x)


# -- grouping -----------------------------------------------------------------------------------
# Stages reported to a find_groups progress callback; pairs judged between two reports.
COMPARING_PIXELS = "Comparing pixels"
GROUPING = "Grouping"
_REPORT_EVERY = 500


def find_groups(candidates: Sequence[Candidate], vectors: np.ndarray | None,
                pairs: Sequence[Pair], settings: DedupSettings,
                not_duplicates: Collection[frozenset[int]] = (),
                reference_folders: Sequence[Path] = (),
                pixel_cache: PixelCache | None = None,
                gate_scores: Sequence[float] | NDArray[np.float32] | None = None, *,
                progress: StageProgress | None = None,
                cancel: CancelToken | None = None) -> list[DuplicateGroup]:
    """Duplicate groups of every kind; ``pairs`` index into ``candidates`` and, when
    ``vectors`` are given, score each pair by its cosine (as :func:`neighbour_pairs_from_index`
    does). ``gate_scores``, when known, are :func:`pixel_gate_scores` of ``pairs`` (NaN where
    not known), so that the gate need not look at those pairs again.

    A photo may appear in one group per kind: the exact copies of a file, the same picture in
    other sizes and formats, its edits, and shots of the same scene are separate review queues.
    A group of a looser kind is reported only when it adds photos to the stricter one.
    ``pixel_cache`` (see :class:`PixelVerdicts`) carries pixel verdicts over to the next call.
    ``progress(stage, done, total)`` hears of each stage and of every few hundred pairs
    judged; there ``cancel`` is checked too (``Cancelled``; the verdicts cached stay valid).
    """
    report = progress or no_progress
    report(COMPARING_PIXELS, 0, 0)
    judge = PairJudge(candidates, vectors, settings, pairs, pixel_cache)
    blocked = _blocked_pairs(candidates, not_duplicates)
    edges = _edges(candidates, pairs, settings, judge, blocked, gate_scores, report, cancel)
    groups: list[DuplicateGroup] = []
    seen: set[frozenset[int]] = set()
    for done, level in enumerate(Level):
        check(cancel)
        report(GROUPING, done, len(Level))
        for cluster in _complete_linkage(edges, level, judge, blocked):
            members = frozenset(cluster)
            if len(members) < 2 or members in seen:
                continue
            seen.add(members)
            groups.append(_make_group(candidates, cluster, level, judge, reference_folders))
    return groups


def _blocked_pairs(candidates: Sequence[Candidate],
                   not_duplicates: Collection[frozenset[int]]) -> set[tuple[int, int]]:
    """Candidate-position pairs the user said are not duplicates."""
    if not not_duplicates:
        return set()
    position: dict[int, list[int]] = {}
    for i, c in enumerate(candidates):
        position.setdefault(c.photo.id, []).append(i)
    blocked: set[tuple[int, int]] = set()
    for pair in not_duplicates:
        ids = tuple(pair)
        if len(ids) != 2:
            continue
        for i in position.get(ids[0], []):
            for j in position.get(ids[1], []):
                blocked.add((min(i, j), max(i, j)))
    return blocked


def _edges(candidates: Sequence[Candidate], pairs: Sequence[Pair], settings: DedupSettings,
           judge: PairJudge, blocked: set[tuple[int, int]],
           gate_scores: Sequence[float] | NDArray[np.float32] | None,
           report: StageProgress = no_progress,
           cancel: CancelToken | None = None) -> list[tuple[int, int, Relation]]:
    """Related pairs from the given neighbours, hash-near pairs and same-content files."""
    lo, hi, given, gates = _pairs_to_judge(candidates, pairs, settings, gate_scores)
    cosines = None if judge.vectors is None else \
        _cosines_of_pairs(candidates, judge.vectors, lo, hi, given)
    same = _same_content(candidates, lo, hi)
    kept = could_relate(candidates, judge.vectors, lo, hi, settings, cosines, same)
    lo, hi = lo[kept], hi[kept]
    if len(lo) > settings.pixel_gate_above:
        lo, hi = _past_the_pixel_gate(candidates, judge, lo, hi,
                                      None if cosines is None else cosines[kept], settings,
                                      gates[kept], same[kept], cancel)
    edges = []
    for done, (i, j) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        if done % _REPORT_EVERY == 0:
            check(cancel)
            report(COMPARING_PIXELS, done, len(lo))
        if (i, j) in blocked:
            continue
        relation = judge(i, j)
        if relation.level is not None:
            edges.append((i, j, relation))
    return edges  # in no order: _densest_first orders them for each level


def _past_the_pixel_gate(candidates: Sequence[Candidate], judge: PairJudge,
                         lo: NDArray[np.int64], hi: NDArray[np.int64],
                         cosines: NDArray[np.float32] | None, settings: DedupSettings,
                         known: NDArray[np.float32], same_content: NDArray[np.bool_],
                         cancel: CancelToken | None = None
                         ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The pairs still worth judging one by one once the pixel gate has told the judge
    which pixels cannot agree: those it passed, and, on the CNN alone, the same file or a
    similar scene. The rest cannot relate at all. ``known``: gate scores already known (NaN
    where not); ``same_content``: which pairs are the same file (see :func:`_same_content`)."""
    scores = known.copy()
    todo = np.flatnonzero(np.isnan(scores))
    scores[todo] = pixel_gate_scores([c.fingerprint for c in candidates], lo[todo], hi[todo],
                                     cancel)
    pixels = ~(scores < settings.pixel_gate_ncc)  # NaN (no fingerprint) passes
    judge.rule_out_pixels(zip(lo[~pixels].tolist(), hi[~pixels].tolist(), strict=True))
    keep = pixels | same_content
    if cosines is None:
        keep[:] = True
    else:  # NaN (no vector) is kept
        keep |= ~(cosines < settings.similar_cosine - _COSINE_MARGIN)
    return lo[keep], hi[keep]


_GATE_SIDE = 6  # cells of the coarse views the gate compares
_GATE_SCALES = (0.45, 0.6, 0.75, 0.9, 1.0)  # window sizes tried, as a share of each side
_GATE_STEPS = 4  # window positions along each side at every scale below 1
_GATE_WINDOWS = sum(1 if scale >= 1 else _GATE_STEPS ** 2 for scale in _GATE_SCALES)


def pixel_gate(candidates: Sequence[Candidate], lo: NDArray[np.int64], hi: NDArray[np.int64],
               threshold: float) -> NDArray[np.bool_]:
    """Whether each pair's pixels may agree: its :func:`pixel_gate_scores` reaches
    ``threshold``. A necessary condition only: a copy, an edit or a crop of a photo lines up
    with one of the windows roughly at this scale, while most look-alike photos do not. Pairs
    without fingerprints pass."""
    scores = pixel_gate_scores([c.fingerprint for c in candidates], lo, hi)
    passed: NDArray[np.bool_] = ~(scores < threshold)  # NaN (no fingerprint) passes
    return passed


def pixel_gate_scores(fingerprints: Sequence[Fingerprint | None], lo: NDArray[np.int64],
                      hi: NDArray[np.int64], cancel: CancelToken | None = None
                      ) -> NDArray[np.float32]:
    """Per pair of positions in ``fingerprints``, the best correlation, over a bank of windows
    of one photo's grid (the whole of it among them), with the other's whole grid as is or
    mirrored, both seen at 6×6 cells; NaN where a photo has no fingerprint. Each window keeps
    its photo's aspect. Computed for all pairs at once with matrix products; ``cancel`` is
    checked between chunks of photos."""
    if len(lo) == 0:
        return np.zeros(0, np.float32)
    wanted = np.unique(np.concatenate([lo, hi]))
    wholes = _gate_views(fingerprints, wanted, whole_only=True).reshape(-1, _GATE_SIDE,
                                                                       _GATE_SIDE)
    both = np.stack([wholes, wholes[:, :, ::-1]], axis=1).reshape(len(wanted), 2, -1)
    best = np.full(len(lo), -np.inf, np.float32)
    sides = [np.searchsorted(wanted, lo), np.searchsorted(wanted, hi)]
    orders = [np.argsort(side, kind="stable") for side in sides]
    # Each photo's bank is made once, a chunk of photos at a time (the banks of 100k photos
    # would take 470 MB), and matched on both sides of its pairs.
    for start in range(0, len(wanted), _GATE_CHUNK):
        check(cancel)
        stop = min(start + _GATE_CHUNK, len(wanted))
        banks = _gate_views(fingerprints, wanted[start:stop], whole_only=False)
        for big, small, order in ((*sides, orders[0]), (*sides[::-1], orders[1])):
            first, last = np.searchsorted(big[order], [start, stop])
            pairs = order[first:last]
            scores = _best_window_scores(banks, both, big[pairs] - start, small[pairs])
            best[pairs] = np.maximum(best[pairs], scores)
    return best


_GATE_CHUNK = 2048  # photos whose window banks are made and matched at a time
_GATE_SLOTS = 8  # pairs of one photo matched in one small product (more take further rows)


def _best_window_scores(banks: FloatGrid, wholes: FloatGrid, big: NDArray[np.int64],
                        small: NDArray[np.int64]) -> NDArray[np.float32]:
    """Per pair, the best correlation of ``small``'s whole view (as is or mirrored, ``wholes``:
    (photos, 2, 36)) with a window of ``big``'s bank (``banks``: (photos, windows, 36)).

    The pairs of one photo are laid out in rows of up to :data:`_GATE_SLOTS` pairs, so that
    one stacked matrix product matches every row's bank against its row's views."""
    count = len(big)
    if count == 0:
        return np.empty(0, np.float32)
    order = np.argsort(big, kind="stable")
    ordered = big[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    rank = np.arange(count) - np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    slot = rank % _GATE_SLOTS
    row = np.cumsum(starts | (slot == 0)) - 1
    rows = int(row[-1]) + 1
    views = np.zeros((rows, _GATE_SLOTS, *wholes.shape[1:]), np.float32)
    views[row, slot] = wholes[small[order]]
    row_banks = banks[ordered[np.flatnonzero(starts | (slot == 0))]]  # (rows, windows, 36)
    scores = np.matmul(row_banks, views.reshape(rows, -1, wholes.shape[2]).transpose(0, 2, 1))
    best_per_slot = scores.max(axis=1).reshape(rows, _GATE_SLOTS, -1).max(axis=2)
    best = np.empty(count, np.float32)
    best[order] = best_per_slot[row, slot]
    return best


def _gate_views(fingerprints: Sequence[Fingerprint | None], photos: NDArray[np.int64],
                whole_only: bool) -> FloatGrid:
    """(photos, windows, 36): standardised 6×6 views of every window of each photo's grid
    (see :func:`_gate_windows`; the whole frame last), or of the whole frame only; rows of NaN
    for photos without a fingerprint."""
    windows = 1 if whole_only else _GATE_WINDOWS
    views = np.full((len(photos), windows, _GATE_SIDE ** 2), np.nan, np.float32)
    by_shape: dict[tuple[int, int], list[int]] = {}
    for row, i in enumerate(photos.tolist()):
        fp = fingerprints[i]
        if fp is not None:
            by_shape.setdefault((int(fp.grid.shape[0]), int(fp.grid.shape[1])), []).append(row)
    for rows in by_shape.values():
        for start in range(0, len(rows), 4096):
            part = rows[start:start + 4096]
            grids = np.stack([fingerprints[int(photos[r])].grid  # type: ignore[union-attr]
                              for r in part]).astype(np.float32)
            sampled = _gate_windows(grids, whole_only)
            centred = sampled - sampled.mean(axis=2, keepdims=True)
            norms = np.sqrt(np.einsum("pwc,pwc->pw", centred, centred))[:, :, np.newaxis]
            views[part] = centred / np.maximum(norms, 1e-3)
    return views


def _gate_windows(grids: FloatGrid, whole_only: bool = False) -> FloatGrid:
    """(photos, windows, 36): each grid, smoothed by about a cell (so a point stands for its
    cell), seen at 6×6 points in every window of :data:`_GATE_SCALES`, or in the whole frame.

    Smoothing and bilinear sampling are both separable: one matrix product over the whole
    stack samples the columns of every window position at every scale, and one per scale its
    rows (a tenth of the arithmetic of one product with the whole 2-D sampling matrix)."""
    count, rows, cols = grids.shape
    along_rows, along_cols = _gate_sampling(rows), _gate_sampling(cols)
    if whole_only:  # the last scale is the whole frame
        along_rows, along_cols = along_rows[-1:], along_cols[-1:]
    # (photos, rows, cols) → (photos, rows, column points of every scale), in one product
    by_cols = (grids.reshape(count * rows, cols) @ np.concatenate(along_cols).T)
    by_cols = by_cols.reshape(count, rows, -1)
    views, start, side = [], 0, _GATE_SIDE
    for scale_rows in along_rows:
        points, offsets = len(scale_rows), len(scale_rows) // side
        # this scale's columns → (photos, column points, row points), in one product
        part = by_cols[:, :, start:start + points].transpose(0, 2, 1).reshape(-1, rows)
        sampled = (part @ scale_rows.T).reshape(count, offsets, side, offsets, side)
        # (photo, x offset, x, y offset, y) → (photo, y offset, x offset, y, x)
        views.append(sampled.transpose(0, 3, 1, 4, 2).reshape(count, offsets * offsets, -1))
        start += points
    return np.concatenate(views, axis=1)


@functools.lru_cache(maxsize=64)
def _gate_sampling(length: int) -> tuple[FloatGrid, ...]:
    """Per gate scale, the linear map from ``length`` cells along one axis to the 6 points of
    each window position along it: a Gaussian of one cell (edges repeated), then linear
    interpolation at the window's cell centres (clamped at the edges)."""
    from scipy.ndimage import gaussian_filter1d  # not at the top: see _refine

    smoothing = gaussian_filter1d(np.eye(length, dtype=np.float64), 1.0, axis=0, mode="nearest")
    cells = (np.arange(_GATE_SIDE, dtype=np.float64) + 0.5) / _GATE_SIDE
    maps = []
    for scale in _GATE_SCALES:
        offsets = np.linspace(0.0, 1.0 - scale, _GATE_STEPS if scale < 1 else 1)
        points = np.clip(((offsets[:, np.newaxis] + scale * cells) * length - 0.5).ravel(),
                         0.0, length - 1.0)
        below = np.floor(points).astype(np.int64)
        above = np.minimum(below + 1, length - 1)
        interpolate = np.zeros((len(points), length))
        np.add.at(interpolate, (np.arange(len(points)), below), 1.0 - (points - below))
        np.add.at(interpolate, (np.arange(len(points)), above), points - below)
        maps.append((interpolate @ smoothing).astype(np.float32))
    return tuple(maps)


def _pairs_to_judge(candidates: Sequence[Candidate], pairs: Sequence[Pair],
                    settings: DedupSettings,
                    gate_scores: Sequence[float] | NDArray[np.float32] | None = None
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32],
                               NDArray[np.float32]]:
    """(lo, hi, given, gates) positions, lo < hi, each pair once: neighbours, hash-near and
    same content; ``given`` is the score ``pairs`` gave a pair and ``gates`` its gate score
    from ``gate_scores`` (NaN for the pairs they did not give)."""
    hashed = hash_pairs([c.fingerprint for c in candidates], settings.same_hash_distance)
    same = _same_content_pairs(candidates)
    n = max(len(candidates), 1)
    a = np.fromiter((p[0] for p in pairs), np.int64, len(pairs))
    b = np.fromiter((p[1] for p in pairs), np.int64, len(pairs))
    scores = np.fromiter((p[2] for p in pairs), np.float32, len(pairs))
    gates = np.full(len(pairs), np.nan, np.float32) if gate_scores is None else \
        np.asarray(gate_scores, np.float32)
    distinct = a != b
    given_keys = _pair_keys(a[distinct], b[distinct], n)
    other_keys = _pair_keys(
        np.fromiter(itertools.chain((p[0] for p in hashed), (p[0] for p in same)), np.int64),
        np.fromiter(itertools.chain((p[1] for p in hashed), (p[1] for p in same)), np.int64), n)
    keys = np.unique(np.concatenate([given_keys, other_keys]))
    where = np.searchsorted(keys, given_keys)
    given = np.full(len(keys), np.nan, np.float32)
    given[where] = scores[distinct]
    known_gates = np.full(len(keys), np.nan, np.float32)
    known_gates[where] = gates[distinct]
    return keys // n, keys % n, given, known_gates


def _pair_keys(a: NDArray[np.int64], b: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """One integer per unordered pair of distinct positions below ``n``, lower position first."""
    distinct = a != b
    a, b = a[distinct], b[distinct]
    keys: NDArray[np.int64] = np.minimum(a, b) * n + np.maximum(a, b)
    return keys


# Cosines computed here and in PairJudge.cosine may differ in the last bits; a pair this close
# to a threshold is left to the judge.
_COSINE_MARGIN = 1e-4


def could_relate(candidates: Sequence[Candidate], vectors: np.ndarray | None,
                 lo: NDArray[np.int64], hi: NDArray[np.int64], settings: DedupSettings,
                 cosines: NDArray[np.float32] | None = None,
                 same_content: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
    """False for pairs that :class:`PairJudge` would certainly find unrelated, over all pairs at
    once, so that only the rest is judged one by one in Python.

    The judge relates two different files only when the CNN agrees (cosine at least the
    ``edited_cosine``, the ``similar_cosine`` or, for conclusive pixels, the ``proof_cosine``)
    or, for the "same picture" path, when their DCT hashes are within ``same_hash_distance``;
    a pair without a cosine (no vector) is always judged. ``cosines`` (see
    :func:`_cosines_of_pairs`) and ``same_content`` (:func:`_same_content`) save computing
    them again.
    """
    n = len(lo)
    maybe = np.ones(n, bool)
    if vectors is None or n == 0:
        return maybe
    if cosines is None:
        cosines = _cosines_of_pairs(candidates, vectors, lo, hi)
    cnn_floor = min(settings.edited_cosine, settings.similar_cosine,
                    settings.proof_cosine) - _COSINE_MARGIN
    maybe[cosines < cnn_floor] = False  # NaN (no vector) stays
    maybe |= _hashes_within(candidates, lo, hi, settings.same_hash_distance)
    maybe |= _same_content(candidates, lo, hi) if same_content is None else same_content
    return maybe


def _cosines_of_pairs(candidates: Sequence[Candidate], vectors: np.ndarray,
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


def _same_content(candidates: Sequence[Candidate], lo: NDArray[np.int64],
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


def _complete_linkage(edges: list[tuple[int, int, Relation]], level: Level, judge: PairJudge,
                      blocked: set[tuple[int, int]]) -> list[list[int]]:
    """Merge along edges, closest first, only when every cross pair is related at ``level``."""
    cluster_of: dict[int, list[int]] = {}
    for i, j, _ in _densest_first(edges, level):
        ci = cluster_of.get(i, [i])
        cj = cluster_of.get(j, [j])
        if ci is cj or not _holds(ci, cj, level, judge, blocked):
            continue
        merged = ci + cj
        for member in merged:
            cluster_of[member] = merged
    unique = {id(c): c for c in cluster_of.values()}
    return sorted((sorted(c) for c in unique.values()), key=lambda c: c[0])


def _densest_first(edges: list[tuple[int, int, Relation]], level: Level
                   ) -> list[tuple[int, int, Relation]]:
    """The edges at or below ``level``, strictest first, then by how connected their ends are.

    A crop of a photo also fits inside a re-shot view that covers the same region; joining
    the photo's family (many related members) before a lone look-alike keeps it where it
    came from. Within equal support the closest pair goes first.
    """
    kept = [e for e in edges if e[2].within(level)]
    degree: dict[int, int] = {}
    for i, j, _ in kept:
        degree[i] = degree.get(i, 0) + 1
        degree[j] = degree.get(j, 0) + 1
    return sorted(kept, key=lambda e: (e[2].level, -(degree[e[0]] + degree[e[1]]),
                                       -e[2].score, e[0], e[1]))


def _holds(ci: list[int], cj: list[int], level: Level, judge: PairJudge,
           blocked: set[tuple[int, int]]) -> bool:
    members = {*ci, *cj}
    for a in ci:
        for b in cj:
            if (min(a, b), max(a, b)) in blocked:
                return False
            if judge.settled(a, b).within(level):
                continue
            if level < Level.EDITED or not _related_through(a, b, members, level, judge):
                return False
    return True


def _related_through(a: int, b: int, members: Collection[int], level: Level,
                     judge: PairJudge) -> bool:
    """Whether ``a`` relates to ``b`` at ``level`` through a member that is a copy of one of
    them — the only chaining allowed, because a copy stands for its picture.

    * EDITED: a crop of a photo is, geometrically, also a crop of that photo's watermarked or
      filtered copy, but the two edits together can hide it from a direct comparison. Only a
      framing-preserving link passes this on, so a crop never vouches for a re-shot view that
      happens to contain the same region.
    * SIMILAR: a re-shot of a scene is a re-shot of every copy of the shot, however far an
      edit (grayscale, a crop) moved that copy in the CNN's view.
    """
    for x, y in ((a, b), (b, a)):
        # Only through pairs already judged (the candidate edges): composing must not send
        # every member of a large group through the pixel comparison again.
        for m in judge.copies_of(x):
            if m == y or m not in members:
                continue
            link, onward = judge.known(x, m), judge.known(m, y)
            if link is None or onward is None:
                continue
            if level == Level.EDITED:
                copy = link.within(Level.EDITED) and not link.reframed
            else:
                copy = link.within(Level.EDITED)
            if copy and onward.within(level):
                return True
    return False


def _make_group(candidates: Sequence[Candidate], cluster: list[int], level: Level,
                judge: PairJudge, reference_folders: Sequence[Path]) -> DuplicateGroup:
    scores = np.ones((len(cluster), len(cluster)), np.float32)
    for x, a in enumerate(cluster):
        for y in range(x + 1, len(cluster)):
            scores[x, y] = scores[y, x] = judge.settled(a, cluster[y]).score
    centrality = scores.sum(axis=1)
    order = sorted(range(len(cluster)), key=lambda x: (-centrality[x], cluster[x]))
    members = tuple(candidates[cluster[x]].photo for x in order)
    sharpness = {c.photo.id: c.fingerprint.sharpness
                 for c in (candidates[i] for i in cluster) if c.fingerprint is not None}
    keeper, reason = choose_keeper(members, reference_folders, sharpness)
    position = {candidates[i].photo.id: i for i in cluster}
    relations = tuple("" if m.id == keeper.id else
                      describe_copy(keeper, m, judge.settled(position[keeper.id], position[m.id]))
                      for m in members)
    return DuplicateGroup(KIND_OF_LEVEL[level], members, float(scores.min()), keeper, reason,
                          relations)


def describe_copy(keeper: Photo, other: Photo, relation: Relation) -> str:
    """How ``other`` differs from the suggested keeper, in a few words ("cropped, smaller,
    PNG"), so a reviewer sees why it is in the group before comparing pixels."""
    if relation.level == Level.EXACT:
        return "identical file"
    if relation.level == Level.SAME:
        what = ["same picture"]
    elif relation.level == Level.EDITED:
        what = ["cropped" if relation.reframed else "mirrored" if relation.mirrored
                else "colours, tones or marks changed"]
    elif relation.level == Level.SIMILAR:
        return "another shot of the same scene"
    else:  # held in the group through another member (see _related_through)
        what = ["a copy of another photo in the group"]
    if other.pixels and keeper.pixels and other.pixels != keeper.pixels:
        what.append(f"{'smaller' if other.pixels < keeper.pixels else 'larger'} "
                    f"({other.width}×{other.height})")
    if other.format and keeper.format and other.format != keeper.format:
        what.append(other.format)
    return ", ".join(what)
