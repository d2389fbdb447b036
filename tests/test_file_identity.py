"""One file is one photo, whatever its names: links, hard links, undecodable names, edits
that keep size and mtime. Real SQLite, hnswlib and onnxruntime with the tiny model."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from photosim.cli.main import main
from photosim.core.errors import FileChangedError, ProtectedFileError
from photosim.core.library import Library
from photosim.core.types import DuplicateKind
from tests.library_fixtures import make_photo_folder

needs_posix_names = pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                                       reason="file names are arbitrary bytes only on Linux/BSD")


@pytest.fixture
def library(tmp_path: Path, tiny_model: tuple[Path, Path]) -> Library:
    model, spec = tiny_model
    lib = Library.open(tmp_path / "data", model=str(model), model_spec=str(spec))
    yield lib
    lib.close()


def _linked_library(library: Library, tmp_path: Path, reference: bool) -> tuple[Path, Path]:
    """lib/ holds one photo and zz_link -> ref/, which holds another; both folders indexed."""
    make_photo_folder(tmp_path / "lib", count=1)
    ref_photo = make_photo_folder(tmp_path / "ref", count=1, size=(480, 640))[0]
    os.symlink(tmp_path / "ref", tmp_path / "lib" / "zz_link", target_is_directory=True)
    library.add_folder(tmp_path / "ref", reference=reference)
    library.index([tmp_path / "lib", tmp_path / "ref"])
    return ref_photo, tmp_path / "lib" / "zz_link" / ref_photo.relative_to(tmp_path / "ref")


def test_a_folder_link_into_another_library_folder_does_not_double_a_photo(
        library: Library, tmp_path: Path) -> None:
    real, through_link = _linked_library(library, tmp_path, reference=False)
    paths = {p.path for p in library.photos()}
    assert real in paths and through_link not in paths
    assert len(paths) == 2
    assert library.duplicates(kinds={DuplicateKind.EXACT}) == []


def test_a_reference_folder_reached_through_a_link_stays_protected(
        library: Library, tmp_path: Path) -> None:
    real, through_link = _linked_library(library, tmp_path, reference=True)
    photo = library.photo(real)
    assert photo is not None
    with pytest.raises(ProtectedFileError):
        library.trash([dataclasses.replace(photo, path=through_link)])
    assert real.exists()


def test_trash_refuses_a_path_that_is_the_same_file_as_another_photo(
        library: Library, tmp_path: Path) -> None:
    """A catalog written before links were recognised may hold both names of one file."""
    real, through_link = _linked_library(library, tmp_path, reference=False)
    recorded = library.photo(real)
    assert recorded is not None
    with library.catalog.db.transaction() as conn:  # as the previous scanner recorded it
        library.catalog.upsert_photo(conn, through_link, recorded.size, recorded.mtime_ns,
                                     recorded.content_hash, None, None, None)
    twin = library.photo(through_link)
    assert twin is not None
    with pytest.raises(ProtectedFileError, match="same file"):
        library.trash([twin])
    assert real.exists()


def test_a_second_name_recorded_by_an_older_version_is_dropped_by_the_next_scan(
        library: Library, tmp_path: Path) -> None:
    real, through_link = _linked_library(library, tmp_path, reference=False)
    recorded = library.photo(real)
    assert recorded is not None
    with library.catalog.db.transaction() as conn:
        library.catalog.upsert_photo(conn, through_link, recorded.size, recorded.mtime_ns,
                                     recorded.content_hash, None, None, None)
    assert len(library.duplicates(kinds={DuplicateKind.EXACT})) == 1  # the old symptom
    assert library.index().removed == 1
    assert through_link not in {p.path for p in library.photos()} and real.exists()
    assert library.duplicates(kinds={DuplicateKind.EXACT}) == []


def test_a_watched_change_seen_through_a_link_is_recorded_once(
        library: Library, tmp_path: Path) -> None:
    real, through_link = _linked_library(library, tmp_path, reference=False)
    library.index_paths([through_link])  # what the watcher hands over
    assert {p.path for p in library.photos()} == {real, *(tmp_path / "lib").rglob("photo_*")}
    assert through_link not in {p.path for p in library.photos()}


def test_hard_links_are_one_photo(library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=2)
    os.link(paths[0], tmp_path / "pics" / "zz_hardlink.jpg")
    library.index([tmp_path / "pics"])
    assert len(library.photos()) == 2
    assert library.duplicates(kinds={DuplicateKind.EXACT}) == []


def test_trash_rechecks_content_when_size_and_mtime_are_kept(
        library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=2)
    library.index([tmp_path / "pics"])
    shown = library.photo(paths[0])
    assert shown is not None
    st = paths[0].stat()
    data = bytearray(paths[0].read_bytes())
    data[-3] ^= 0xFF  # same size
    paths[0].write_bytes(bytes(data))
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    with pytest.raises(FileChangedError, match="content changed"):
        library.trash([shown])
    assert paths[0].exists()


@needs_posix_names
def test_a_name_that_is_not_utf8_is_indexed_found_grouped_and_trashed(
        library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=2)
    odd = Path(os.fsdecode(os.fsencode(tmp_path / "pics") + b"/caf\xe9.jpg"))
    shutil.copy2(paths[0], odd)
    report = library.index([tmp_path / "pics"])
    assert (report.added, report.failed) == (3, 0)
    assert library.photo(odd) is not None and odd in {p.path for p in library.photos()}
    assert library.index().unchanged == 3  # the stored name matches the disk's byte for byte
    assert odd in {m.photo.path for m in library.similar(paths[0], k=5)}
    [group] = library.duplicates(kinds={DuplicateKind.EXACT})
    assert odd in {p.path for p in group.members}
    action = library.trash([library.photo(odd)])  # type: ignore[list-item]
    assert not odd.exists()
    assert library.undo(action.id) == [odd] and odd.exists()
    rows = library.photo_rows()
    assert any(row[1] == str(odd) for row in rows)


@needs_posix_names
def test_undecodable_names_survive_the_cli_in_json_and_text(
        tmp_path: Path, tiny_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model, spec = tiny_model
    pics = tmp_path / "pics"
    [photo] = make_photo_folder(pics, count=1)
    shutil.copy2(photo, os.fsencode(pics) + b"/caf\xe9.jpg")
    args = ["--data-dir", str(tmp_path / "data"), "--model", str(model), "--model-spec", str(spec)]
    assert main(["--json", *args, "index", str(pics)]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 2
    assert main(["--json", *args, "dupes"]) == 0
    [group] = json.loads(capsys.readouterr().out)["groups"]
    assert any("caf" in member["path"] for member in group["members"])
    assert main([*args, "dupes"]) == 0
    assert "caf\N{REPLACEMENT CHARACTER}.jpg" in capsys.readouterr().out
