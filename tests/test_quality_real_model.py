"""With a real ImageNet model on real photographs: copies rank first, unrelated photos do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from photosim.core.library import Library
from tests.imagegen import save

skimage_data = pytest.importorskip("skimage.data")

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
          "motorcycle_left", "retina")  # (skimage's "cat" is chelsea again)


def _real_photos(folder: Path) -> dict[str, Path]:
    found = {}
    for name in PHOTOS:
        try:
            pixels = getattr(skimage_data, name)()
        except Exception:  # noqa: BLE001 - some sample files are fetched on demand; skip those
            continue
        if pixels.ndim == 3 and pixels.shape[2] == 3:
            found[name] = save(Image.fromarray(pixels), folder / f"{name}.jpg", quality=92)
    return found


@pytest.fixture
def real_library(tmp_path: Path, real_model_dir: Path) -> Library:
    model = real_model_dir / "efficientnet_lite0_embed.onnx"
    lib = Library.open(tmp_path / "data", model=str(model), model_spec="efficientnet-lite0")
    yield lib
    lib.close()


@pytest.mark.realmodel
def test_resized_and_reencoded_copies_are_nearest(real_library: Library, tmp_path: Path) -> None:
    photos = _real_photos(tmp_path / "lib")
    assert len(photos) >= 5
    with Image.open(photos["chelsea"]) as img:
        small = img.resize((img.width // 2, img.height // 2))
    copy = save(small, tmp_path / "lib" / "chelsea_small.jpg", quality=70)
    webp = save(Image.open(photos["coffee"]), tmp_path / "outside" / "coffee.webp", quality=75)
    real_library.index([tmp_path / "lib"])

    hits = real_library.similar(copy, k=3)
    assert hits[0].photo.path == photos["chelsea"]
    assert hits[0].score > 0.9
    assert hits[1].score < 0.5  # nothing else in the library is that cat
    outside = real_library.similar(webp, k=2)  # a file that is not in the library
    assert outside[0].photo.path == photos["coffee"] and outside[0].score > 0.9
    unrelated = {h.photo.path: h.score for h in real_library.similar(photos["rocket"], k=10)}
    assert unrelated[photos["chelsea"]] < 0.6
    assert real_library.compare(photos["coffee"], photos["astronaut"]) < 0.6


@pytest.mark.realmodel
def test_library_groups_a_resized_copy_as_the_same_picture(real_library: Library,
                                                           tmp_path: Path) -> None:
    from photosim.core.types import DuplicateKind

    photos = _real_photos(tmp_path / "lib")
    with Image.open(photos["astronaut"]) as img:
        save(img.resize((img.width // 2, img.height // 2)), tmp_path / "lib" / "astro_half.jpg",
             quality=75)
    real_library.index([tmp_path / "lib"])
    groups = real_library.duplicates()
    same = [g for g in groups if g.kind is DuplicateKind.SAME]
    assert len(same) == 1
    assert {p.path.name for p in same[0].members} == {"astronaut.jpg", "astro_half.jpg"}
    assert same[0].keeper.path.name == "astronaut.jpg"  # the larger original is kept
    grouped = {p.path.name for g in groups for p in g.members}
    assert grouped == {"astronaut.jpg", "astro_half.jpg"}


@pytest.mark.realmodel
def test_word_search_and_named_clusters(real_library: Library, tmp_path: Path) -> None:
    photos = _real_photos(tmp_path / "lib")
    for i, factor in enumerate((0.8, 0.6, 0.5)):
        for name in ("chelsea", "coffee"):
            with Image.open(photos[name]) as img:
                save(img.resize((int(img.width * factor), int(img.height * factor))),
                     tmp_path / "lib" / f"{name}_{i}.jpg", quality=80)
    real_library.index([tmp_path / "lib"])

    cats = real_library.search_words("cat")
    assert {m.photo.path.name for m in cats} >= {"chelsea.jpg", "chelsea_0.jpg", "chelsea_1.jpg"}
    assert all(m.photo.path.name.startswith("chelsea") for m in cats)
    assert real_library.search_words("espresso")[0].photo.path.name.startswith("coffee")

    clusters = real_library.clusters()
    by_photo = {pid: c for c in clusters for pid in c.member_ids}
    cat_cluster = by_photo[real_library.photo(photos["chelsea"]).id]  # type: ignore[union-attr]
    assert "cat" in cat_cluster.name.lower()
    assert cat_cluster.size == 4
    # Adding a photo keeps the existing clusters' ids.
    with Image.open(photos["coffee"]) as img:
        save(img.rotate(3), tmp_path / "lib" / "coffee_tilted.jpg", quality=85)
    real_library.index()
    again = {c.id: set(c.member_ids) for c in real_library.clusters()}
    assert set(cat_cluster.member_ids) == again[cat_cluster.id]
