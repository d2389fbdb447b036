"""The pixel gate: which pairs' coarse pixels may agree, for many pairs at once.

A library's look-alikes are many; comparing each pair's pixels one by one (see
:mod:`~photosim.core.duplicates.judge`) is the slow part of a duplicate pass. Every copy, edit
or crop of a photo lines up with one of a few windows of it at 6×6 cells, while most
look-alike photos do not: checking that with matrix products over all pairs spares the judge
most of them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from photosim.core.cancel import CancelToken, check
from photosim.core.duplicates.kinds import Candidate, FloatGrid
from photosim.core.fingerprint import Fingerprint

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
    from scipy.ndimage import gaussian_filter1d  # not at the top: see geometry.refine

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

