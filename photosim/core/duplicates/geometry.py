"""Grid arithmetic behind a pair's verdict: correlation, colours, tone curves and crops.

Pure functions over the small grayscale grids and colour grids of two fingerprints; the judge
(:mod:`~photosim.core.duplicates.judge`) decides with them what the pair is.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from photosim.core.duplicates.kinds import FloatGrid
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.fingerprint import Fingerprint


def aspect_close(a: float, b: float, tolerance: float) -> bool:
    return abs(math.log(max(a, 1e-6) / max(b, 1e-6))) <= tolerance




def same_colours(fa: Fingerprint, fb: Fingerprint,
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
    (cast_a, chroma_a), (cast_b, chroma_b) = balance_a, balance_b  # see colour_balance
    if float(np.abs(cast_a - cast_b).max()) > settings.colour_cast:
        return False
    return abs(math.log(chroma_a / chroma_b)) <= math.log(settings.saturation_ratio)


def colour_balance(fp: Fingerprint) -> tuple[NDArray[np.float64], float]:
    """(log red/green and blue/green ratios of the mean colour, mean chroma + offset)."""
    cells = fp.colour.astype(np.float64)
    mean = cells.reshape(-1, 3).mean(axis=0) + 4.0  # the offset keeps dark pictures stable
    cast = np.log(mean[[0, 2]] / mean[1])
    chroma = float(np.abs(cells - cells.mean(axis=2, keepdims=True)).mean()) + 0.5
    return cast, chroma


def resize_grid(grid: FloatGrid, shape: tuple[int, ...]) -> FloatGrid:
    """``grid`` at ``shape`` (read-only: it may be shared). Kept a while: a crop search
    resizes each photo to the same dozen shapes for every photo it is compared with."""
    if grid.shape == shape:
        return grid
    key = (grid.shape, shape, grid.tobytes())
    found = _resized.get(key)
    if found is None:
        # Area averaging, like the fingerprint's own grid, so both sides are equally blurred.
        image = Image.fromarray(grid, mode="F").resize((shape[1], shape[0]),
                                                       Image.Resampling.BOX)
        found = np.array(image, np.float32)
        found.setflags(write=False)
        if len(_resized) >= _RESIZED_KEPT:
            _resized.clear()
        _resized[key] = found
    return found


_RESIZED_KEPT = 5000  # resized grids kept (each a few KB with its key)
_resized: dict[tuple[tuple[int, ...], tuple[int, ...], bytes], FloatGrid] = {}


def match(za: FloatGrid, zb: FloatGrid) -> tuple[float, float]:
    """(whole-grid correlation, correlation of the worst edge strip) of two standardised grids
    of one shape (see :func:`standardise`).

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


def standardise(grid: FloatGrid) -> FloatGrid | None:
    std = float(grid.std())
    if std < 1e-3:
        return None
    standard: FloatGrid = (grid - grid.mean()) / std
    return standard


@dataclass(frozen=True)
class CropFit:
    """How well a picture fits inside another: tone-curve residual (lower is better, see
    :func:`tone_residuals`), correlation of the worst edge strip (higher is better) and the
    residual the larger picture leaves against itself (its texture's noise floor)."""

    residual: float
    worst: float
    noise: float = 0.0
    mirrored: bool = False
    fraction: float = 0.0  # the crop's width as a share of the larger picture's


_NO_FIT = CropFit(math.inf, 0.0)
_NOISE_FLOOR = 0.02  # below this a self-fit is exact; dividing by it would only amplify noise


def crop_accepted(fit: CropFit, s: DedupSettings,
                  noise: Callable[[], float] | None = None) -> bool:
    """A crop fits far better than a shifted view, on every count that can tell them apart.

    A shifted view brings content the other picture lacks, which lifts the residual, drops the
    correlation of the edge strip holding it, and leaves the fit well above what resampling
    alone costs on this picture; a true crop stays within its picture's noise floor.
    ``noise``, when given, tells that floor instead of ``fit.noise``: it is asked last, only
    for a fit that passes every other count (it costs a crop search of its own).
    """
    close = (fit.residual <= s.crop_residual and fit.worst >= s.crop_min_worst) or \
        (fit.residual <= s.crop_residual_loose and fit.worst >= s.crop_ncc)
    if not close:
        return False
    floor = fit.noise if noise is None else noise()
    return fit.residual <= s.crop_noise_ratio * max(floor, _NOISE_FLOOR)


