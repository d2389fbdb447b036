"""A disk that fills up mid-index: a clear message, and nothing already indexed is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from photosim.core.catalog import Catalog
from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder

# Runs in a child process whose file-size limit stands in for a full disk. SIGXFSZ is ignored
# so an oversized write fails with EFBIG, as a write to a full disk fails with ENOSPC.
CHILD = """
import resource, signal, sys
from pathlib import Path
from photosim.core.errors import PhotosimError
from photosim.core.library import Library
data, pics, model, spec, limit = sys.argv[1:6]
lib = Library.open(Path(data), model=model, model_spec=spec)
lib.vector_index()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
try:
    lib.index([Path(pics)])
except PhotosimError as exc:
    print("KNOWN:", exc)
    sys.exit(3)
print("finished")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file-size limits")
def test_full_disk_fails_cleanly_and_keeps_earlier_work(tmp_path: Path,
                                                         tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    make_photo_folder(pics / "first", count=10)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        assert lib.index([pics]).embedded == 10
    make_photo_folder(pics / "second", count=60, size=(800, 600))
    limit = (data / "catalog.sqlite3").stat().st_size + 8192
    child = subprocess.run([sys.executable, "-c", CHILD, str(data), str(pics), str(model),
                            str(spec), str(limit)], capture_output=True, text=True, timeout=300)
    assert child.returncode == 3, child.stdout + child.stderr
    assert "disk is full" in child.stdout and "Traceback" not in child.stderr

    catalog = Catalog(data / "catalog.sqlite3")
    assert catalog.db.integrity_ok()
    catalog.close()
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        assert len(lib.photos(pics / "first")) == 10
        assert lib.status().embedded >= 10
        lib.index([pics])
        assert lib.status().embedded == 70 and len(lib.similar(pics / "first" / "home" /
                                                                "photo_00.jpg", k=100)) == 69
