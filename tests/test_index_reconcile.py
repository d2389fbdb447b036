"""The index is reconciled with the catalog by content, not only by id."""

from __future__ import annotations

import contextlib
import io
import json
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


def _damage_one_row(data: Path) -> None:
    """Eight random bytes in the middle of the first row of the saved index's segment."""
    segment = next((data / "index").glob("vectors-*.f16"))
    with open(segment, "r+b") as handle:
        handle.seek(16)
        handle.write(np.random.default_rng(8).bytes(8))


def _indexed_with_a_damaged_row(tmp_path: Path, tiny_model: tuple[Path, Path]
                                ) -> tuple[Path, Path]:
    """(data folder, photo folder) of six indexed photos, one index row then damaged."""
    model, spec = tiny_model
    pics = tmp_path / "pics"
    make_photo_folder(pics, count=6)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([pics])
    _damage_one_row(data)
    return data, pics


def test_status_reads_every_index_row_and_reports_the_damage(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    """Damage is found by a full check, not only when a query happens to read the row, and
    it reaches the user: `status` (and --json) says how many rows were damaged and healed."""
    from photosim.cli.main import main

    model, spec = tiny_model
    data, _ = _indexed_with_a_damaged_row(tmp_path, tiny_model)
    argv = ["--data-dir", str(data), "--model", str(model), "--model-spec", str(spec)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--json", "status"]) == 0
    status = json.loads(out.getvalue())
    assert status["index_rows_checked"] == 6
    assert status["index_damaged_rows"] == 1 and status["index_healed_rows"] == 1
    assert "1 damaged row" in status["index_problem"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "status"]) == 0
    assert "vector index: 1 damaged row(s) found" in out.getvalue()
    assert "run 'photosim index'" in out.getvalue()  # status only reads: index rewrites


def test_index_repairs_a_damaged_row_it_never_queried_and_says_so(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    data, pics = _indexed_with_a_damaged_row(tmp_path, tiny_model)
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        report = lib.index([pics])
        assert any("1 damaged row" in p for p in report.problems)
        assert lib.status().index_damaged_rows == 1
    with Library.open(data, model=str(model), model_spec=str(spec), read_only=True) as lib:
        health = lib.check_health()
        assert health.ok and health.index_rows_checked == 6  # rewritten on disk
