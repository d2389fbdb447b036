"""The finer look at pairs the fingerprints call copies of one framing: another moment of a
static view is told from a watermark, a tone edit and a straightened or cropped copy."""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from benchmarks.dedup_eval import straightened_by
from photosim.core.duplicates import detail
from photosim.core.duplicates.detail import fine_grid, fitted_view, local_change, turned_view
from photosim.core.duplicates.geometry import tone_residuals
from photosim.core.duplicates.grouping import GroupingOptions, find_groups
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Level, Relation, Snapshot
from photosim.core.duplicates.pairs import PairTable
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.fingerprint import fingerprint
from photosim.core.types import DuplicateKind, Photo


def _view() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())  # 512 × 512


def _with_walker(view: Image.Image, x: int) -> Image.Image:
    """The view with a person-sized figure (a patch of another photo) standing at ``x``."""
    from skimage import data

    figure = Image.fromarray(data.coffee()).crop((200, 100, 245, 210))
    frame = view.copy()
    frame.paste(figure, (x, 300))
    return frame


def _watermarked(img: Image.Image) -> Image.Image:
    marked = img.copy()
    size = img.height // 12
    ImageDraw.Draw(marked).text((img.width * 0.05, img.height * 0.82), "© someone 2025",
                                fill=(255, 255, 255), font=ImageFont.load_default(size=size),
                                stroke_width=2, stroke_fill=(0, 0, 0))
    return marked


def _straightened(img: Image.Image, angle: float) -> Image.Image:
    turned = img.rotate(angle, Image.Resampling.BICUBIC)
    w, h = img.size
    margin = 0.06
    return turned.crop((round(w * margin), round(h * margin), round(w * (1 - margin)),
                        round(h * (1 - margin)))).resize((w, h), Image.Resampling.LANCZOS)


def _grid(img: Image.Image, folder: Path, name: str) -> np.ndarray:
    path = folder / f"{name}.jpg"
    img.save(path, quality=92)
    grid = fine_grid(path)
    assert grid is not None
    return grid


def test_a_figure_that_moved_is_another_moment(tmp_path: Path) -> None:
    view = _view()
    first = _grid(_with_walker(view, 100), tmp_path, "a")
    for x in (112, 180):  # a step, and further along
        assert local_change(first, _grid(_with_walker(view, x), tmp_path, f"b{x}")
                            ).another_moment


@pytest.mark.parametrize("step", [3, 4])
def test_a_figure_a_few_pixels_on_is_another_moment(tmp_path: Path, step: int) -> None:
    """The next frame of a video: the figure moved too little for a patch on the half grid,
    yet only it changed, with edges on both sides, and the rest of the view did not."""
    view = _view()
    first = _grid(_with_walker(view, 100), tmp_path, "a")
    change = local_change(first, _grid(_with_walker(view, 100 + step), tmp_path, "b"))
    assert change.confined_motion and change.another_moment, change


def _with_subject(view: Image.Image, name: str, offset: int) -> Image.Image:
    """The view with a large subject (another sample photo, 160 px square) ``offset``
    pixels down and right of (150, 150)."""
    from skimage import data

    subject = Image.fromarray(getattr(data, name)()).convert("RGB").resize((160, 160))
    frame = view.copy()
    frame.paste(subject, (150 + offset, 150 + offset))
    return frame


@pytest.mark.parametrize(("name", "step"), [("chelsea", 2), ("rocket", 1)])
def test_a_large_subject_moving_slowly_is_another_moment(tmp_path: Path, name: str,
                                                         step: int) -> None:
    """A soft subject (a cat's fur) two pixels on, a sharp one a single pixel: the change
    stays below the strong threshold at most places it moved, yet covers a large two-sided
    patch at the softer one, holding the difference."""
    view = _view()
    change = local_change(_grid(_with_subject(view, name, 0), tmp_path, "a"),
                          _grid(_with_subject(view, name, step), tmp_path, "b"))
    assert change.confined_motion and change.another_moment, change


@pytest.mark.parametrize("edit", ["watermark", "tones", "straightened", "cropped", "resized"])
def test_edits_are_not_another_moment(tmp_path: Path, edit: str) -> None:
    original = _with_walker(_view(), 100)
    copy = {"watermark": lambda: _watermarked(original),
            "tones": lambda: ImageEnhance.Contrast(
                ImageEnhance.Brightness(original).enhance(1.2)).enhance(1.2),
            "straightened": lambda: _straightened(original, 3.0),
            "cropped": lambda: original.crop((30, 20, 482, 472)),
            "resized": lambda: original.resize((256, 256), Image.Resampling.LANCZOS)}[edit]()
    change = local_change(_grid(original, tmp_path, "o"), _grid(copy, tmp_path, "c"))
    assert not change.another_moment, change


