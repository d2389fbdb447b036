"""A photo shown inside a screenshot: found where it sits, framed by interface, and told from
another shot of the scene and from a collage that holds it."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from photosim.core.duplicates.detail import fine_grid
from photosim.core.duplicates.inset import find_inset
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Level, Relation, Snapshot
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.fingerprint import fingerprint
from photosim.core.library import Library
from photosim.core.types import DuplicateKind, Photo


def _scene(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def _view(scene: Image.Image, left: float, top: float, keep: float = 0.84) -> Image.Image:
    w, h = scene.size
    return scene.crop((round(left * w), round(top * h), round((left + keep) * w),
                       round((top + keep) * h)))


def _web_page(photo: Image.Image, width_share: float) -> Image.Image:
    """A light web page, header, text lines and a caption, the photo in its column (unlike
    benchmarks/dedup_eval.py's dark image viewer)."""
    page = Image.new("RGB", (1200, 900), (250, 250, 248))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 1200, 64), fill=(40, 90, 160))
    for n in range(6):
        draw.rectangle((60, 100 + 24 * n, 60 + 900 - 90 * (n % 3), 112 + 24 * n),
                       fill=(120, 120, 120))
    shown = photo.resize((round(1200 * width_share),
                          round(1200 * width_share * photo.height / photo.width)),
                         Image.Resampling.LANCZOS)
    page.paste(shown, (140, 270))
    draw.rectangle((140, 280 + shown.height, 140 + shown.width // 2, 292 + shown.height),
                   fill=(150, 150, 150))
    return page


def _collage(photo: Image.Image, others: list[Image.Image]) -> Image.Image:
    """Nine pictures in three rows, the photo in the middle, a thin white gap between them:
    each a third of the sheet wide, too small for the crop search, as a screenshot's photo."""
    sheet = Image.new("RGB", (1200, 900), (255, 255, 255))
    tiles = [*others[:4], photo, *others[4:]]
    for n, tile in enumerate(tiles):
        sheet.paste(tile.resize((392, 292), Image.Resampling.LANCZOS),
                    (4 + 400 * (n % 3), 4 + 300 * (n // 3)))
    return sheet


def _judge(tmp_path: Path, photo: Image.Image, shot: Image.Image,
           cosine: float = 0.8) -> tuple[PairJudge, Relation]:
    """The pair judged as the app judges it: the photo a JPEG, the screenshot a PNG."""
    candidates = []
    for n, (img, fmt) in enumerate(((photo, "JPEG"), (shot, "PNG"))):
        path = tmp_path / f"p{n}.{fmt.lower()}"
        img.save(path, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        candidates.append(Candidate(Photo(n, path, path.stat().st_size, 0, digest, img.width,
                                          img.height, fmt), fingerprint(img), n))
    vectors = np.array([[1.0, 0.0], [cosine, math.sqrt(1 - cosine ** 2)]], np.float32)
    judge = PairJudge(Snapshot(candidates, vectors), DedupSettings())
    return judge, judge(0, 1)


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])
def test_a_photo_shown_small_in_a_screenshot_is_an_edited_copy_and_the_crop(
        tmp_path: Path, name: str) -> None:
    """At 40 % of the page's width the photo spans 11 cells of the fingerprint's grid, too
    few for the crop search; on the fine grid it is found, framed, and fits."""
    photo = _view(_scene(name), 0.08, 0.08)
    judge, relation = _judge(tmp_path, photo, _web_page(photo, 0.4))
    assert relation.level == Level.EDITED and relation.reframed, relation
    assert judge.crop_side(0, 1) == 0  # the photo is what the screenshot holds


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])
def test_another_shot_of_the_scene_is_no_copy_of_the_screenshot(tmp_path: Path,
                                                                  name: str) -> None:
    """Moved by 8 %, the other shot lines up with the photo somewhere, but its content runs
    on across an edge the photo ends at."""
    scene = _scene(name)
    shown, other = _view(scene, 0.08, 0.08), _view(scene, 0.0, 0.08)
    _, relation = _judge(tmp_path, other, _web_page(shown, 0.4))
    assert not relation.within(Level.EDITED), relation


def test_a_collage_holding_the_photo_is_no_screenshot_of_it(tmp_path: Path) -> None:
    """Framed as in a screenshot, but among other pictures, not interface."""
    photo = _view(_scene("chelsea"), 0.08, 0.08)
    names = ("coffee", "astronaut", "rocket", "retina", "hubble_deep_field",
             "immunohistochemistry", "coins", "moon")
    others = [_view(_scene(n), 0.08, 0.08) for n in names]
    judge, relation = _judge(tmp_path, photo, _collage(photo, others))
    assert not relation.within(Level.EDITED), relation
    shot, picture = judge._fine_grid(1), judge._fine_grid(0)
    assert shot is not None and picture is not None
    assert find_inset(shot, picture) is None


def test_the_photo_is_found_where_it_was_pasted(tmp_path: Path) -> None:
    photo = _view(_scene("coffee"), 0.08, 0.08)
    page, path = _web_page(photo, 0.4), tmp_path / "page.png"
    page.save(path)
    photo_path = tmp_path / "photo.jpg"
    photo.save(photo_path, quality=92)
    shot, picture = fine_grid(path), fine_grid(photo_path)
    assert shot is not None and picture is not None
    inset = find_inset(shot, picture)
    assert inset is not None
    per_pixel = shot.shape[1] / page.width  # fine cells per page pixel
    assert inset.x == pytest.approx(140 * per_pixel, abs=1.5)
    assert inset.y == pytest.approx(270 * per_pixel, abs=1.5)
    assert inset.cols == pytest.approx(480 * per_pixel, rel=0.03)


def _keepers(library: Library, folder: Path) -> dict[frozenset[str], tuple[str, str]]:
    """Per deletable group, its members' names -> (keeper's name, the reason)."""
    return {frozenset(p.path.name for p in g.members): (g.keeper.path.name, g.keep_reason)
            for g in library.duplicates() if g.kind != DuplicateKind.SIMILAR}


def test_the_keeper_is_the_photo_over_its_screenshot_and_the_png_over_its_jpeg_crop(
        real_library: Library, real_model_dir: Path, tmp_path: Path) -> None:
    """A PNG (or WebP) holding a JPEG is the JPEG's screenshot only where the JPEG sits in it
    framed in interface; a PNG original that a JPEG was cut from keeps its full framing. So
    decided on the first pass and, from the stored verdicts, on the next."""
    folder = tmp_path / "pics"
    folder.mkdir()
    cat = _view(_scene("chelsea"), 0.08, 0.08)
    cat.save(folder / "IMG_0001.jpg", quality=92)
    _web_page(cat, 0.4).save(folder / "Screenshot page.png")
    coffee = _scene("coffee")
    coffee.save(folder / "coffee.png")
    _view(coffee, 0.2, 0.15, keep=0.66).save(folder / "coffee_cut.jpg", quality=92)
    real_library.index([folder])
    expected = {frozenset({"IMG_0001.jpg", "Screenshot page.png"}): "IMG_0001.jpg",
                frozenset({"coffee.png", "coffee_cut.jpg"}): "coffee.png"}
    first = _keepers(real_library, folder)
    assert {members: kept for members, (kept, _) in first.items()} == expected
    assert all(reason.startswith("Full framing") for _, reason in first.values()), first
    said = {p.path.name: text for g in real_library.duplicates()
            for p, text in zip(g.members, g.relations, strict=True)}
    assert said["Screenshot page.png"].startswith("a screenshot showing it")
    assert said["coffee_cut.jpg"].startswith("cropped")
    real_library.close()
    again = Library.open(tmp_path / "data",
                         model=str(real_model_dir / "efficientnet_lite0_embed.onnx"),
                         model_spec="efficientnet-lite0")
    try:
        assert _keepers(again, folder) == first
    finally:
        again.close()
