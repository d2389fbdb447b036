"""Where a photo sits inside a screenshot that shows it (an image viewer's window, an app's
feed, a web page: bars, lists and margins around it), and how well it fits there.

The fingerprints' 28-cell grid of a screenshot gives the photo 12-20 cells when it fills half
or two thirds of the window: too few for the crop search, whose thresholds were set for crops
that fill most of the grid. Here the photo is found on the screenshot's fine grid
(normalised cross-correlation over a range of sizes, then refined in 1 % steps), the
screenshot is cut around it with a small margin and resampled so that the photo spans
:data:`FIT_CELLS` cells, and the crop comparison measures the photo there.

A photo shown in a screenshot is *framed*: each side ends in a step to the interface around
it, far stronger than the picture's own change just inside, or at plain interface. A picture
that only resembles the photo (another shot of the scene, moved by a few percent) lines up
with it somewhere too, but on at least one side its content runs on across the supposed edge,
and where its extra strip is plain (a dark background against a dark viewer) it is as flat as
the interface, which tells nothing. So three sides must be framed, and the surroundings be
mostly flat: a collage, which surrounds the photo with other pictures, is no screenshot of it.

The same sides tell a screenshot from a picture a photo was cut from (a PNG or WebP original
and a JPEG crop of it): a crop's content runs on across its sides into the rest of the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from photosim.core.duplicates.geometry import CropFit, Placement, fit_at, resize_grid

FloatGrid = NDArray[np.float32]

SEARCH_SIDE = 64  # cells along the screenshot's longer side while searching for the photo
# Sizes tried: the photo's width from this share of the screenshot's width up to nearly all
# of it (beyond, the fingerprints' own crop search finds it), in geometric steps 13 % apart.
_SMALLEST, _LARGEST, _SIZES = 0.15, 0.95, 16
_MIN_CELLS = 6  # a photo smaller than this on the search grid cannot be told from texture
# Correlation of the best place below which nothing is worth cutting out (dev screenshots
# 0.76-0.98 on the search grid; what passes is judged by the fit below, not by this).
_FOUND = 0.6
# Share of the surroundings that must be flat interface (3-cell spread under _FLAT_LEVELS
# gray levels on the search grid): the dev screenshots hold 0.2-0.43 of it, text and icons
# included.
MIN_FLAT_SURROUNDINGS = 0.12
_FLAT_LEVELS = 4.0
MIN_FRAMED_SIDES = 3  # see the module's docstring
# A side is framed where the step across it (2 cells out, 1 in: the boundary cell is a blend)
# is over twice the change over the same distance just inside, plus this many gray levels...
_EDGE_STEP = 5.0
_EDGE_GAP = 3
_REACH = 3  # cells further out a side may end, where a found crop is judged (see _sides)
# A line of cells along a side spreading less than this (gray levels) is plain: interface
# beside the photo, or a photo's edge that could be interface (telling nothing)
_PLAIN_EDGE = 1.0
FIT_CELLS = 42  # the photo's longer side on the grid it is compared on (see FIT_BLUR)
# Cells of blur before comparing. At 42 cells and this blur the dev screenshots' photos fit
# with residuals 0.08-0.35 (0.2-1.2 at 28 cells, where the photo's resampling decides).
FIT_BLUR = 1.0
_MARGIN = 0.08  # share of the photo's size kept around it when it is cut out


@dataclass(frozen=True)
class Inset:
    """Where the photo sits on the screenshot's fine grid, and how sure the search is."""

    y: int
    x: int
    rows: int
    cols: int
    correlation: float
    flat_surroundings: float = 0.0  # share of the rest of the screenshot that is plain


def inset_fit(screenshot: FloatGrid, photo: FloatGrid, trim: float) -> CropFit | None:
    """How well ``photo`` fits where it sits, framed, inside ``screenshot`` (both fine
    grids; ``trim`` as for any crop), or None when it sits nowhere framed in interface."""
    inset = find_inset(screenshot, photo)
    if inset is None:
        return None
    region, placed = _cut_out(screenshot, inset)
    return fit_at(region, np.ascontiguousarray(photo, np.float32), placed, FIT_BLUR, trim)


def find_inset(screenshot: FloatGrid, photo: FloatGrid) -> Inset | None:
    """Where ``photo`` sits framed inside ``screenshot`` (its fine grid), or None when it is
    nowhere clearly, not framed, or not surrounded by interface."""
    inset = locate(screenshot, photo, MIN_FLAT_SURROUNDINGS)
    if inset is None or _sides(screenshot, inset).framed < MIN_FRAMED_SIDES:
        return None
    return inset


def shown_in_interface(screenshot: FloatGrid, photo: FloatGrid) -> bool | None:
    """For a photo that lies inside a screenshot-format picture (the crop search found it
    there): whether it is shown in interface, a screenshot of it (mostly flat surroundings,
    at most one side running on into picture), rather than cut from a larger picture (its
    content runs on across two sides or more); None when the fine grid cannot place it."""
    inset = locate(screenshot, photo)
    if inset is None:
        return None
    return inset.flat_surroundings >= MIN_FLAT_SURROUNDINGS and \
        _sides(screenshot, inset, _REACH).running_on <= 1