def test_a_photo_that_cannot_be_read_again_has_no_fine_grid(tmp_path: Path) -> None:
    assert fine_grid(tmp_path / "gone.jpg") is None
    (tmp_path / "bad.jpg").write_bytes(b"not a picture")
    assert fine_grid(tmp_path / "bad.jpg") is None


def _photo(pid: int, path: Path, img: Image.Image) -> Photo:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Photo(pid, path, path.stat().st_size, 0, digest, img.width, img.height, "JPEG")


def _unit_vectors(cosine: float, count: int) -> np.ndarray:
    """``count`` unit vectors, each pair at ``cosine`` (the CNN sees one picture)."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=64)
    base /= np.linalg.norm(base)
    out = []
    for _ in range(count):
        other = rng.normal(size=64)
        other -= (other @ base) * base
        other /= np.linalg.norm(other)
        out.append(np.sqrt(cosine) * base + np.sqrt(1 - cosine) * other)
    return np.stack(out).astype(np.float32)


def _grouped(tmp_path: Path, images: list[Image.Image]) -> dict[int, DuplicateKind | None]:
    """Each photo's kind in its group (None: the keeper or in no group), through the grouping
    with files on disk and a CNN that finds every pair nearly identical."""
    candidates = []
    for n, img in enumerate(images):
        path = tmp_path / f"p{n}.jpg"
        img.save(path, quality=92)
        candidates.append(Candidate(_photo(n, path, img), fingerprint(img), n))
    vectors = _unit_vectors(0.97, len(images))
    pairs = list(itertools.combinations(range(len(images)), 2))
    sims = vectors @ vectors.T
    table = PairTable.of([i for i, _ in pairs], [j for _, j in pairs],
                         [float(sims[i, j]) for i, j in pairs])
    groups = find_groups(Snapshot(candidates, vectors), table, GroupingOptions())
    return {p.id: k for g in groups for p, k in zip(g.members, g.member_kinds, strict=True)}


def test_consecutive_frames_of_a_static_camera_are_never_a_deletable_kind(
        tmp_path: Path) -> None:
    """Two frames, a figure a step further on: the fingerprints' coarse grid calls them an
    edit (as a watermark); decoded again, they are a similar scene at most."""
    view = _view()
    kinds = _grouped(tmp_path, [_with_walker(view, 100), _with_walker(view, 115)])
    assert all(k in (None, DuplicateKind.SIMILAR) for k in kinds.values()), kinds


def test_the_very_next_frame_is_never_a_deletable_kind(tmp_path: Path) -> None:
    """A step of 4 pixels: the fingerprints call the frames the same picture."""
    view = _view()
    kinds = _grouped(tmp_path, [_with_walker(view, 100), _with_walker(view, 104)])
    assert all(k in (None, DuplicateKind.SIMILAR) for k in kinds.values()), kinds


def test_a_watermarked_and_a_straightened_copy_stay_edited_copies(tmp_path: Path) -> None:
    original = _with_walker(_view(), 100)
    kinds = _grouped(tmp_path, [original, _watermarked(original),
                                _straightened(original, -2.5)])
    assert sorted(kinds.items(), key=lambda kv: kv[0]) == [
        (0, None), (1, DuplicateKind.EDITED), (2, DuplicateKind.EDITED)]


def _judged(tmp_path: Path, images: list[Image.Image], cosine: float) -> Relation:
    candidates = []
    for n, img in enumerate(images):
        path = tmp_path / f"j{n}.jpg"
        img.save(path, quality=92)
        candidates.append(Candidate(_photo(n, path, img), fingerprint(img), n))
    vectors = np.array([[1.0, 0.0], [cosine, math.sqrt(1 - cosine ** 2)]], np.float32)
    return PairJudge(Snapshot(candidates, vectors), DedupSettings())(0, 1)


@pytest.mark.parametrize(("name", "angle"), [("astronaut", 4.0), ("chelsea", -3.5),
                                             ("rocket", 4.0)])
def test_a_photo_straightened_by_a_few_degrees_is_an_edited_copy(
        tmp_path: Path, name: str, angle: float) -> None:
    """Turned this far, the coarse grids place the copy nowhere inside the original; the
    fine grids, turned back, do."""
    from skimage import data

    original = Image.fromarray(getattr(data, name)()).convert("RGB")
    relation = _judged(tmp_path, [original, straightened_by(original, angle)],
                       0.95)
    assert relation.level == Level.EDITED and relation.reframed, relation


def test_a_shifted_view_never_fits_turned_inside_the_picture(tmp_path: Path) -> None:
    """Another shot moved by 8 % brings in what the picture does not hold: no turn and
    enlargement puts it wholly inside."""
    from skimage import data

    scene = Image.fromarray(data.astronaut())
    w, h = scene.size
    shot = _grid(scene.crop((round(0.08 * w), 0, w, round(0.92 * h))), tmp_path, "a")
    shifted = _grid(scene.crop((0, round(0.08 * h), round(0.92 * w), h)), tmp_path, "b")
    for big, crop in ((shot, shifted), (shifted, shot)):
        found = turned_view(big, crop)
        residual = np.inf if found is None else \
            tone_residuals(found[0][np.newaxis], found[1], DedupSettings().crop_trim)[0]
        assert residual > DedupSettings().turned_residual


@pytest.mark.parametrize("step", [4, 8, 15])
def test_a_panned_next_frame_is_never_a_deletable_kind(tmp_path: Path, step: int) -> None:
    """The camera panned by 3 % while the figure walked on: on the coarse grids the next
    frame passes for a slight crop of this one; on the fine grids it brings a strip this one
    lacks, so the pair is two overlapping views, a similar scene at most."""
    view = _view()
    w, h = view.size
    pan, width = round(0.03 * w), round(0.9 * w)
    frame = _with_walker(view, 100).crop((0, 0, width, h))
    panned = _with_walker(view, 100 + step).crop((pan, 0, pan + width, h))
    relation = _judged(tmp_path, [frame, panned], 0.97)
    assert relation.level not in (Level.SAME, Level.EDITED), relation


@pytest.mark.parametrize(("name", "margin"), [("astronaut", 0.06), ("chelsea", 0.06),
                                              ("coffee", 0.08)])
def test_a_slight_crop_of_one_shape_stays_an_edited_copy(tmp_path: Path, name: str,
                                                         margin: float) -> None:
    """The overlapping-view check must not take a true slight crop (the same shape, 8-16 %
    off the width) for one: it lies wholly inside its original on the fine grids too."""
    from skimage import data

    original = Image.fromarray(getattr(data, name)()).convert("RGB")
    w, h = original.size
    crop = original.crop((round(margin * w), round(margin * h), round((1 - margin) * w),
                          round((1 - margin) * h)))
    relation = _judged(tmp_path, [original, crop], 0.95)
    assert relation.level == Level.EDITED and relation.reframed, relation


def _burst_frames(name: str, share: float) -> tuple[Image.Image, Image.Image]:
    """Two frames of a hand-held burst of a still scene: framed ``share`` of the picture
    apart diagonally, each scaled to the full size, the second a little brighter."""
    from skimage import data

    scene = Image.fromarray(getattr(data, name)()).convert("RGB")
    w, h = scene.size
    dx, dy = round(w * share), round(h * share)
    first = scene.crop((dx, 0, w, h - dy)).resize((w, h), Image.Resampling.LANCZOS)
    second = scene.crop((0, dy, w - dx, h)).resize((w, h), Image.Resampling.LANCZOS)
    return first, ImageEnhance.Brightness(second).enhance(1.05)


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_burst_frames_framed_two_percent_apart_are_not_copies(tmp_path: Path,
                                                             name: str) -> None:
    """Moved as a whole, each frame holds a strip the other lacks: overlapping views, which
    the coarse grids took for a tone edit."""
    relation = _judged(tmp_path, list(_burst_frames(name, 0.02)), 0.97)
    assert relation.level in (None, Level.SIMILAR), relation


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "camera", "coffee"])
def test_an_off_centre_crop_scaled_back_is_a_crop_kept_by_its_original(tmp_path: Path,
                                                                     name: str) -> None:
    """Cut 4 % from two sides and scaled back: moved as a whole like a burst frame, yet it
    lies wholly inside the original, so it is an edited copy, and the crop side is known.
    (coffee's needs the registration by the gradients' fit: the placement search left a
    patch of 59 cells.)"""
    from skimage import data

    original = Image.fromarray(getattr(data, name)()).convert("RGB")
    w, h = original.size
    crop = original.crop((round(w * 0.04), round(h * 0.04), w, h)).resize(
        (w, h), Image.Resampling.LANCZOS)
    candidates = []
    for n, img in enumerate((original, crop)):
        path = tmp_path / f"j{n}.jpg"
        img.save(path, quality=92)
        candidates.append(Candidate(_photo(n, path, img), fingerprint(img), n))
    judge = PairJudge(Snapshot(candidates, _unit_vectors(0.97, 2)), DedupSettings())
    relation = judge(0, 1)
    assert relation.level == Level.EDITED and relation.reframed, relation
    assert judge.crop_side(0, 1) == 1


def test_tone_matching_from_kept_sort_orders_equals_a_fresh_sort() -> None:
    """Each grid's sort order is kept for its next pair: the tone curve it gives must be the
    one a fresh stable sort gives, ties included (a flat sky holds many equal cells)."""
    rng = np.random.default_rng(3)
    steps = rng.integers(0, 40, (30, 40)).astype(np.float32)
    smooth = rng.normal(100.0, 30.0, (30, 40)).astype(np.float32)
    for source, target in ((steps, smooth), (smooth, steps), (steps, smooth)):
        expected = np.empty(source.size, np.float32)
        expected[np.argsort(source.ravel(), kind="stable")] = np.sort(target.ravel())
        matched = detail._histogram_matched(source, target)
        assert np.array_equal(matched, expected.reshape(source.shape))


def test_a_placement_costs_what_masking_its_view_again_gives() -> None:
    """A search keeps each placement's view and, for a view covering all of the crop, the
    crop's centred cells: the cost must be the correlation over the cells both cover, as
    masking the view and the crop afresh gives it, whether the view covers all or part."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(5)
    big = gaussian_filter(rng.normal(120.0, 40.0, (60, 80)), 2.0).astype(np.float32)
    covers = set()
    for crop, angle, scale in itertools.product((big[6:54, 8:72].copy(), big.copy()),
                                                (-3.0, 0.0, 1.5), (1.0, 1.1, 1.25)):
        placed = detail._Placements(big, crop)
        view, valid = detail._placed(big, crop, angle, scale)
        x, y = view[valid], crop[valid]
        x, y = x - x.mean(), y - y.mean()
        ncc = float((x * y).sum() / max(np.sqrt((x * x).sum() * (y * y).sum()), 1e-6))
        expected = 1.0 - ncc if valid.mean() >= 0.8 else math.inf
        assert placed.cost(angle, scale) == expected
        assert placed.cost(angle, scale) == expected  # the kept view, asked again
        covers.add(bool(valid.all()))
    assert covers == {True, False}


