"""Kill -9 an indexing process at random moments while files change between runs; every
restart must recover on its own, and disk, catalog and index must agree by content."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from photosim.core import decode, scanner
from photosim.core.catalog import Catalog
from photosim.core.index import VectorIndex
from photosim.core.library import Library
from tests.imagegen import save, scene
from tests.library_fixtures import make_photo_folder

KILLS = 24
COMPLETE_EVERY = 4  # a run left to finish after every few kills, then checked by content
CHANGED_PER_STEP = 12  # files whose content changes between runs: more than one batch


def _start_indexing(data: Path, pics: Path, model: Path, spec: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "photosim", "--data-dir", str(data), "--model", str(model),
         "--model-spec", str(spec), "index", str(pics)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _current_vector(lib: Library, path: Path) -> np.ndarray:
    """What the model makes of the file's bytes now, decoded the way indexing decodes."""
    embedder = lib.embedder()
    assert embedder is not None and lib.spec is not None
    image = decode.load_rgb(path, max(lib.spec.preprocess.resize_shorter, 256)).image
    return embedder.embed_with_norms([embedder.prepare(image)])[0][0]


def _check_consistent(data: Path, model: Path, spec: Path) -> int:
    """After any run, finished or killed: the catalog passes its integrity check, and the
    (reconciled) index holds exactly the embedded photos, each with the vector of the
    content the catalog has for it now."""
    if not data.exists():  # killed before the CLI made its data folder (a slow start-up)
        return 0
    catalog = Catalog(data / "catalog.sqlite3")
    try:
        assert catalog.db.integrity_ok()
    finally:
        catalog.close()
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        assert lib.spec is not None
        ids, stored = lib.catalog.embedded_photos(lib.spec.vector_key, lib.spec.dim)
        index = lib.vector_index()
        assert index is not None
        assert np.array_equal(np.sort(index.ids()), np.sort(ids))
        held_ids, held = index.vectors(ids)
        assert np.array_equal(held_ids, ids)
        assert np.all(np.einsum("ij,ij->i", held, stored) > 0.999)  # float16 both sides
        return len(ids)


def _check_against_disk(data: Path, pics: Path, model: Path, spec: Path) -> None:
    """After a finished run: every file on disk is in the catalog once, with the hash of its
    bytes, and the index gives it the vector its bytes give."""
    on_disk = sorted(p for p in pics.rglob("*.jpg"))
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        photos = {p.path: p for p in lib.photos()}
        assert sorted(photos) == on_disk
        index = lib.vector_index()
        assert index is not None
        for path in on_disk:
            photo = photos[path]
            assert photo.content_hash == scanner.content_hash(path)
            _, held = index.vectors([photo.id])
            assert len(held) == 1, path
            assert float(held[0] @ _current_vector(lib, path)) > 0.999, path


def _change_the_disk(pics: Path, rng: random.Random, step: int) -> list[str]:
    """Between runs, as a user would: change some files' content in place, add one, move one
    to the other folder, delete one. Returns the changed files' new content hashes."""
    files = sorted(pics.rglob("*.jpg"))
    *changed, moved, deleted = rng.sample(files, CHANGED_PER_STEP + 2)
    for number, path in enumerate(changed):
        save(scene(1000 + 100 * step + number, (640, 480)), path, quality=90)
    save(scene(2000 + step, (640, 480)), pics / "new" / f"added_{step:02d}.jpg", quality=90)
    target = pics / ("home" if moved.parent.name != "home" else "trip") / f"moved_{step:02d}.jpg"
    shutil.move(moved, target)
    deleted.unlink()
    return [scanner.content_hash(path) for path in changed]


def _kill_once_a_change_is_committed(proc: subprocess.Popen[bytes], catalog: Path,
                                     new_hashes: list[str]) -> None:
    """The moment that once left stale vectors: the catalog has committed a changed file's new
    vector, the index has not been saved yet. Polls the catalog (read-only) for it."""
    marks = ",".join("?" * len(new_hashes))
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            conn = sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True, timeout=1)
            try:
                found = conn.execute(f"SELECT COUNT(*) FROM vectors WHERE content_hash IN "
                                     f"({marks})", new_hashes).fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            found = 0
        if found:
            break
        time.sleep(0.005)


@pytest.mark.slow  # about a minute on two cores: one Python start per run
def test_sigkill_at_random_moments_while_files_change(tmp_path: Path,
                                                      tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    make_photo_folder(pics, count=40, size=(640, 480))
    data = tmp_path / "data"
    rng = random.Random(1234)
    kills = 0
    # A run killed after it finished counts for nothing: go on until KILLS kills were made
    # (a faster start-up or machine finishes more runs inside the random wait).
    step = -1
    while kills < KILLS and step < 3 * KILLS:
        step += 1
        new_hashes = _change_the_disk(pics, rng, step) if step else []
        proc = _start_indexing(data, pics, model, spec)
        if new_hashes and step % 2:
            _kill_once_a_change_is_committed(proc, data / "catalog.sqlite3", new_hashes)
        else:
            time.sleep(rng.uniform(0.2, 1.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        _check_consistent(data, model, spec)
        if step % COMPLETE_EVERY == COMPLETE_EVERY - 1:
            finished = _start_indexing(data, pics, model, spec)
            _, err = finished.communicate(timeout=120)
            assert finished.returncode == 0, err.decode(errors="replace")
            _check_consistent(data, model, spec)
            _check_against_disk(data, pics, model, spec)
    assert kills >= KILLS >= 20

    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([pics])
        again = lib.index([pics])
        key = lib.spec.vector_key if lib.spec else ""
        orphans = lib.catalog.db.connection().execute(
            "SELECT COUNT(*) FROM vectors WHERE content_hash NOT IN "
            "(SELECT content_hash FROM photos WHERE content_hash IS NOT NULL)").fetchone()[0]
    assert orphans == 0  # vectors of changed and deleted content are dropped
    assert again.embedded == 0 and again.unchanged == len(list(pics.rglob("*.jpg")))
    _check_against_disk(data, pics, model, spec)
    # The saved index on disk is complete too (or absent and rebuilt, never half-written).
    loaded = VectorIndex.load(data / "index", key, 32)
    assert loaded is None or len(loaded) == len(list(pics.rglob("*.jpg")))
    assert not list((data / "index").glob(".*.tmp"))  # no litter of killed saves
