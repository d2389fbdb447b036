"""Duplicate groups a user can trust: kinds told apart, no chains, every group explained.

Pure functions over catalog rows, stored fingerprints and CNN vectors; nothing here decodes a
file or searches the index, so a moved threshold slider regroups from stored neighbour pairs.

How a pair of photos is judged (see :class:`PairJudge`):

* **exact** — the same content hash.
* **same picture** — pixel grids agree almost perfectly (normalised cross-correlation of the
  small grayscale grids), the DCT hashes are close, the aspect ratio and the colours match.
  Resizing, re-encoding, another format and EXIF rotation (already applied on decode) keep all
  of these.
* **edited** — the CNN still agrees (cosine above a floor) and the pixels line up after an
  allowance: a brightness/filter/grayscale/watermark edit keeps the grid correlation high but
  changes colours or details; a flip matches the mirrored grid; a crop is *contained*: the
  smaller picture's grid is found, at some scale and offset, inside the larger one.
* **similar scene** — only the CNN agrees (a burst, the same scene re-shot). Never mixed with
  the kinds above; two photos whose EXIF capture times differ are never called copies.

Grouping is complete-linkage: two groups merge only when every cross pair is related at the
group's level, so A≈B and B≈C never drags A and C together unless A≈C too. Each group's
cohesion is its weakest pair; its members are listed most central first.
"""

from __future__ import annotations

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

from photosim.core.fingerprint import Fingerprint, hamming
from photosim.core.keeper import choose_keeper
from photosim.core.types import DuplicateGroup, DuplicateKind, Photo

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
    edited_ncc: float = 0.85  # grid correlation of a filtered/watermarked/flipped copy
    exact_grid_ncc: float = 0.98  # grids this alike (and hashes close): pixels need less CNN
    exact_grid_cosine: float = 0.50  # CNN floor then (grayscale copies drift far in the CNN)
    colour_cast: float = 0.08  # |Δ log channel ratio| a same picture may show (warm filters)
    saturation_ratio: float = 1.25  # chroma may grow or shrink by this factor (grayscale)
    crop_ncc: float = 0.965  # correlation (whole and worst strip) of a crop in its original
    crop_blur: float = 0.6  # cells of blur before the fine crop comparison (anti-aliasing)
    min_crop_fraction: float = 0.45  # a crop keeps at least this much of each side
    aspect_tolerance: float = 0.03  # relative aspect difference still "the same shape"
    capture_gap_s: float = 2.0  # EXIF capture times further apart: different shots
    hash_distance: int = 8  # reduced mode (no model): DCT-hash candidate pairs

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
                       edited_ncc=base.edited_ncc + 0.08 * s, crop_ncc=base.crop_ncc + 0.06 * s,
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
        ids = _ids_to_rows(ids, np.asarray(row_ids, np.int64))
    rows = np.repeat(np.arange(len(vectors), dtype=np.int64), ids.shape[1])
    cols, values = ids.ravel(), sims.ravel()
    keep = (cols >= 0) & (cols != rows) & (values >= floor)
    return _unique_pairs(rows[keep], cols[keep], values[keep])


def _ids_to_rows(ids: NDArray[np.int64], row_ids: NDArray[np.int64]) -> NDArray[np.int64]:
    order = np.argsort(row_ids)
    sorted_ids = row_ids[order]
    where = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
    found = (len(sorted_ids) > 0) & (sorted_ids[where] == ids) & (ids >= 0)
    return np.where(found, order[where], -1)


