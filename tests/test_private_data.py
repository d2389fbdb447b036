"""The data folder is the user's alone: it names every photo and its EXIF."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_index_close(data: Path, pics: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([pics])


def test_a_new_data_folder_is_private_under_a_permissive_umask(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    make_photo_folder(tmp_path / "pics", count=1)
    old = os.umask(0o002)
    try:
        _open_index_close(tmp_path / "data", tmp_path / "pics", tiny_model)
    finally:
        os.umask(old)
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file() and p.parent.name != "models"]
    assert data / "catalog.sqlite3" in files
    assert {p.name: _mode(p) & 0o077 for p in files} == {p.name: 0 for p in files}


def test_an_existing_world_readable_data_folder_is_tightened_on_open(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    make_photo_folder(tmp_path / "pics", count=1)
    _open_index_close(tmp_path / "data", tmp_path / "pics", tiny_model)
    data = tmp_path / "data"
    data.chmod(0o755)
    (data / "catalog.sqlite3").chmod(0o644)
    (data / "settings.json").write_text("{}")
    (data / "settings.json").chmod(0o644)
    _open_index_close(data, tmp_path / "pics", tiny_model)
    assert _mode(data) == 0o700
    assert _mode(data / "catalog.sqlite3") == 0o600
    assert _mode(data / "settings.json") == 0o600
