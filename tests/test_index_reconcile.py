"""The index is reconciled with the catalog by content, not only by id."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from photosim.core.index import VectorIndex
from photosim.core.library import Library
from tests.imagegen import save, scene
from tests.library_fixtures import make_photo_folder


def test_a_crash_after_the_catalog_took_a_changed_photo_leaves_no_stale_vector(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    files = make_photo_folder(pics, count=6)
    data = tmp_path / "data"
    outside = tmp_path / "old.jpg"
    shutil.copyfile(files[0], outside)  # the photo as it was
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([pics])
    saved_before = tmp_path / "index-before"
    shutil.copytree(data / "index", saved_before)
    save(scene(40, (640, 480)), files[0], quality=90)  # new content, same path and id
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        assert lib.index([pics]).updated == 1
    # A kill -9 after the catalog committed the new vector but before the index was saved:
    shutil.rmtree(data / "index")
    shutil.copytree(saved_before, data / "index")

    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        hits = lib.similar(outside, k=3)
        assert not any(m.photo.path == files[0] and m.score > 0.999 for m in hits)
        index = lib.vector_index()
        assert index is not None
        current, _ = lib.vector_of(files[0])  # embeds the file's current bytes
        best = index.query(current, 1)[0]
        assert best[0] == lib.photo(files[0]).id and best[1] > 0.999  # type: ignore[union-attr]
    assert np.isfinite(best[1])


def test_a_damaged_index_row_is_fetched_again_from_the_catalog(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    files = make_photo_folder(pics, count=6)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([pics])
    for segment in (data / "index").glob("vectors-*.f16"):
        segment.write_bytes(np.random.default_rng(3).bytes(segment.stat().st_size))
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(files[2], copy)
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        hits = lib.similar(copy, k=2)
        assert hits and hits[0].photo.path == files[2] and hits[0].score > 0.999
        index = lib.vector_index()
        assert index is not None and index.damaged_rows > 0


def test_orphans_are_dropped_from_the_saved_index_and_the_catalog(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    files = make_photo_folder(pics, count=6)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([pics])
    saved_before = tmp_path / "index-before"
    shutil.copytree(data / "index", saved_before)
    files[1].unlink()
    save(scene(41, (640, 480)), files[2], quality=90)
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        report = lib.index([pics])
        assert report.removed == 1 and report.updated == 1
        stored = lib.catalog.db.connection().execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        assert stored == 5  # the deleted file's and the old content's vectors are gone
    shutil.rmtree(data / "index")  # a kill before the save: the old index is back
    shutil.copytree(saved_before, data / "index")
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.vector_index()  # reconciles, and saves what it dropped at once
        key = lib.spec.vector_key if lib.spec else ""
    reopened = VectorIndex.load(data / "index", key, 32)
    assert reopened is not None and len(reopened) == 5
