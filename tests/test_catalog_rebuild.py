"""The rebuild of a catalog too damaged to open, without a Library (core), and the CLI's
`photosim repair --rebuild-catalog` that calls it: the damaged files are kept byte for byte,
the folders that can still be read are kept, an intact catalog is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from photosim.__main__ import main as cli_main  # the launcher: `repair` reaches the CLI
from photosim.core.errors import CatalogError, DamagedCatalogError
from photosim.core.library import Library, set_aside_damaged_catalog

PAGE = 4096


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, list[Path]]:
    folders = [tmp_path / "pictures", tmp_path / "archive"]
    data = tmp_path / "data"
    with Library.open(data) as lib:
        for folder in folders:
            folder.mkdir()
        lib.add_folder(folders[0])
        lib.add_folder(folders[1], reference=True)
    return data, folders


def damage(catalog: Path, start: int, length: int) -> bytes:
    raw = bytearray(catalog.read_bytes())
    raw[start:start + length] = bytes(length)
    catalog.write_bytes(bytes(raw))
    return bytes(raw)


def test_a_zeroed_header_is_set_aside_untouched_and_the_folders_are_said_lost(library):
    data, _ = library
    damaged = damage(data / "catalog.sqlite3", 0, 100)
    with pytest.raises(DamagedCatalogError):
        Library.open(data)
    done = set_aside_damaged_catalog(data)
    assert done.aside.parent == data and done.aside.name.startswith("damaged-")
    assert (done.aside / "catalog.sqlite3").read_bytes() == damaged
    assert not done.folders_read and done.folders == []
    assert not list(data.glob(".salvage-*"))  # the copy it read is gone
    with Library.open(data) as lib:
        assert lib.status(check=True).photos == 0 and lib.folders() == []


def test_the_folders_a_copy_still_reads_are_kept_with_their_reference_mark(library):
    data, folders = library
    damaged = damage(data / "catalog.sqlite3", PAGE, PAGE)  # schema_migrations' page
    with pytest.raises(DamagedCatalogError):
        Library.open(data)
    done = set_aside_damaged_catalog(data)
    assert (done.aside / "catalog.sqlite3").read_bytes() == damaged
    assert done.folders_read and sorted(done.folders) == sorted(folders)
    with Library.open(data) as lib:
        assert lib.reference_folders() == [folders[1]]
        assert sorted(lib.folders()) == sorted(folders)


def test_two_rebuilds_in_one_second_never_share_a_folder(library):
    data, _ = library
    damage(data / "catalog.sqlite3", 0, 100)
    first = set_aside_damaged_catalog(data)
    damage(data / "catalog.sqlite3", 0, 100)
    second = set_aside_damaged_catalog(data)
    assert first.aside != second.aside
    assert (first.aside / "catalog.sqlite3").is_file()
    assert (second.aside / "catalog.sqlite3").is_file()


def test_an_intact_catalog_is_not_set_aside(library):
    data, _ = library
    before = (data / "catalog.sqlite3").read_bytes()
    with pytest.raises(CatalogError, match="not damaged"):
        set_aside_damaged_catalog(data)
    assert not list(data.glob("damaged-*"))
    assert (data / "catalog.sqlite3").read_bytes() == before


def test_the_cli_names_the_repair_and_the_repair_works(library, capsys):
    data, _ = library
    damaged = damage(data / "catalog.sqlite3", 0, 100)
    assert cli_main(["--data-dir", str(data), "status"]) == 1
    said = capsys.readouterr().err
    assert "photosim repair --rebuild-catalog" in said and "Traceback" not in said
    assert cli_main(["--json", "--data-dir", str(data), "repair", "--rebuild-catalog"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["folders_read"] is False and out["folders"] == []
    assert (Path(out["moved_to"]) / "catalog.sqlite3").read_bytes() == damaged
    assert cli_main(["--data-dir", str(data), "repair", "--rebuild-catalog"]) == 1
    assert "not damaged" in capsys.readouterr().err