def self_fit(grid: FloatGrid, min_fraction: float, blur: float, trim: float) -> float:
    """The residual of ``grid`` fitted inside itself by :func:`containment`: what resampling
    alone costs on this picture. Kept a while: every pass, and every chunk of pairs a worker
    judges, asks it again for the photos its crops come from."""
    key = (grid.shape, grid.tobytes(), min_fraction, blur, trim)
    found = _self_fits.get(key)
    if found is None:
        found = containment(grid, grid, min_fraction, blur, trim).residual
        if len(_self_fits) >= _SELF_FITS_KEPT:
            _self_fits.clear()
        _self_fits[key] = found
    return found


_SELF_FITS_KEPT = 20_000  # self-fits kept (each a grid's bytes and a float: under 1 KB)
_self_fits: dict[tuple[tuple[int, ...], bytes, float, float, float], float] = {}


def containment(big: FloatGrid, small: FloatGrid, min_fraction: float,
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
        patch = resize_grid(small, (rows, cols))
        found = _best_windows(big, (patch, patch[:, ::-1]))
        for mirrored, (score, y, x) in zip((False, True), found, strict=True):
            if best is None or score > best[0]:
                best = (score, y, x, rows, cols, mirrored)
    if best is None or best[0] < _CROP_GATE:
        return _NO_FIT  # nowhere near: spare the fine comparison (most look-alike pairs)
    _, y, x, rows, cols, mirrored = best
    fit = _refine(big, small[:, ::-1] if mirrored else small, Placement(y, x, rows, cols),
                  blur, trim)
    return replace(fit, mirrored=mirrored, fraction=cols / bw)


_CROP_SCALES = 10  # coarse scales tried between the smallest crop and 97 %

# Correlation of the best coarse placement below which a fine comparison is not worth its
# cost: true crops on the evaluation sets start near 0.77, look-alike photos mostly below.
_CROP_GATE = 0.7
_SHIFTS = np.array([(s, dy, dx) for s in (0.97, 1.0, 1.03) for dy in (-0.5, -0.25, 0.0, 0.25, 0.5)
                    for dx in (-0.5, -0.25, 0.0, 0.25, 0.5)], np.float32)


@dataclass(frozen=True)
class Placement:
    """Where a coarse search put a crop inside the larger grid: top-left cell and size."""

    y: int
    x: int
    rows: int
    cols: int


def fit_at(big: FloatGrid, small: FloatGrid, at: Placement, blur: float,
           trim: float) -> CropFit:
    """How well ``small`` fits ``big`` at a placement known from elsewhere (sub-cell shifts
    and ±3 % scales around it), as :func:`containment` measures its best placement."""
    return replace(_refine(big, small, at, blur, trim), fraction=at.cols / big.shape[1])


def _refine(big: FloatGrid, small: FloatGrid, at: Placement, blur: float,
            trim: float) -> CropFit:
    """Best fit of ``small`` over sub-cell shifts and ±3 % scales around a coarse placement."""
    # Imported here, not at the top: scipy took a fifth of the app's start-up.
    from scipy.ndimage import gaussian_filter, map_coordinates

    y, x, rows, cols = at.y, at.x, at.rows, at.cols
    patch = resize_grid(small, (rows, cols))
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    scale, dy, dx = (_SHIFTS[:, k, None, None] for k in range(3))
    coords = np.stack([y + dy + rr * scale, x + dx + cc * scale])  # (2, shifts, rows, cols)
    windows = map_coordinates(big, coords.reshape(2, -1), order=1, mode="nearest")
    windows = windows.reshape(len(_SHIFTS), rows, cols).astype(np.float32)
    if blur > 0:
        windows = gaussian_filter(windows, (0.0, blur, blur), mode="nearest")
        patch = gaussian_filter(patch, blur, mode="nearest")
    residuals = tone_residuals(windows, patch, trim)
    best = int(np.argmin(residuals))
    return CropFit(float(residuals[best]), _worst_strips(windows[best:best + 1], patch)[0])


def aligned_residual(a: FloatGrid, b: FloatGrid, blur: float, trim: float
                      ) -> tuple[float, bool]:
    """(:func:`tone_residuals` of two grids of one framing, whether ``a`` fits better
    mirrored)."""
    from scipy.ndimage import gaussian_filter  # here, not at the top: see _refine

    if blur > 0:
        a, b = gaussian_filter(a, blur, mode="nearest"), gaussian_filter(b, blur, mode="nearest")
    residuals = tone_residuals(np.stack([a, a[:, ::-1]]), b, trim)
    # Mirrored only when clearly so: a symmetric picture fits either way.
    return float(residuals.min()), bool(2 * residuals[1] < residuals[0])


def tone_residuals(references: FloatGrid, target: FloatGrid,
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
    zp = standardise(patch)
    if zp is None:
        return [0.0] * len(windows)
    centred = windows - windows.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt((centred * centred).mean(axis=(1, 2), keepdims=True))
    sq = (centred / np.maximum(std, 1e-3) - zp) ** 2
    worst = _worst_strip_error(sq)
    return (1.0 - np.minimum(worst / 2.0, 1.0)).tolist()  # type: ignore[no-any-return]


def _best_windows(big: FloatGrid, patches: Sequence[FloatGrid]
                  ) -> list[tuple[float, int, int]]:
    """Per patch (all of one shape), the highest normalised cross-correlation over every
    window of ``big``, and where. The windows are centred and measured once for all of them
    (a patch and its mirror: half of a crop search's work)."""
    w_centred, w_norm = _centred_windows(big, patches[0].shape)
    return [_best_window(w_centred, w_norm, patch) for patch in patches]


def _centred_windows(big: FloatGrid, shape: tuple[int, ...]) -> tuple[FloatGrid, FloatGrid]:
    """(Every window of ``shape`` in ``big``, flattened and less its mean; its norm), read-only.
    Kept a while: a photo is searched for the crops of each of its neighbours, and for its
    own noise floor, at the same dozen sizes each time."""
    rows, cols = shape
    key = (big.dtype.str, big.shape, big.tobytes(), rows, cols)
    with _windows_lock:
        found = _windows.get(key)
    if found is None:
        windows = np.lib.stride_tricks.as_strided(
            big, (big.shape[0] - rows + 1, big.shape[1] - cols + 1, rows, cols),
            big.strides * 2, writeable=False)
        flat = windows.reshape(windows.shape[0], windows.shape[1], rows * cols)
        w_centred = flat - flat.mean(axis=2, keepdims=True)
        w_norm = np.sqrt((w_centred * w_centred).sum(axis=2))
        w_centred.setflags(write=False)
        w_norm.setflags(write=False)
        found = (w_centred, w_norm)
        with _windows_lock:  # passes may run on several threads
            if len(_windows) >= _WINDOWS_KEPT:
                _windows.pop(next(iter(_windows)))  # the oldest
            _windows[key] = found
    return found


# Window sets kept: some 12 photos' crop searches (about 6 MB on benchmarks/real_dupes.py's
# photos), enough for the neighbours judged one after another to find 70 % of theirs again
_WINDOWS_KEPT = 120
_windows: dict[tuple[str, tuple[int, ...], bytes, int, int], tuple[FloatGrid, FloatGrid]] = {}
_windows_lock = threading.Lock()


def _best_window(w_centred: FloatGrid, w_norm: FloatGrid, patch: FloatGrid
                 ) -> tuple[float, int, int]:
    """Highest normalised cross-correlation of ``patch`` over windows centred and measured
    (see :func:`_best_windows`), and where."""
    p = (patch - patch.mean()).ravel()
    p_norm = float(np.sqrt((p * p).sum()))
    if p_norm < 1e-6:
        return 0.0, 0, 0
    scores = (w_centred @ p) / np.maximum(w_norm * p_norm, 1e-6)
    y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[y, x]), int(y), int(x)