def locate(screenshot: FloatGrid, photo: FloatGrid, min_flat: float = 0.0) -> Inset | None:
    """Where ``photo`` fits best inside ``screenshot`` (its fine grid), or None when nowhere
    clearly, or when less than ``min_flat`` of the rest is plain interface."""
    search = _Frame(_resized(screenshot, SEARCH_SIDE / max(screenshot.shape)))
    rough: Inset | None = None
    for share in np.geomspace(_SMALLEST, _LARGEST, _SIZES):
        found = _best_place(search, photo, float(share))
        if found is not None and (rough is None or found.correlation > rough.correlation):
            rough = found
    if rough is None or rough.correlation < _FOUND:
        return None
    flat = _flat_share_around(search.grid, rough)
    if flat < min_flat:
        return None  # before the refinement, the costlier half
    fine = _Frame(np.ascontiguousarray(screenshot, np.float32))
    inset = _refined(fine, photo, rough, fine.grid.shape[1] / search.grid.shape[1])
    return None if inset is None else replace(inset, flat_surroundings=flat)


def _resized(grid: FloatGrid, scale: float) -> FloatGrid:
    if scale >= 1:
        return np.ascontiguousarray(grid, np.float32)
    shape = (max(_MIN_CELLS, round(grid.shape[0] * scale)),
             max(_MIN_CELLS, round(grid.shape[1] * scale)))
    return resize_grid(np.ascontiguousarray(grid, np.float32), shape)


class _Frame:
    """A grid and its summed-area tables: every window's sum and sum of squares in O(1)."""

    def __init__(self, grid: FloatGrid) -> None:
        self.grid = grid
        self.values = grid.astype(np.float64)
        self._sums = _summed_area(self.values)
        self._squares = _summed_area(self.values * self.values)

    def window_spread(self, rows: int, cols: int) -> NDArray[np.float64]:
        """Sum of squared deviations from the mean of every ``rows`` x ``cols`` window."""
        def totals(table: NDArray[np.float64]) -> NDArray[np.float64]:
            return (table[rows:, cols:] - table[:-rows, cols:] - table[rows:, :-cols]
                    + table[:-rows, :-cols])
        sums = totals(self._sums)
        return totals(self._squares) - sums * sums / (rows * cols)


