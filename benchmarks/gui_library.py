"""A large photo library for the GUI benchmarks, built once and reused (benchmarks/gui_bench.py).

What the app sees is real: a catalog written through ``Catalog``, one photo file per row on
disk (so the catch-up scan at start finds every file unchanged), a vector per photo, a saved
hnswlib ``VectorIndex`` built by the library itself from the catalog, a model installed in the
library's model store (EfficientNet-Lite0 from ../shared/models), and a thumbnail cache on
disk in the place where ``Library.thumbnail`` keeps it.

What is synthetic, and why: the photos are copies of a pool of small generated JPEGs, each
made a distinct file by a few bytes after the JPEG's end (100k distinct pictures would take
hours to make; hard links would not do, the scanner rightly counts a linked file once), and
the vectors come from the clustered generator of benchmarks/index_bench.py rather than from
running the model over 100k pictures. The thumbnails are the pool's,
made by the same ``decode.make_thumbnail`` the app uses, linked under each photo's key.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from benchmarks import index_bench
from benchmarks.index_throughput import SHARED
from photosim.core import decode
from photosim.core.catalog import Catalog
from photosim.core.library import Library
from photosim.core.models.spec import ModelSpec
from photosim.core.models.store import ModelStore
from photosim.core.paths import LibraryPaths
from photosim.core.scanner import content_hash
from photosim.core.types import ImageInfo, Photo
from tests.imagegen import scene

LAYOUT_VERSION = 1  # bump when what is built changes, so cached libraries are rebuilt
POOL_SIZE = 120
POOL_PICTURE = (400, 300)  # small: 100k copies take about 2 GB
THUMB_SIZE = 256  # photosim.ui.thumbnails.DISK_SIZE (not imported: this module stays Qt-free)
YEARS = range(2015, 2024)
MODEL_FILE = SHARED / "efficientnet_lite0_embed.onnx"
MODEL_SPEC = {"id": "efficientnet-lite0-guibench", "name": "EfficientNet-Lite0", "dim": 1280,
              "output": "embedding", "input_name": "input",
              "preprocess": {"mean": [127.0] * 3, "std": [128.0] * 3,
                             "interpolation": "bicubic"}}


def ensure_library(work: Path, photos: int) -> Path:
    """The data folder of a ``photos``-photo library under ``work``, built if not there yet."""
    marker = work / "ready.json"
    wanted = {"photos": photos, "version": LAYOUT_VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return work / "data"
    if not MODEL_FILE.is_file():
        raise SystemExit(f"the GUI benchmarks need {MODEL_FILE}")
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    build(work, photos)
    marker.write_text(json.dumps(wanted))
    print(f"built the {photos:,}-photo library in {time.perf_counter() - started:.0f} s "
          f"under {work}", flush=True)
    return work / "data"


def build(work: Path, count: int) -> None:
    data = work / "data"
    LibraryPaths(data).ensure()
    pool = make_pool(work / "pool")
    layout = link_photos(work / "photos", pool, count)
    spec = install_model(data)
    fill_catalog(data, layout, spec, work / "vectors.npy")
    with Library.open(data) as library:
        check_catch_up(library, count)
        step("index", lambda: library.vector_index())  # built from the catalog, then saved
        link_thumbnails(library, pool)
    settings = {"first_run_done": True}
    (data / "gui-settings.json").write_text(json.dumps(settings))


def step(what: str, work: object) -> object:
    started = time.perf_counter()
    result = work() if callable(work) else None
    print(f"  {what}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


# -- files ---------------------------------------------------------------------------------

def make_pool(folder: Path) -> list[tuple[Path, Path]]:
    """(picture, its thumbnail) for each pooled JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    pool = []
    for seed in range(POOL_SIZE):
        picture = folder / f"pool{seed:03d}.jpg"
        scene(seed, POOL_PICTURE).save(picture, quality=88)
        thumb = folder / f"pool{seed:03d}-thumb.jpg"
        decode.make_thumbnail(picture, THUMB_SIZE).save(thumb, "JPEG", quality=85)
        pool.append((picture, thumb))
    return pool


def link_photos(root: Path, pool: list[tuple[Path, Path]], count: int
                ) -> list[tuple[Path, int]]:
    """(photo path, pool index) for ``count`` photos in year/month folders, named like a
    camera names them; each is a pooled picture with its own trailing bytes."""
    months = [root / str(year) / f"{month:02d}" for year in YEARS for month in range(1, 13)]
    layout = []
    pictures = [picture.read_bytes() for picture, _ in pool]
    for i in range(count):
        folder = months[i * len(months) // count]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IMG_{i:06d}.jpg"
        path.write_bytes(pictures[i % len(pool)] + f"guibench photo {i}".encode())
        layout.append((path.resolve(), i % len(pool)))
    return layout


def install_model(data: Path) -> ModelSpec:
    store = ModelStore(LibraryPaths(data).models)
    spec = store.add_user_model(MODEL_FILE, ModelSpec.from_dict(MODEL_SPEC))
    store.use(spec.id)
    return spec


# -- catalog ---------------------------------------------------------------------------------

def fill_catalog(data: Path, layout: list[tuple[Path, int]], spec: ModelSpec,
                 vectors_file: Path) -> None:
    """One row and one vector per photo, written the way the indexing pipeline writes them."""
    vectors = index_bench.generate(vectors_file, len(layout), spec.dim, 3000, 0.5, 1)
    catalog = Catalog(LibraryPaths(data).catalog)
    catalog.add_folder(layout[0][0].parents[2], reference=False)
    with catalog.transaction() as conn:
        for i, (path, _) in enumerate(layout):
            st = path.stat()
            digest = content_hash(path)
            catalog.upsert_photo(conn, path, st.st_size, st.st_mtime_ns, digest,
                                 photo_info(path, i), None, None)
            catalog.put_vector(conn, digest, spec.id, np.asarray(vectors[i], np.float32))
    catalog.close()


def photo_info(path: Path, i: int) -> ImageInfo:
    """Taken in the year and month its folder is named after, as a camera import sorts them."""
    year, month = path.parts[-3], path.parts[-2]
    return ImageInfo(width=POOL_PICTURE[0], height=POOL_PICTURE[1], format="JPEG",
                     date_taken=f"{year}-{month}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00",
                     camera="Bench Camera", exif_fields=12)


def check_catch_up(library: Library, count: int) -> None:
    """The app's start-up scan must find every photo unchanged, or the library is not what
    a returning user has."""
    report = step("catch-up scan", lambda: library.index())
    if getattr(report, "unchanged", None) != count:
        raise RuntimeError(f"the built library is not up to date: {report}")


def link_thumbnails(library: Library, pool: list[tuple[Path, Path]]) -> None:
    started = time.perf_counter()
    for photo in library.photos():
        target = library.thumbnail_path(photo, THUMB_SIZE)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(pool[pool_index(photo)][1], target)
    print(f"  thumbnails: {time.perf_counter() - started:.1f} s", flush=True)


def pool_index(photo: Photo) -> int:
    return int(photo.path.stem.split("_")[1]) % POOL_SIZE