def _unique_pairs(a: NDArray[np.int64], b: NDArray[np.int64],
                  score: NDArray[np.float32]) -> list[Pair]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((-score, hi, lo))
    lo, hi, score = lo[order], hi[order], score[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return list(zip(lo[first].tolist(), hi[first].tolist(), score[first].tolist(), strict=True))


def hash_pairs(fingerprints: Sequence[Fingerprint | None], max_distance: int) -> list[Pair]:
    """Pairs whose DCT hashes differ by at most ``max_distance`` bits, score 1 - d/64.

    Multi-index hashing: split the 64 bits into ``max_distance + 1`` chunks; by pigeonhole two
    hashes within the distance share at least one chunk exactly, so only photos in the same
    chunk bucket are compared — with numpy, never in a Python double loop.
    """
    present = [i for i, f in enumerate(fingerprints) if f is not None]
    if len(present) < 2:
        return []
    positions = np.asarray(present, np.int64)
    hashes = np.asarray([fingerprints[i].phash for i in present],  # type: ignore[union-attr]
                        np.uint64)
    found: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]] = []
    bounds = np.linspace(0, 64, min(max_distance + 1, 64) + 1).round().astype(int)
    for start, stop in itertools.pairwise(bounds.tolist()):
        chunk = (hashes >> np.uint64(start)) & np.uint64((1 << (stop - start)) - 1)
        found.append(_pairs_sharing_chunk(hashes, chunk, max_distance))
    a = np.concatenate([f[0] for f in found])
    b = np.concatenate([f[1] for f in found])
    d = np.concatenate([f[2] for f in found])
    score = (1.0 - d / 64.0).astype(np.float32)
    return [(int(positions[i]), int(positions[j]), s)
            for i, j, s in _unique_pairs(a, b, score)]


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
class PairJudge:
    """Decides how two candidates relate; verdicts are cached because grouping asks again."""

    def __init__(self, candidates: Sequence[Candidate], vectors: np.ndarray | None,
                 settings: DedupSettings, known: Iterable[Pair] = ()) -> None:
        self.candidates = candidates
        self.vectors = vectors
        self.settings = settings
        self._cosines = {(min(i, j), max(i, j)): s for i, j, s in known}
        self._cache: dict[tuple[int, int], Relation] = {}
        self._grids: dict[int, FloatGrid] = {}

    def __call__(self, i: int, j: int) -> Relation:
        key = (min(i, j), max(i, j))
        found = self._cache.get(key)
        if found is None:
            found = self._judge(*key)
            self._cache[key] = found
        return found

    def cosine(self, i: int, j: int) -> float | None:
        ri, rj = self.candidates[i].vector_row, self.candidates[j].vector_row
        if self.vectors is not None and ri is not None and rj is not None:
            return float(np.dot(self.vectors[ri], self.vectors[rj]))
        return self._cosines.get((min(i, j), max(i, j))) if self.vectors is not None else None

    def _judge(self, i: int, j: int) -> Relation:
        a, b = self.candidates[i], self.candidates[j]
        if a.photo.content_hash and a.photo.content_hash == b.photo.content_hash:
            return Relation(Level.EXACT, 1.0)
        cos = self.cosine(i, j)
        fa, fb = a.fingerprint, b.fingerprint
        if fa is None or fb is None:
            return self._similar_only(cos, None)
        pixels = self._pixel_level(i, j, fa, fb, cos, _capture_differs(a.photo, b.photo,
                                                                        self.settings))
        if pixels is not None:
            return pixels
        return self._similar_only(cos, fa if cos is None else None, fb)

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
        ga, gb = self._grid(i), self._grid(j)
        cnn_agrees = cos is None or cos >= s.edited_cosine
        if _aspect_close(fa.aspect, fb.aspect, s.aspect_tolerance):
            gb_aligned = _resize_grid(gb, ga.shape)
            whole, worst = _match(ga, gb_aligned)
            hashes_close = hamming(fa.phash, fb.phash) <= s.same_hash_distance
            if not capture_differs and worst >= s.same_ncc and _same_colours(fa, fb, s) and \
                    hashes_close:
                return Relation(Level.SAME, cos if cos is not None else whole)
            # A grayscale or strongly filtered copy can fall far in the CNN while its pixels
            # still line up exactly; different photos never line up that well.
            cnn_agrees = cnn_agrees or (cos is not None and cos >= s.exact_grid_cosine and
                                        hashes_close and min(whole, worst) >= s.exact_grid_ncc)
            if capture_differs or not cnn_agrees:
                return None
            mirrored = _match(ga[:, ::-1], gb_aligned)
            if min(whole, worst) >= s.edited_ncc or mirrored[1] >= s.edited_ncc:
                return Relation(Level.EDITED, cos if cos is not None else max(whole, mirrored[0]))
        elif capture_differs or not cnn_agrees:
            return None
        contained = max(_containment(ga, gb, s.min_crop_fraction, s.crop_blur),
                        _containment(gb, ga, s.min_crop_fraction, s.crop_blur), key=min)
        if min(contained) >= s.crop_ncc:
            return Relation(Level.EDITED, cos if cos is not None else contained[0])
        return None

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