def _summed_area(values: NDArray[np.float64]) -> NDArray[np.float64]:
    table = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    table[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return table


def _patch(photo: FloatGrid, cols: int) -> tuple[NDArray[np.float64], float] | None:
    """The photo at ``cols`` wide, less its mean, and its norm; None when too small or flat."""
    rows = round(cols * photo.shape[0] / photo.shape[1])
    if min(rows, cols) < _MIN_CELLS:
        return None
    patch = resize_grid(np.ascontiguousarray(photo, np.float32), (rows, cols))
    centred = patch.astype(np.float64) - float(patch.mean())
    norm = float(np.sqrt((centred * centred).sum()))
    return (centred, norm) if norm > 0 else None


def _correlations(products: NDArray[np.float64], spread: NDArray[np.float64],
                  norm: float) -> NDArray[np.float64]:
    """Normalised cross-correlation from the windows' products with the centred patch.
    Windows much flatter than the patch are passed over: on a plain interface background the
    correlation is a ratio of two near-zeros."""
    textured = spread >= 0.25 * norm * norm
    return np.where(textured, products / (np.sqrt(np.maximum(spread, 1e-9)) * norm), -1.0)


def _best_place(frame: _Frame, photo: FloatGrid, share: float) -> Inset | None:
    """The best window for the photo at ``share`` of the frame's width, over all of it."""
    from scipy.signal import fftconvolve  # here, not at the top: scipy is slow to import

    made = _patch(photo, round(share * frame.grid.shape[1]))
    if made is None:
        return None
    centred, norm = made
    rows, cols = centred.shape
    if rows > frame.grid.shape[0] or cols > frame.grid.shape[1]:
        return None
    products = fftconvolve(frame.values, centred[::-1, ::-1], mode="valid")
    scores = _correlations(products, frame.window_spread(rows, cols), norm)
    y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return Inset(int(y), int(x), rows, cols, float(scores[y, x]))


def _refined(fine: _Frame, photo: FloatGrid, rough: Inset, scale: float) -> Inset | None:
    """The rough place on the search grid, refined on the fine grid: sizes in 1 % steps
    around it (the search's sizes are 13 % apart), places within a few cells of it."""
    reach = math.ceil(scale) + 1
    height, width = fine.grid.shape
    best: Inset | None = None
    for factor in np.linspace(0.93, 1.07, 15):
        made = _patch(photo, round(rough.cols * scale * float(factor)))
        if made is None:
            continue
        centred, norm = made
        rows, cols = centred.shape
        top = min(max(0, round(rough.y * scale) - reach), height - rows)
        left = min(max(0, round(rough.x * scale) - reach), width - cols)
        if top < 0 or left < 0:
            continue
        bottom = min(height - rows, top + 2 * reach) + 1
        right = min(width - cols, left + 2 * reach) + 1
        area = fine.values[top:bottom + rows - 1, left:right + cols - 1]
        windows = np.lib.stride_tricks.sliding_window_view(area, (rows, cols))
        products = np.einsum("ijkl,kl->ij", windows, centred)
        spread = fine.window_spread(rows, cols)[top:bottom, left:right]
        scores = _correlations(products, spread, norm)
        y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if best is None or scores[y, x] > best.correlation:
            best = Inset(top + int(y), left + int(x), rows, cols, float(scores[y, x]))
    return best


def _flat_share_around(frame: FloatGrid, inset: Inset) -> float:
    """Share of the cells outside the inset whose 3-cell neighbourhood is nearly plain."""
    from scipy.ndimage import uniform_filter  # here, not at the top: see _best_place

    f = frame.astype(np.float64)
    mean = uniform_filter(f, 3, mode="nearest")
    spread = np.sqrt(np.maximum(uniform_filter(f * f, 3, mode="nearest") - mean * mean, 0.0))
    outside = np.ones(frame.shape, bool)
    outside[inset.y:inset.y + inset.rows, inset.x:inset.x + inset.cols] = False
    if not outside.any():
        return 0.0
    return float((spread[outside] < _FLAT_LEVELS).mean())


@dataclass(frozen=True)
class _Sides:
    framed: int  # sides ending at a step to the surroundings, at plain interface, or at the edge
    running_on: int  # sides across which the picture's content goes on


def _sides(screenshot: FloatGrid, inset: Inset, reach: int = 0) -> _Sides:
    """How the inset's four sides end (a side whose own cells are plain tells neither); a side
    ``reach`` cells further out (the place found may sit a little inside a photo whose own
    border is dark or low in contrast) is framed where any of those places is."""
    frame = np.ascontiguousarray(screenshot, np.float32)
    y, x, rows, cols = inset.y, inset.x, inset.rows, inset.cols
    height, width = frame.shape
    if rows < 2 * _EDGE_GAP + 6 or cols < 2 * _EDGE_GAP + 6:
        return _Sides(0, 4)
    along_rows, along_cols = slice(y + 2, y + rows - 2), slice(x + 2, x + cols - 2)
    ends: list[bool | None] = []
    for side in range(4):
        found: bool | None = False
        for out in range(reach + 1):
            # (cells outside, first cells inside, cells further in) across the side: columns
            # for the left and right sides, rows for the top and bottom
            if side == 0:
                at, step = x - out, 1
            elif side == 1:
                at, step = x + cols - 1 + out, -1
            elif side == 2:
                at, step = y - out, 1
            else:
                at, step = y + rows - 1 + out, -1
            limit = width if side < 2 else height
            outside = at - 2 * step
            if not 0 <= outside < limit or not 0 <= at + (1 + _EDGE_GAP) * step < limit:
                found = True  # at the screenshot's own edge: nothing runs on across it
                break
            lines = [frame[along_rows, k] if side < 2 else frame[k, along_cols]
                     for k in (outside, at + step, at + (1 + _EDGE_GAP) * step)]
            end = _side_end(*lines)
            if end:
                found = True
                break
            if end is None and out == 0:
                found = None  # the photo's own edge is plain: this side tells nothing
                break
        ends.append(found)
    return _Sides(sum(end is True for end in ends), sum(end is False for end in ends))


def _side_end(outside: FloatGrid, inside: FloatGrid, further: FloatGrid) -> bool | None:
    """True where a side is framed, False where the picture runs on across it, None where
    the photo's own edge is plain (a flat sky, a dark border): it could be either."""
    if float(inside.std()) < _PLAIN_EDGE:
        return None
    if float(outside.std()) < _PLAIN_EDGE:
        return True  # plain interface beside a photo's edge: a window's background
    step = float(np.abs(outside - inside).mean())
    own_change = float(np.abs(inside - further).mean())
    return step >= 2 * own_change + _EDGE_STEP


def _cut_out(screenshot: FloatGrid, inset: Inset) -> tuple[FloatGrid, Placement]:
    """The screenshot around the photo (a small margin kept), resampled so that the photo's
    longer side spans :data:`FIT_CELLS` cells, and where the photo lies on it."""
    margin_y, margin_x = round(_MARGIN * inset.rows), round(_MARGIN * inset.cols)
    top, left = max(0, inset.y - margin_y), max(0, inset.x - margin_x)
    bottom = min(screenshot.shape[0], inset.y + inset.rows + margin_y)
    right = min(screenshot.shape[1], inset.x + inset.cols + margin_x)
    region = np.ascontiguousarray(screenshot[top:bottom, left:right], np.float32)
    per_cell = FIT_CELLS / max(inset.rows, inset.cols)
    shape = (max(1, round(region.shape[0] * per_cell)), max(1, round(region.shape[1] * per_cell)))
    placed = Placement(round((inset.y - top) * per_cell), round((inset.x - left) * per_cell),
                       max(1, round(inset.rows * per_cell)), max(1, round(inset.cols * per_cell)))
    return resize_grid(region, shape), placed
