"""A damaged catalog: one clear message from every command, damage found by index/status, and
stored vectors checked by their checksum."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from photosim.core.catalog.store import encode_vector, intact_vectors
from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder

PAGE = 4096


@pytest.fixture
def indexed(tmp_path: Path, tiny_model: tuple[Path, Path]) -> tuple[Path, list[str], list[Path]]:
    model, spec = tiny_model
    files = make_photo_folder(tmp_path / "pics", count=40, size=(320, 240))
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        lib.index([tmp_path / "pics"])
    return data, ["--data-dir", str(data), "--model", str(model), "--model-spec", str(spec)], files


def photosim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "photosim", *args], capture_output=True,
                          text=True, timeout=120)


def zero_page(catalog: Path, number: int) -> None:
    with open(catalog, "r+b") as handle:
        handle.seek(number * PAGE)
        handle.write(bytes(PAGE))


@pytest.mark.slow  # 24 photosim processes: about 25 s on two cores
@pytest.mark.parametrize("page", ["first", "middle", "last"])
def test_a_zeroed_page_gives_one_clear_message_never_a_traceback(
        indexed: tuple[Path, list[str], list[Path]], page: str) -> None:
    data, args, files = indexed
    catalog = data / "catalog.sqlite3"
    pages = catalog.stat().st_size // PAGE
    zero_page(catalog, {"first": 0, "middle": pages // 2, "last": pages - 1}[page])
    for command in (["status"], ["index", str(files[0].parent.parent)],
                    ["similar", str(files[3])], ["dupes"]):
        for json_flag in ([], ["--json"]):
            done = photosim(*json_flag, *args, *command)
            output = done.stdout + done.stderr
            assert "Traceback" not in output, (command, output)
            if command[0] in ("status", "index"):  # these look at the whole catalog
                assert done.returncode == 1, (command, output)
            if done.returncode != 0:
                assert "damaged" in output and "photosim index" in output, (command, output)


def test_a_wrong_stored_vector_is_found_and_computed_again(
        indexed: tuple[Path, list[str], list[Path]], tiny_model: tuple[Path, Path],
        tmp_path: Path) -> None:
    data, _, files = indexed
    model, spec = tiny_model
    conn = sqlite3.connect(data / "catalog.sqlite3")
    (blob,) = conn.execute("SELECT vector FROM vectors LIMIT 1").fetchone()
    damaged = bytearray(blob)
    damaged[10:18] = b"\x00\x3c\x00\x3c\x00\x3c\x00\x3c"  # 8 bytes of a row: four 1.0s
    conn.execute("UPDATE vectors SET vector = ? WHERE vector = ?", (bytes(damaged), blob))
    conn.commit()
    conn.close()
    shutil.rmtree(data / "index")  # so the index is rebuilt from the stored vectors
    with Library.open(data, model=str(model), model_spec=str(spec)) as lib:
        assert lib.spec is not None
        ids, _ = lib.catalog.embedded_photos(lib.spec.vector_key, lib.spec.dim)
        assert len(ids) == len(files) - 1  # the damaged one is left out, never used
        report = lib.index()
        assert report.embedded == 1 and any("damaged" in p for p in report.problems)
        ids, _ = lib.catalog.embedded_photos(lib.spec.vector_key, lib.spec.dim)
        assert len(ids) == len(files)


def test_vector_checksums_catch_any_eight_byte_change() -> None:
    blob = encode_vector(__import__("numpy").linspace(-1, 1, 64))
    assert intact_vectors([blob, blob[:128]], 64).tolist() == [True, True]  # old blobs: as is
    for offset in range(0, 128, 8):
        bad = bytearray(blob)
        bad[offset:offset + 8] = bytes(8) if any(blob[offset:offset + 8]) else b"\x01" * 8
        assert intact_vectors([bytes(bad), blob[:-1]], 64).tolist() == [False, False]
