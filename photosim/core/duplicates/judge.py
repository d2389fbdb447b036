"""How two photos relate: exact, same picture, edited, similar scene or not at all.

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
  CNN must still agree (cosine above a floor), less so when the pixels are conclusive. A
  straightened copy (turned a few degrees and cropped), which the coarse grids cannot line
  up, is found on finer grids by a turned view lying wholly inside the original; a slight
  crop of one shape must lie wholly inside there too, or it is two overlapping views (a
  panned next frame), not a copy.
* A pair of one framing called same picture or edited is looked at once more, decoded on a
  finer grid (:mod:`~photosim.core.duplicates.detail`): another moment of a static view (the
  next video frame, a tripod burst) changes a few places with edges on both sides, which the
  coarse grid took for a watermark.
* **similar scene** — only the CNN agrees (a burst, the same scene re-shot). Never mixed with
  the kinds above; two photos whose EXIF capture times differ are never called copies.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from photosim.core.duplicates.detail import (
    SHIFTED_CELLS,
    FineGrid,
    fine_grid,
    fitted_view,
    framing,
    local_change,
    moved,
    shift_between,
    turned_view,
)
from photosim.core.duplicates.formats import is_screenshot_pair
from photosim.core.duplicates.geometry import (
    CropFit,
    aligned_residual,
    aspect_close,
    colour_balance,
    containment,
    crop_accepted,
    match,
    resize_grid,
    same_colours,
    self_fit,
    standardise,
    tone_residuals,
)
from photosim.core.duplicates.inset import inset_fit, shown_in_interface
from photosim.core.duplicates.kinds import FloatGrid, Level, Relation, Snapshot
from photosim.core.duplicates.pairs import PairTable
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.duplicates.verdicts import PixelCache
from photosim.core.fingerprint import Fingerprint, hamming
from photosim.core.types import Photo


class PairJudge:
    """Decides how two candidates relate; verdicts are cached because grouping asks again."""

    def __init__(self, snapshot: Snapshot, settings: DedupSettings,
                 known: PairTable | None = None, pixel_cache: PixelCache | None = None) -> None:
        """``known``: pairs with their cosines, for photos without a vector row; verdicts
        go to and come from ``pixel_cache`` (see
        :class:`~photosim.core.duplicates.verdicts.PixelVerdicts`)."""
        self.snapshot = snapshot
        self.candidates = snapshot.candidates
        self.vectors = snapshot.vectors
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
        self._crop_sides: dict[tuple[int, int], int | None] = {}
        self._crop_fits: dict[tuple[int, int], CropFit] = {}  # judging and crop_side both ask
        self._fine: dict[int, FineGrid | None] = {}

    def __call__(self, i: int, j: int) -> Relation:
        key = (min(i, j), max(i, j))
        found = self._cache.get(key)
        if found is None:
            found = self._judge(*key)
            self._remember(key, found)
        return found

    def _remember(self, key: tuple[int, int], found: Relation) -> None:
        self._cache[key] = found
        if found.within(Level.EDITED):
            self._copies.setdefault(key[0], []).append(key[1])
            self._copies.setdefault(key[1], []).append(key[0])

    def needs_pixels(self, i: int, j: int) -> bool:
        """Whether judging this pair would compare its pixels (the costly part of judging,
        worth doing in another process): not judged yet, not the same file, both
        fingerprinted, not ruled out, no pixel verdict kept."""
        key = (min(i, j), max(i, j))
        a, b = self.candidates[key[0]], self.candidates[key[1]]
        if key in self._cache or key in self._no_pixels or a.fingerprint is None or \
                b.fingerprint is None or (a.photo.content_hash and
                                          a.photo.content_hash == b.photo.content_hash):
            return False
        ha, hb = a.photo.content_hash, b.photo.content_hash
        return self._pixel_cache is None or not ha or not hb or \
            (min(ha, hb), max(ha, hb)) not in self._pixel_cache

    def take(self, verdicts: dict[tuple[int, int], Relation],
             crop_sides: dict[tuple[int, int], int | None]) -> None:
        """Verdicts and crop sides (pairs ``i < j``) found by another judge over the same
        candidates, vectors and settings (in a worker process), as if found here."""
        for key, found in verdicts.items():
            if key not in self._cache:
                self._remember(key, found)
        self._crop_sides.update(crop_sides)

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
            known = self._known.triples() if self._known is not None else []
            self._cosines = {(min(a, b), max(a, b)): s for a, b, s in known}
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

    def crop_side(self, a: int, b: int) -> int | None:
        """Which of a reframed pair is the crop: the one that fits inside the other better
        (None without fingerprints, or when neither does). Remembered: grouping asks again."""
        key = (min(a, b), max(a, b))
        if key not in self._crop_sides:
            self._crop_sides[key] = self._find_crop_side(*key)
        return self._crop_sides[key]

    def crop_side_known(self, a: int, b: int) -> bool:
        return (min(a, b), max(a, b)) in self._crop_sides

    def _find_crop_side(self, a: int, b: int) -> int | None:
        if self.candidates[a].fingerprint is None or self.candidates[b].fingerprint is None:
            return None
        inside_a, inside_b = self._crop_fit(a, b).residual, self._crop_fit(b, a).residual
        if inside_a == inside_b:
            return None
        return b if inside_a < inside_b else a

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
            return self._looked_closer(i, j, same)
        if cos is not None and cos < min(s.proof_cosine, s.edited_cosine):
            return None  # too far apart in the CNN for any pixel evidence to matter
        edit = self._edit_residual(i, j, fa, fb)
        if edit is None:
            return None
        floor = _edit_cosine_floor(edit.residual, edit.reframed, s)
        if cos is not None and cos < floor:
            return None
        found = Relation(Level.EDITED,
                         cos if cos is not None else 1.0 - min(edit.residual, 1.0),
                         edit.reframed, edit.mirrored, edit.shown_inside)
        return found if edit.reframed else self._looked_closer(i, j, found)

    def _looked_closer(self, i: int, j: int, found: Relation) -> Relation | None:
        """``found`` (same picture, or an edit of one framing) after the finer look: None for
        another moment; an edited crop, its side remembered, for a picture moved as a whole
        that lies inside the other (a copy cropped by a few percent and scaled back)."""
        look = self._finer_look(i, j, found.mirrored)
        if look.another_moment:
            return None
        if look.crop is None:
            return found
        self._crop_sides[(min(i, j), max(i, j))] = look.crop
        return Relation(Level.EDITED, found.score, reframed=True)

    def _same_picture(self, i: int, j: int, fa: Fingerprint, fb: Fingerprint,
                      cos: float | None) -> Relation | None:
        """SAME when the grids, hashes and colours agree almost perfectly."""
        s = self.settings
        if not aspect_close(fa.aspect, fb.aspect, s.aspect_tolerance):
            return None
        if hamming(fa.phash, fb.phash) > s.same_hash_distance:
            return None
        shape = self._grid(i).shape
        za, zb = self._standardised(i, shape), self._standardised(j, shape)
        if za is None or zb is None:
            return None  # a flat grid matches nothing (its correlation is undefined)
        whole, worst = match(za, zb)
        if worst >= s.same_ncc and \
                same_colours(fa, fb, self._balance(i), self._balance(j), s):
            return Relation(Level.SAME, cos if cos is not None else whole)
        return None

    def _finer_look(self, i: int, j: int, mirrored: bool) -> _FinerLook:
        """What the fine grids say of a pair of one framing that the fingerprints call a copy
        (see :mod:`~photosim.core.duplicates.detail`): another moment of the view, or the
        whole picture moved (a hand-held burst's next frame, framed a few percent off), which
        is a crop when one lies wholly inside the other and another shot when neither does.
        The same framing when either photo cannot be read again."""
        a, b = self._fine_grid(i), self._fine_grid(j)
        if a is None or b is None:
            return _SAME_FRAMING
        if local_change(a, b, mirrored).another_moment:
            return _ANOTHER_MOMENT
        if mirrored or shift_between(a, b) < SHIFTED_CELLS:
            return _SAME_FRAMING
        fit = framing(a, b)
        if fit.a_inside and fit.b_inside:
            return _SAME_FRAMING
        if fit.a_inside or fit.b_inside:
            return _FinerLook(crop=i if fit.a_inside else j)
        # Neither frame within the other: the turned view searches the scales and turns a
        # crop may have (the fit starts from no motion, and can stop short of a crop of 10 %
        # or more)
        residual, crop = min((self._turned_residual(big, small), small)
                             for big, small in ((i, j), (j, i)))
        return _FinerLook(crop=crop) if residual <= self.settings.turned_residual else \
            _ANOTHER_MOMENT

    def _fine_grid(self, i: int) -> FineGrid | None:
        if i not in self._fine:
            self._fine[i] = fine_grid(self.candidates[i].photo.path)
        return self._fine[i]

    def _standardised(self, i: int, shape: tuple[int, ...]) -> FloatGrid | None:
        """Photo ``i``'s grid at ``shape``, standardised (see :func:`standardise`)."""
        key = (i, shape)
        if key not in self._standard:
            self._standard[key] = standardise(resize_grid(self._grid(i), shape))
        return self._standard[key]

    def _balance(self, i: int) -> tuple[NDArray[np.float64], float]:
        found = self._balances.get(i)
        if found is None:
            fp = self.candidates[i].fingerprint
            assert fp is not None
            found = self._balances[i] = colour_balance(fp)
        return found

    def _edit_residual(self, i: int, j: int, fa: Fingerprint, fb: Fingerprint
                       ) -> _Edit | None:
        """How far the pixels are from an edit of one another (see :class:`_Edit`), or None
        for no edit.

        An edit keeps the framing (tone curves, filters, grayscale, a watermark, a flip) or
        keeps part of it (a crop). Either way one grid, after a monotone tone curve, explains
        the other far better than the picture explains itself shifted by one cell; a re-shot
        scene, moved by a few percent, does not.
        """
        s = self.settings
        ga, gb = self._grid(i), self._grid(j)
        one_shape = aspect_close(fa.aspect, fb.aspect, s.aspect_tolerance)
        if one_shape:
            aligned, mirrored = aligned_residual(ga, resize_grid(gb, ga.shape), s.crop_blur,
                                                  s.edited_trim)
            if aligned <= s.edited_residual:
                return _Edit(aligned, False, mirrored)
        fits = [self._crop_fit(big, small) for big, small in ((i, j), (j, i))]
        side = min((0, 1), key=lambda k: fits[k].residual)
        crop = fits[side]
        big, small = (i, j) if side == 0 else (j, i)
        if crop_accepted(crop, s, functools.partial(self._self_fit, big)):
            if one_shape and self._overlapping_view(big, small, crop):
                return None
            return _Edit(crop.residual, True, crop.mirrored,
                         not crop.mirrored and self._shown_inside(big, small, crop))
        if one_shape and _worth_turning(crop, s):
            turned = self._turned_residual(big, small)
            if turned <= s.turned_residual:
                return _Edit(turned, True, False)
        inset = self._inset_residual(i, j)
        return None if inset is None else _Edit(inset, True, False, shown_inside=True)

    def _shown_inside(self, frame: int, photo: int, crop: CropFit) -> bool:
        """Whether a crop found inside a screenshot-format file is a photo shown in it (its
        screenshot), not cut from it (the PNG or WebP original of a JPEG crop). Where the
        fine grid cannot place the photo, a share of the width under a window's decides.
        The photo is then the crop side."""
        if not is_screenshot_pair(self.candidates[photo].photo, self.candidates[frame].photo):
            return False
        shot, picture = self._fine_grid(frame), self._fine_grid(photo)
        shown = None if shot is None or picture is None else shown_in_interface(shot, picture)
        if shown is None:
            shown = crop.fraction < _WINDOW_SHARE
        if shown:
            self._crop_sides[(min(frame, photo), max(frame, photo))] = photo
        return shown

    def _inset_residual(self, i: int, j: int) -> float | None:
        """The crop residual of a photo inside a screenshot that shows it (a screenshot
        format around a camera one), where it sits framed on the screenshot's fine grid
        (see :mod:`~photosim.core.duplicates.inset`); None when the pair is not such a pair,
        or the photo sits nowhere framed in it, or fits there no better than a crop must.
        The photo is then the crop side."""
        pi, pj = self.candidates[i].photo, self.candidates[j].photo
        if is_screenshot_pair(pi, pj):
            screenshot, photo = j, i
        elif is_screenshot_pair(pj, pi):
            screenshot, photo = i, j
        else:
            return None
        s = self.settings
        cos = self.cosine(i, j)
        if cos is not None and cos < s.edited_cosine:
            return None  # a search of its own: only where the CNN sees one picture too
        frame, picture = self._fine_grid(screenshot), self._fine_grid(photo)
        if frame is None or picture is None:
            return None
        fit = inset_fit(frame, picture, s.crop_trim)
        if fit is None or fit.residual > s.crop_residual_loose or fit.worst < s.crop_min_worst:
            return None
        self._crop_sides[(min(i, j), max(i, j))] = photo
        return fit.residual

    def _overlapping_view(self, big: int, small: int, crop: CropFit) -> bool:
        """Whether ``small``, which the coarse grids took for a slight crop of ``big`` of one
        shape, is an overlapping view instead: a camera's next frame panned by a few
        percent, or another crop of one picture. A true crop lies wholly inside its original
        on the fine grids too; an overlapping view brings a strip the other lacks, which the
        coarse cells blur away (see :meth:`_turned_residual`, which also asks for another
        moment). False when either photo cannot be read again."""
        s = self.settings
        if crop.mirrored or crop.fraction < s.slight_crop_fraction:
            return False
        if self._fine_grid(big) is None or self._fine_grid(small) is None:
            return False  # cannot be read again: the coarse grids' word stands
        return self._turned_residual(big, small) > s.turned_residual

    def _turned_residual(self, big: int, small: int) -> float:
        """How well ``small`` fits a turned and enlarged view inside ``big`` on the fine
        grids (see :func:`~photosim.core.duplicates.detail.turned_view`), when that view
        shows the same moment (a static camera's next frame fits too, unturned); inf
        otherwise or when either cannot be read again."""
        a, b = self._fine_grid(big), self._fine_grid(small)
        if a is None or b is None:
            return math.inf
        residual = math.inf
        for find in (fitted_view, turned_view):  # the fit first; the search where it fails
            found = find(a, b)
            if found is None:
                continue
            view, crop = found
            residual = float(tone_residuals(view[np.newaxis], crop, self.settings.crop_trim)[0])
            if residual <= self.settings.turned_residual:
                return math.inf if moved(a, b, view, crop) else residual
        return residual

    def _crop_fit(self, big: int, small: int) -> CropFit:
        """How well photo ``small`` fits inside photo ``big``, with ``big``'s own noise floor.
        Remembered: judging a pair and telling its crop side ask for the same fits."""
        found = self._crop_fits.get((big, small))
        if found is None:
            found = self._crop_fits[(big, small)] = self._find_crop_fit(big, small)
        return found

    def _find_crop_fit(self, big: int, small: int) -> CropFit:
        """The fit alone: ``big``'s noise floor (a search of its own) is asked by
        :func:`crop_accepted` only of a fit close enough for it to matter."""
        s = self.settings
        return containment(self._grid(big), self._grid(small), s.min_crop_fraction,
                           s.crop_blur, s.crop_trim)

    def _self_fit(self, i: int) -> float:
        """The residual of a photo fitted inside itself: what resampling alone costs on it.

        The search never tries the full size, so this is the residual of a 97 % view of the
        picture — the floor a true crop can reach on this picture's texture."""
        found = self._self_fits.get(i)
        if found is None:
            s = self.settings
            found = self._self_fits[i] = self_fit(self._grid(i), s.min_crop_fraction,
                                                  s.crop_blur, s.crop_trim)
        return found

    def _grid(self, i: int) -> FloatGrid:
        grid = self._grids.get(i)
        if grid is None:
            fp = self.candidates[i].fingerprint
            assert fp is not None
            grid = fp.grid.astype(np.float32)
            self._grids[i] = grid
        return grid


# A photo shown in a viewer's window fills at most about four fifths of its width
# (benchmarks/dedup_eval.py's screenshots: 0.6-0.8); a slight crop, 0.9 or more.
_WINDOW_SHARE = 0.85


class _Edit(NamedTuple):
    """What makes a pair an edit: how far the pixels are from one (lower is closer)..."""

    residual: float
    reframed: bool  # ...whether one is a crop of the other...
    mirrored: bool  # ...or flipped...
    shown_inside: bool = False  # ...or a photo framed in a screenshot of it


@dataclass(frozen=True)
class _FinerLook:
    """What the fine grids say of a pair the fingerprints call a copy of one framing."""

    another_moment: bool = False
    crop: int | None = None  # the one cut from inside the other, when the picture moved


_SAME_FRAMING = _FinerLook()
_ANOTHER_MOMENT = _FinerLook(another_moment=True)


def _worth_turning(crop: CropFit, s: DedupSettings) -> bool:
    """Whether a pair of one shape whose coarse crop fit failed is worth the fine search
    for a turned view (see :meth:`PairJudge._turned_residual`): the coarse fit found a
    placement close to a crop's, as a straightened copy leaves it (residual 0.7-0.85 and
    edge strips above 0.89 on benchmarks/dedup_eval.py's dev set)."""
    return crop.residual <= s.turn_gate_residual and crop.worst >= s.turn_gate_worst


def _edit_cosine_floor(residual: float, reframed: bool, s: DedupSettings) -> float:
    """How much the CNN must agree that an edit keeps the picture.

    Pixels that line up this well need less agreement (a crop of a grayscale copy can fall to
    0.4 there); different photos never line up like this. An edit that keeps the framing but
    whose pixels are not conclusive must look like the same picture to the CNN as well: a tone
    edit, a filter or a watermark leaves the CNN's view nearly as it was, while the next shot
    of a burst — the subject moved within the same frame — does not.
    """
    if residual <= s.proof_residual:
        return s.proof_cosine
    return s.edited_cosine if reframed else s.aligned_edit_cosine


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
