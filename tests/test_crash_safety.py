"""Kill -9 an indexing process at random moments; every restart must recover on its own."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from photosim.core.catalog import Catalog
from photosim.core.index import VectorIndex
from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder

KILLS = 20


def _start_indexing(data: Path, pics: Path, model: Path, spec: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "photosim", "--data-dir", str(data), "--model", str(model),
         "--model-spec", str(spec), "index", str(pics)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _check_consistent(data: Path, model: Path, spec: Path) -> int:
    """Integrity check passes and the (reconciled) index holds exactly the embedded photos."""
    catalog = Catalog(data / "catalog.sqlite3")
    try:
        assert catalog.db.integrity_ok()
    finally:
        catalog.close()
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        assert lib.spec is not None
        ids, _ = lib.catalog.embedded_photos(lib.spec.id, lib.spec.dim)
        index = lib.vector_index()
        assert index is not None
        assert np.array_equal(np.sort(index.ids()), np.sort(ids))
        return len(ids)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path,
                                                 tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    files = make_photo_folder(pics, count=80, size=(800, 600))
    data = tmp_path / "data"
    rng = random.Random(1234)
    embedded_before = 0
    for _ in range(KILLS):
        proc = _start_indexing(data, pics, model, spec)
        time.sleep(rng.uniform(0.2, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        done = _check_consistent(data, model, spec)
        assert done >= embedded_before  # committed work is never lost
        embedded_before = done

    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        final = lib.index([pics])
        again = lib.index([pics])
        photos = lib.photos()
    assert again.embedded == 0 and again.unchanged == len(files)
    assert final.embedded == len(files) - embedded_before
    assert sorted(p.path for p in photos) == sorted(files)  # each photo exactly once
    assert _check_consistent(data, model, spec) == len(files)
    # The saved index on disk is complete too (or absent and rebuilt, never half-written).
    loaded = VectorIndex.load(data / "index", "tiny-test", 32)
    assert loaded is None or len(loaded) == len(files)
