"""Readers never write; one writer per library, with the holder named; readers beside it."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from photosim.cli.main import main
from tests.library_fixtures import make_photo_folder, resized_copy

Snapshot = dict[str, tuple[str, int]]


@pytest.fixture
def library(tmp_path: Path, tiny_model: tuple[Path, Path]) -> tuple[list[str], list[Path]]:
    """(global options, photos) of a library indexed by a writer that has finished."""
    model, spec = tiny_model
    photos = make_photo_folder(tmp_path / "pics", count=5)
    shutil.copy2(photos[1], tmp_path / "pics" / "copy.jpg")
    photos.append(resized_copy(photos[3], tmp_path / "pics" / "small.jpg"))
    options = ["--data-dir", str(tmp_path / "data"), "--model", str(model),
               "--model-spec", str(spec)]
    assert main([*options, "index", str(tmp_path / "pics")]) == 0
    return options, photos


def snapshot(data_dir: Path) -> Snapshot:
    """Every file of the data folder but the models: content hash and mtime."""
    return {str(p.relative_to(data_dir)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                           p.stat().st_mtime_ns)
            for p in sorted(data_dir.rglob("*")) if p.is_file() and "models" not in p.parts}


def reader_commands(photos: list[Path]) -> list[list[str]]:
    return [["similar", str(photos[0]), "-k", "3"],
            ["similar", str(photos[5])],
            ["compare", str(photos[1]), str(photos[2])],
            ["dupes"],
            ["clusters"],
            ["clusters", "--granularity", "0.9"],
            ["search", "dog"],  # refused in words: the tiny model has no ImageNet classifier
            ["status", "--errors"]]


def test_readers_leave_catalog_and_index_files_byte_identical(
        tmp_path: Path, library: tuple[list[str], list[Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    options, photos = library
    data = tmp_path / "data"
    before = snapshot(data)
    assert "catalog.sqlite3" in before and any(k.startswith("index") for k in before)
    assert not any(k.endswith(("-wal", "-shm")) for k in before)  # the writer closed cleanly
    for command in reader_commands(photos):
        code = main([*options, *command])
        capsys.readouterr()
        assert code == (1 if command[0] == "search" else 0), command
        assert snapshot(data) == before, command  # nothing written, nothing left behind


def test_readers_do_not_checkpoint_a_crashed_writers_log(
        tmp_path: Path, library: tuple[list[str], list[Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """A writer that died left its log (-wal): readers read through it and leave the catalog
    and the log as they found them (the next writer checkpoints)."""
    options, photos = library
    catalog = tmp_path / "data" / "catalog.sqlite3"
    crash = ("import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
             "c.execute('CREATE TABLE scratch (x)'); c.commit(); os._exit(0)")
    subprocess.run([sys.executable, "-c", crash, str(catalog)], check=True, timeout=60)
    wal = catalog.with_name(catalog.name + "-wal")
    assert wal.stat().st_size > 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (catalog, wal)}
    for command in (["status"], ["dupes"], ["similar", str(photos[0])]):
        assert main([*options, *command]) == 0, command
        capsys.readouterr()
        assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (catalog, wal)} == before
    with sqlite3.connect(catalog) as conn:  # and what the log holds is still there
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'scratch'").fetchone()


def test_a_second_writer_is_refused_naming_the_holder_and_readers_run_beside(
        tmp_path: Path, library: tuple[list[str], list[Path]]) -> None:
    options, photos = library
    cli = [sys.executable, "-m", "photosim", *options]
    watcher = subprocess.Popen([*cli, "watch", str(tmp_path / "pics"), "--seconds", "120"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        for line in watcher.stdout:  # the catch-up line, then "Watching ..."
            if line.startswith("Watching"):
                break
        else:
            pytest.fail(f"watch did not start: {watcher.stderr.read() if watcher.stderr else ''}")

        index = subprocess.run([*cli, "index"], capture_output=True, text=True, timeout=120)
        assert index.returncode == 1
        assert f"photosim watch, pid {watcher.pid}" in index.stderr
        assert "Traceback" not in index.stderr

        refused_json = subprocess.run([*cli, "--json", "index"], capture_output=True,
                                      text=True, timeout=120)
        assert refused_json.returncode == 1 and '"error"' in refused_json.stderr

        for command in (["status"], ["similar", str(photos[0])], ["dupes"]):
            reader = subprocess.run([*cli, *command], capture_output=True, text=True,
                                    timeout=120)
            assert reader.returncode == 0, (command, reader.stderr)
    finally:
        watcher.send_signal(signal.SIGINT)  # watch's normal way out: Ctrl-C
        watcher.communicate(timeout=60)
    again = subprocess.run([*cli, "index"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr  # the lock went with its holder


def test_a_writer_in_this_process_shares_the_lock(tmp_path: Path,
                                                  tiny_model: tuple[Path, Path]) -> None:
    """Two Library objects of one process (the app's window and its library) share the
    writer lock; a third process is refused until both let go."""
    from photosim.core.library import Library

    data = tmp_path / "data"
    probe = ("import sys; from photosim.core.library import Library; "
             "Library.open(sys.argv[1], holder='probe').close()")
    first = Library.open(data, holder="first")
    second = Library.open(data, holder="second")
    try:
        refused = subprocess.run([sys.executable, "-c", probe, str(data)],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and f"first, pid {os.getpid()}" in refused.stderr
        first.close()
        refused = subprocess.run([sys.executable, "-c", probe, str(data)],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
    finally:
        second.close()
    allowed = subprocess.run([sys.executable, "-c", probe, str(data)], capture_output=True,
                             text=True, timeout=60)
    assert allowed.returncode == 0, allowed.stderr
