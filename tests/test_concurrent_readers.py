"""The CLI can read the catalog while another process is indexing into it (WAL)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.library_fixtures import make_photo_folder


def test_status_reads_while_an_indexer_writes(tmp_path: Path,
                                              tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=80, size=(800, 600))
    common = [sys.executable, "-m", "photosim", "--data-dir", str(tmp_path / "data"),
              "--model", str(model), "--model-spec", str(spec)]
    writer = subprocess.Popen([*common, "index", str(tmp_path / "pics")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    reads_while_writing = 0
    try:
        while writer.poll() is None or not seen:
            reads_while_writing += writer.poll() is None
            reader = subprocess.run([*common, "--json", "status"], capture_output=True,
                                    text=True, timeout=120)
            assert reader.returncode == 0, reader.stderr
            seen.append(json.loads(reader.stdout)["photos"])
            time.sleep(0.05)
    finally:
        writer.wait(timeout=300)
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    assert reads_while_writing >= 1
    assert seen == sorted(seen)  # counts only grow while the writer commits batches
    final = subprocess.run([*common, "--json", "status"], capture_output=True, text=True,
                           timeout=120)
    assert json.loads(final.stdout)["embedded"] == 80


def test_processes_opening_a_new_catalog_together_migrate_it_once(tmp_path: Path) -> None:
    # Each child imports first, then waits for the same starting signal, so the openings race.
    code = ("import sys, time; from pathlib import Path; from photosim.core.catalog import "
            "Catalog\nwhile not Path(sys.argv[2]).exists(): time.sleep(0.0005)\n"
            "Catalog(Path(sys.argv[1])).close()")
    for attempt in range(6):
        db, go = tmp_path / f"catalog{attempt}.sqlite3", tmp_path / f"go{attempt}"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(db), str(go)],
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        time.sleep(1.5)  # let every child finish importing
        go.touch()
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), errors


def test_a_reader_waits_for_a_writer_that_is_still_creating_the_catalog(tmp_path: Path) -> None:
    """A reader that opens a catalog a writer has only just created (the file exists, the
    migrations are still committing) waits for them instead of calling the catalog old."""
    import threading

    from photosim.core.catalog.db import Database

    path = tmp_path / "catalog.sqlite3"
    path.touch(mode=0o600)  # as a writer pre-creates it before SQLite opens it
    opened: list[object] = []

    def read() -> None:
        opened.append(Database(path, read_only=True))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    Database(path).close()  # the writer migrates now, while the reader waits
    reader.join(timeout=30)
    assert opened and isinstance(opened[0], Database)
    opened[0].close()