def _same_colours(fa: Fingerprint, fb: Fingerprint, settings: DedupSettings) -> bool:
    """Colours match absolutely, in cast and in saturation.

    The absolute distance alone lets a dark or nearly neutral picture pass for its own warm
    filter or grayscale copy; a channel-ratio cast and a chroma ratio catch those at any
    brightness. Re-encoding moves neither by more than a few percent.
    """
    diff = np.abs(fa.colour.astype(np.int16) - fb.colour.astype(np.int16))
    if float(diff.mean()) > settings.same_colour_distance:
        return False
    (cast_a, chroma_a), (cast_b, chroma_b) = _colour_balance(fa), _colour_balance(fb)
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


def _ncc(a: FloatGrid, b: FloatGrid) -> float:
    """Normalised cross-correlation: 1 for grids equal up to brightness and contrast."""
    return _match(a, b)[0]


def _match(a: FloatGrid, b: FloatGrid) -> tuple[float, float]:
    """(whole-grid correlation, correlation of the worst edge strip).

    Both grids are brought to zero mean and unit variance; 1 - mean squared difference / 2 is
    then the correlation. Computing it per strip (each quarter along every edge) exposes a
    shifted view, whose new content sits in one strip, where a global figure averages it away.
    """
    za, zb = _standardise(a), _standardise(b)
    if za is None or zb is None:
        return 0.0, 0.0
    sq = (za - zb) ** 2
    rows, cols = sq.shape
    qr, qc = max(1, rows // 4), max(1, cols // 4)
    strips = (sq[:qr], sq[-qr:], sq[:, :qc], sq[:, -qc:])
    worst = max(float(s.mean()) for s in strips)
    return 1.0 - float(sq.mean()) / 2.0, 1.0 - worst / 2.0


def _standardise(grid: FloatGrid) -> FloatGrid | None:
    std = float(grid.std())
    if std < 1e-3:
        return None
    standard: FloatGrid = (grid - grid.mean()) / std
    return standard


def _containment(big: FloatGrid, small: FloatGrid, min_fraction: float,
                 blur: float = 0.0) -> tuple[float, float]:
    """(correlation, worst-strip correlation) of ``small`` (or its mirror) placed inside ``big``.

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
    for fraction in np.linspace(min_fraction, 0.97, 10):
        cols = round(float(fraction) * bw)
        rows = round(cols / small_aspect)
        if cols < 4 or rows < 4 or rows > bh or rows < min_fraction * bh:
            continue
        patch = _resize_grid(small, (rows, cols))
        for mirrored in (False, True):
            score, y, x = _best_window(big, patch[:, ::-1] if mirrored else patch)
            if best is None or score > best[0]:
                best = (score, y, x, rows, cols, mirrored)
    if best is None:
        return 0.0, 0.0
    _, y, x, rows, cols, mirrored = best
    return _refine(big, small[:, ::-1] if mirrored else small, y, x, rows, cols, blur)


_SHIFTS = np.array([(s, dy, dx) for s in (0.97, 1.0, 1.03) for dy in (-0.5, -0.25, 0.0, 0.25, 0.5)
                    for dx in (-0.5, -0.25, 0.0, 0.25, 0.5)], np.float32)


def _refine(big: FloatGrid, small: FloatGrid, y: int, x: int, rows: int,
            cols: int, blur: float = 0.0) -> tuple[float, float]:
    """Best match of ``small`` over sub-cell shifts and ±3 % scales around a coarse placement."""
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
    return _best_of_batch(windows, patch)


def _best_of_batch(windows: FloatGrid, patch: FloatGrid) -> tuple[float, float]:
    """:func:`_match` of each window against ``patch``, vectorised; the best by worst strip."""
    zp = _standardise(patch)
    if zp is None:
        return 0.0, 0.0
    centred = windows - windows.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt((centred * centred).mean(axis=(1, 2), keepdims=True))
    zw = centred / np.maximum(std, 1e-3)
    sq = (zw - zp) ** 2
    rows, cols = patch.shape
    qr, qc = max(1, rows // 4), max(1, cols // 4)
    strips = np.stack([sq[:, :qr].mean(axis=(1, 2)), sq[:, -qr:].mean(axis=(1, 2)),
                       sq[:, :, :qc].mean(axis=(1, 2)), sq[:, :, -qc:].mean(axis=(1, 2))])
    worst = 1.0 - strips.max(axis=0) / 2.0
    whole = 1.0 - sq.mean(axis=(1, 2)) / 2.0
    best = int(np.argmax(worst))
    return float(whole[best]), float(worst[best])


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
def find_groups(candidates: Sequence[Candidate], vectors: np.ndarray | None,
                pairs: Sequence[Pair], settings: DedupSettings,
                not_duplicates: Collection[frozenset[int]] = (),
                reference_folders: Sequence[Path] = ()) -> list[DuplicateGroup]:
    """Duplicate groups of every kind; ``pairs`` index into ``candidates``.

    A photo may appear in one group per kind: the exact copies of a file, the same picture in
    other sizes and formats, its edits, and shots of the same scene are separate review queues.
    A group of a looser kind is reported only when it adds photos to the stricter one.
    """
    judge = PairJudge(candidates, vectors, settings, pairs)
    blocked = _blocked_pairs(candidates, not_duplicates)
    edges = _edges(candidates, pairs, settings, judge, blocked)
    groups: list[DuplicateGroup] = []
    seen: set[frozenset[int]] = set()
    for level in Level:
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
           judge: PairJudge, blocked: set[tuple[int, int]]) -> list[tuple[int, int, Relation]]:
    """Related pairs from the given neighbours, hash-near pairs and same-content files."""
    todo: set[tuple[int, int]] = {(min(i, j), max(i, j)) for i, j, _ in pairs if i != j}
    todo.update((i, j) for i, j, _ in hash_pairs([c.fingerprint for c in candidates],
                                                   settings.same_hash_distance))
    todo.update(_same_content_pairs(candidates))
    edges = []
    for i, j in todo:
        if (i, j) in blocked:
            continue
        relation = judge(i, j)
        if relation.level is not None:
            edges.append((i, j, relation))
    edges.sort(key=lambda e: (e[2].level, -e[2].score, e[0], e[1]))
    return edges


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
    for i, j, relation in edges:
        assert relation.level is not None
        if relation.level > level:
            continue
        ci = cluster_of.get(i, [i])
        cj = cluster_of.get(j, [j])
        if ci is cj or not _holds(ci, cj, level, judge, blocked):
            continue
        merged = ci + cj
        for member in merged:
            cluster_of[member] = merged
    unique = {id(c): c for c in cluster_of.values()}
    return sorted((sorted(c) for c in unique.values()), key=lambda c: c[0])


def _holds(ci: list[int], cj: list[int], level: Level, judge: PairJudge,
           blocked: set[tuple[int, int]]) -> bool:
    for a in ci:
        for b in cj:
            if (min(a, b), max(a, b)) in blocked:
                return False
            relation = judge(a, b)
            if relation.level is None or relation.level > level:
                return False
    return True


def _make_group(candidates: Sequence[Candidate], cluster: list[int], level: Level,
                judge: PairJudge, reference_folders: Sequence[Path]) -> DuplicateGroup:
    scores = np.ones((len(cluster), len(cluster)), np.float32)
    for x, a in enumerate(cluster):
        for y in range(x + 1, len(cluster)):
            scores[x, y] = scores[y, x] = judge(a, cluster[y]).score
    centrality = scores.sum(axis=1)
    order = sorted(range(len(cluster)), key=lambda x: (-centrality[x], cluster[x]))
    members = tuple(candidates[cluster[x]].photo for x in order)
    sharpness = {c.photo.id: c.fingerprint.sharpness
                 for c in (candidates[i] for i in cluster) if c.fingerprint is not None}
    keeper, reason = choose_keeper(members, reference_folders, sharpness)
    return DuplicateGroup(KIND_OF_LEVEL[level], members, float(scores.min()), keeper, reason)