@pytest.mark.parametrize(("name", "angle"), [("astronaut", 3.0), ("chelsea", -2.0)])
def test_the_fitted_view_lines_up_a_straightened_copy_as_the_search_does(
        tmp_path: Path, name: str, angle: float) -> None:
    """The gradients' fit finds the turned, enlarged view the placement search finds, and
    both leave a residual a straightened copy passes with."""
    from skimage import data

    original = Image.fromarray(getattr(data, name)()).convert("RGB")
    big, crop = _grid(original, tmp_path, "o"), _grid(straightened_by(original, angle),
                                                     tmp_path, "s")
    limit, trim = DedupSettings().turned_residual, DedupSettings().crop_trim
    for find in (fitted_view, turned_view):
        found = find(big, crop)
        assert found is not None, find
        assert tone_residuals(found[0][np.newaxis], found[1], trim)[0] <= limit, find


def test_the_fitted_view_of_a_burst_frame_does_not_pass(tmp_path: Path) -> None:
    """Two frames of a burst framed 2 % apart: no view of one lies wholly inside the other
    with a small residual, fitted or searched."""
    first, second = (_grid(frame, tmp_path, f"f{n}")
                     for n, frame in enumerate(_burst_frames("astronaut", 0.02)))
    limit, trim = DedupSettings().turned_residual, DedupSettings().crop_trim
    found = fitted_view(first, second)
    assert found is None or tone_residuals(found[0][np.newaxis], found[1], trim)[0] > limit


def test_a_fit_that_runs_away_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fit that diverges (not finite) neither calls two frames apart nor explains a
    change away: the framing counts as one, and the placement search decides the rest."""
    from photosim.core.duplicates import detail

    rng = np.random.default_rng(5)
    a, b = (rng.uniform(0, 255, (64, 96)).astype(np.float32) for _ in range(2))
    monkeypatch.setattr(detail, "_fit_level",
                        lambda *args: np.full(4, np.nan))
    assert detail.framing(a, b) == detail.Framing(True, True)
    assert detail.fitted_view(a, b) is None
    assert detail._fitted_patch(a, b) == a.size
