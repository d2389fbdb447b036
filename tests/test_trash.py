"""The freedesktop trash as photosim writes it: records, name clashes, failures, restore."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import pytest

from photosim.core import trash
from photosim.core.errors import TrashError


def _home_trash() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "Trash"


def test_trashed_file_has_a_spec_record_and_comes_back(tmp_path: Path) -> None:
    photo = tmp_path / "été 2024" / "IMG 1.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"jpeg bytes")
    where = trash.move_to_trash(photo)
    assert where is not None and where.read_bytes() == b"jpeg bytes" and not photo.exists()
    info = (_home_trash() / "info" / f"{where.name}.trashinfo").read_text()
    assert info.startswith("[Trash Info]\n")
    assert unquote(info.split("Path=")[1].splitlines()[0]) == str(photo)
    assert "DeletionDate=" in info
    trash.restore(where, photo)
    assert photo.read_bytes() == b"jpeg bytes"
    assert not list((_home_trash() / "info").iterdir())


def test_same_name_twice_gets_distinct_trash_entries(tmp_path: Path) -> None:
    places = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        photo = tmp_path / folder / "same.jpg"
        photo.write_text(folder)
        places.append(trash.move_to_trash(photo))
    assert places[0] != places[1]
    assert {p.read_text() for p in places if p} == {"a", "b"}


def test_restore_never_overwrites_a_new_file(tmp_path: Path) -> None:
    photo = tmp_path / "x.jpg"
    photo.write_text("old")
    where = trash.move_to_trash(photo)
    photo.write_text("new")
    with pytest.raises(TrashError, match="exists again"):
        trash.restore(where, photo)
    assert photo.read_text() == "new" and where is not None and where.exists()


def test_no_usable_trash_means_nothing_is_deleted(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the trash folder would go")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    photo = tmp_path / "keep.jpg"
    photo.write_text("precious")
    with pytest.raises(TrashError, match="Nothing was deleted"):
        trash.move_to_trash(photo)
    assert photo.read_text() == "precious"
