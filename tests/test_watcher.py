"""LibraryWatcher with real watchdog observers on temporary folders.

First against ``RecordingSink`` (a small in-memory catalog that records every call), then end to
end against the real ``Library`` with the tiny model.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from photosim.cli import watch_cmd
from photosim.cli.context import CommandContext
from photosim.core.library import Library
from photosim.core.pipeline import IndexReport
from photosim.core.types import Photo
from photosim.core.watcher import MAX_BATCH, LibraryWatcher
from tests.imagegen import save, scene

DEBOUNCE_S = 0.2
SETTLE_S = 0.4


class RecordingSink:
    """An in-memory catalog (path -> size, mtime) that records what the watcher asked for."""

    def __init__(self, known: Sequence[Path] = ()) -> None:
        self.lock = threading.Lock()
        self.catalog: dict[Path, tuple[int, int]] = {}
        self.calls: list[tuple[str, object]] = []
        self.indexed: list[Path] = []  # every path handed to index_paths, repeats included
        self.offline: set[Path] = set()
        for path in known:
            self._store(path)

    def _store(self, path: Path) -> None:
        st = path.stat()
        self.catalog[path] = (st.st_size, st.st_mtime_ns)

    def index_paths(self, paths: Sequence[Path]) -> object:
        with self.lock:
            self.calls.append(("index", list(paths)))
            self.indexed.extend(paths)
            for path in paths:
                self._store(path)
        return None

    def forget_paths(self, paths: Sequence[Path]) -> object:
        with self.lock:
            self.calls.append(("forget", list(paths)))
            return sum(self.catalog.pop(p, None) is not None for p in paths)

    def move_path(self, old: Path, new: Path) -> object:
        with self.lock:
            self.calls.append(("move", (old, new)))
            if old not in self.catalog:
                return False
            del self.catalog[old]
            self._store(new)
            return True

    def folder_offline(self, root: Path) -> object:
        with self.lock:
            self.calls.append(("offline", root))
            self.offline.add(root)
        return None

    def folder_online(self, root: Path) -> object:
        with self.lock:
            self.calls.append(("online", root))
            self.offline.discard(root)
        return None

    def photo(self, path: Path) -> Photo | None:
        with self.lock:
            entry = self.catalog.get(path)
        return Photo(0, path, entry[0], entry[1], None) if entry else None

    def photos(self, folder: Path | None = None) -> Sequence[Photo]:
        with self.lock:
            items = sorted(self.catalog.items())
        return [Photo(0, p, s, m, None) for p, (s, m) in items
                if folder is None or p.is_relative_to(folder)]

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for kind, _ in self.calls]

    def moves(self) -> list[tuple[Path, Path]]:
        with self.lock:
            return [arg for kind, arg in self.calls if kind == "move"]  # type: ignore[misc]

    def forgotten(self) -> list[Path]:
        with self.lock:
            return [p for kind, arg in self.calls if kind == "forget"
                    for p in arg]  # type: ignore[attr-defined]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def settle(watcher: LibraryWatcher) -> None:
    """Wait until the watcher has nothing left, allowing for inotify's delayed move-outs."""
    assert watcher.wait_idle(15.0, quiet_s=0.8)


def write(path: Path, data: bytes = b"\xff\xd8 not really a jpeg") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two library roots and a folder outside the library."""
    a, b, outside = tmp_path / "a", tmp_path / "b", tmp_path / "outside"
    for folder in (a, b, outside):
        folder.mkdir()
    return a.resolve(), b.resolve(), outside.resolve()


@pytest.fixture(params=[False, True], ids=["inotify", "polling"])
def polling(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def watching(sink: RecordingSink, *folders: Path, polling: bool = False,
             changes: list[tuple[str, list[Path]]] | None = None,
             max_batch: int = MAX_BATCH) -> LibraryWatcher:
    def record(kind: str, paths: list[Path]) -> None:
        if changes is not None:
            changes.append((kind, paths))
    return LibraryWatcher(sink, list(folders), debounce_s=DEBOUNCE_S, settle_s=SETTLE_S,
                          polling=polling, poll_interval_s=0.25,
                          max_batch=max_batch, on_change=record)


@pytest.fixture
def started() -> Iterator[list[LibraryWatcher]]:
    """Watchers a test started; stopped even when the test fails."""
    watchers: list[LibraryWatcher] = []
    yield watchers
    for watcher in watchers:
        watcher.stop()


def start(started: list[LibraryWatcher], watcher: LibraryWatcher) -> LibraryWatcher:
    watcher.start()
    started.append(watcher)
    return watcher


# -- with a recording sink -------------------------------------------------------------------

def test_burst_of_200_files_is_one_batch_each_file_once(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, _, outside = roots
    sources = [write(outside / f"src{i:03d}.jpg", os.urandom(2000)) for i in range(200)]
    sink = RecordingSink()
    watcher = start(started, watching(sink, a, max_batch=500))
    for src in sources:
        shutil.copy2(src, a / src.name)
    wait_for(lambda: len(sink.catalog) == 200)
    settle(watcher)
    assert sorted(sink.indexed) == sorted(a / s.name for s in sources)  # each exactly once
    assert sink.kinds() == ["index"]


def test_slow_writer_is_indexed_once_when_complete(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, _, _ = roots
    sink = RecordingSink()
    watcher = start(started, watching(sink, a))
    target = a / "growing.jpg"
    chunk = os.urandom(10_000)
    with target.open("wb") as handle:
        for _ in range(10):  # grows over 2 s, with pauses shorter than settle_s
            handle.write(chunk)
            handle.flush()
            time.sleep(0.2)
            assert sink.indexed == [], "handed over while still being written"
    wait_for(lambda: target in sink.catalog)
    settle(watcher)
    assert sink.indexed == [target]
    assert sink.catalog[target][0] == 100_000


def test_create_modify_modify_is_one_item_and_create_delete_is_nothing(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, _, _ = roots
    sink = RecordingSink()
    watcher = start(started, watching(sink, a))
    kept = write(a / "kept.jpg", b"1")
    write(kept, b"22")
    write(kept, b"333")
    fleeting = write(a / "fleeting.jpg")
    fleeting.unlink()
    write(a / "notes.txt", b"not a photo")
    wait_for(lambda: kept in sink.catalog)
    settle(watcher)
    assert sink.calls == [("index", [kept])]


def test_editor_save_by_rename_over_the_photo_reindexes_it(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, _, _ = roots
    photo = write(a / "p.jpg", b"original")
    sink = RecordingSink(known=[photo])
    watcher = start(started, watching(sink, a))
    write(a / ".p.jpg.swp", b"edited version").rename(photo)  # temp file, renamed over it
    wait_for(lambda: sink.indexed == [photo])
    temp = write(a / "p.tmp.jpg", b"edited again")  # a temp name that looks like a photo
    temp.rename(photo)
    photo.unlink()  # and gone before it settled: the catalogued photo must be forgotten
    wait_for(lambda: sink.forgotten() == [photo])
    settle(watcher)
    assert sink.calls == [("index", [photo]), ("forget", [photo])]


def test_rename_and_move_between_roots_keep_the_photo(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher], polling: bool) -> None:
    a, b, _ = roots
    first = write(a / "first.jpg", os.urandom(500))
    sink = RecordingSink(known=[first])
    watcher = start(started, watching(sink, a, b, polling=polling))
    renamed = first.rename(a / "renamed.jpg")
    wait_for(lambda: renamed in sink.catalog)
    moved = renamed.rename(b / "moved.jpg")  # name changes too: only size+mtime pair it
    wait_for(lambda: moved in sink.catalog)
    same_name = moved.rename(a / "moved.jpg")
    wait_for(lambda: same_name in sink.catalog)
    settle(watcher)
    assert list(sink.catalog) == [same_name]
    assert sink.indexed == []
    assert sink.forgotten() == []
    assert sink.moves()[0] == (first, renamed)


def test_move_between_roots_pairs_by_name_size_and_mtime(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher], polling: bool) -> None:
    a, b, _ = roots
    photo = write(a / "sub" / "p.jpg", os.urandom(700))
    sink = RecordingSink(known=[photo])
    watcher = start(started, watching(sink, a, b, polling=polling))
    moved = photo.rename(b / "p.jpg")
    wait_for(lambda: moved in sink.catalog)
    settle(watcher)
    assert sink.moves() == [(photo, moved)]
    assert sink.indexed == [] and sink.forgotten() == []


def test_moves_out_and_in_and_delete(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher], polling: bool) -> None:
    a, _, outside = roots
    leaving = write(a / "leaving.jpg")
    doomed = write(a / "doomed.jpg")
    arriving = write(outside / "arriving.jpg")
    sink = RecordingSink(known=[leaving, doomed])
    watcher = start(started, watching(sink, a, polling=polling))
    leaving.rename(outside / "left.jpg")
    doomed.unlink()
    arrived = arriving.rename(a / "arrived.jpg")
    wait_for(lambda: list(sink.catalog) == [arrived])
    settle(watcher)
    assert sorted(sink.forgotten()) == sorted([leaving, doomed])
    assert sink.indexed == [arrived]


def test_renamed_folder_moves_every_photo_inside(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher], polling: bool) -> None:
    a, b, _ = roots
    inside = [write(a / "trip" / name, os.urandom(300)) for name in ("x.jpg", "y.png")]
    inside.append(write(a / "trip" / "deeper" / "z.jpg", os.urandom(300)))
    sink = RecordingSink(known=inside)
    watcher = start(started, watching(sink, a, b, polling=polling))
    (a / "trip").rename(a / "holiday")
    renamed = sorted(a / "holiday" / p.relative_to(a / "trip") for p in inside)
    wait_for(lambda: sorted(sink.catalog) == renamed)
    (a / "holiday").rename(b / "holiday")
    moved = sorted(b / p.relative_to(a) for p in renamed)
    wait_for(lambda: sorted(sink.catalog) == moved)
    settle(watcher)
    assert sink.indexed == [] and sink.forgotten() == []
    assert sorted(sink.catalog) == moved


def test_folder_moved_out_of_the_library_is_forgotten(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, _, outside = roots
    inside = [write(a / "old" / n) for n in ("1.jpg", "2.jpg")]
    sink = RecordingSink(known=inside)
    watcher = start(started, watching(sink, a))
    (a / "old").rename(outside / "old")
    wait_for(lambda: not sink.catalog)
    settle(watcher)
    assert sorted(sink.forgotten()) == sorted(inside)


def test_vanished_root_goes_offline_and_comes_back_without_forgetting(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher], polling: bool) -> None:
    a, _, outside = roots
    photos = [write(a / f"{i}.jpg") for i in range(3)]
    sink = RecordingSink(known=photos)
    changes: list[tuple[str, list[Path]]] = []
    watcher = start(started, watching(sink, a, polling=polling, changes=changes))
    a.rename(outside / "unplugged")
    wait_for(lambda: a in sink.offline)
    (outside / "unplugged").rename(a)
    wait_for(lambda: a not in sink.offline)
    late = write(a / "late.jpg")  # the folder is watched again
    wait_for(lambda: late in sink.catalog)
    settle(watcher)
    assert sink.kinds() == ["offline", "online", "index"]
    assert ("offline", [a]) in changes and ("online", [a]) in changes
    assert sorted(sink.catalog) == sorted([*photos, late])


def test_deleted_root_is_offline_not_forgotten(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, _, _ = roots
    photos = [write(a / "sub" / f"{i}.jpg") for i in range(5)]
    sink = RecordingSink(known=photos)
    watcher = start(started, watching(sink, a))
    shutil.rmtree(a)  # like a drive whose files vanish before the folder does
    wait_for(lambda: a in sink.offline)
    settle(watcher)
    assert sink.forgotten() == []
    assert len(sink.catalog) == 5


def test_roots_added_and_removed_while_running(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, b, _ = roots
    sink = RecordingSink()
    watcher = start(started, watching(sink, a))
    watcher.add_root(b)
    in_b = write(b / "new.jpg")
    wait_for(lambda: in_b in sink.catalog)
    watcher.remove_root(a)
    write(a / "ignored.jpg")
    settle(watcher)
    assert list(sink.catalog) == [in_b]
    assert watcher.roots() == [b]


def test_missing_root_at_start_is_reported_offline(tmp_path: Path,
                                                   started: list[LibraryWatcher]) -> None:
    absent = (tmp_path / "drive").resolve()
    sink = RecordingSink()
    start(started, watching(sink, absent))
    wait_for(lambda: absent in sink.offline)
    absent.mkdir()  # files already there are the sink's catch-up on folder_online
    wait_for(lambda: absent not in sink.offline)
    photo = write(absent / "p.jpg")
    wait_for(lambda: photo in sink.catalog)
    assert sink.kinds() == ["offline", "online", "index"]


class SlowStartWatcher(LibraryWatcher):
    """Each root's walk (watchdog's schedule) takes ``walk_s``, as a big tree's does."""

    def __init__(self, *args: object, walk_s: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.walk_s = walk_s
        self.walking = threading.Event()
        self.walked: list[Path] = []

    def _schedule(self, root: Path):  # type: ignore[no-untyped-def]
        self.walking.set()
        time.sleep(self.walk_s)
        self.walked.append(root)
        return super()._schedule(root)


def test_start_without_waiting_returns_at_once_and_then_watches(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, b, _ = roots
    sink = RecordingSink()
    watcher = SlowStartWatcher(sink, [a, b], debounce_s=DEBOUNCE_S, settle_s=SETTLE_S,
                               walk_s=0.3)
    began = time.monotonic()
    watcher.start(wait=False)
    started.append(watcher)
    assert time.monotonic() - began < 0.2
    assert watcher.wait_started(10)
    photo = write(b / "new.jpg")
    wait_for(lambda: photo in sink.catalog)


def test_stop_while_the_roots_are_still_being_walked_is_prompt_and_leaves_nothing_running(
        tmp_path: Path) -> None:
    """Quitting the app just after watching started: stop waits for the root in hand only,
    walks no other, and no thread of the watcher (or of watchdog) survives it."""
    folders = [(tmp_path / f"root{i}").resolve() for i in range(4)]
    for folder in folders:
        folder.mkdir()
    before = set(threading.enumerate())
    sink = RecordingSink()
    watcher = SlowStartWatcher(sink, folders, debounce_s=DEBOUNCE_S, settle_s=SETTLE_S,
                               walk_s=0.5)
    watcher.start(wait=False)
    assert watcher.walking.wait(5)
    stopping = time.monotonic()
    watcher.stop()
    assert time.monotonic() - stopping < 1.0  # at most the one walk (0.5 s), not all four
    assert len(watcher.walked) == 1 and watcher.wait_started(0)
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=5)
    write(folders[0] / "after.jpg")
    time.sleep(DEBOUNCE_S + SETTLE_S + 0.3)
    assert sink.calls == []


def test_a_root_removed_while_being_walked_ends_up_unwatched(
        roots: tuple[Path, Path, Path], started: list[LibraryWatcher]) -> None:
    a, b, _ = roots
    sink = RecordingSink()
    watcher = SlowStartWatcher(sink, [a, b], debounce_s=DEBOUNCE_S, settle_s=SETTLE_S,
                               walk_s=0.3)
    watcher.start(wait=False)
    started.append(watcher)
    assert watcher.walking.wait(5)
    watcher.remove_root(a)  # while its tree is walked
    assert watcher.wait_started(10)
    observer = watcher._observer
    assert observer is not None
    assert {e.watch.path for e in observer.emitters} == {str(b)}
    write(a / "ignored.jpg")
    in_b = write(b / "seen.jpg")
    wait_for(lambda: in_b in sink.catalog)
    settle(watcher)
    assert list(sink.catalog) == [in_b]


# -- end to end with the real Library and the tiny model -------------------------------------

class CountingLibrarySink:
    """The real Library, with the IndexReports of the watcher's calls kept for checking."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.reports: list[IndexReport] = []

    def index_paths(self, paths: Sequence[Path]) -> object:
        report = self.library.index_paths(paths)
        self.reports.append(report)
        return report

    def forget_paths(self, paths: Sequence[Path]) -> object:
        return self.library.forget_paths(paths)

    def move_path(self, old: Path, new: Path) -> object:
        return self.library.move_path(old, new)

    def folder_offline(self, root: Path) -> object:
        return self.library.folder_offline(root)

    def folder_online(self, root: Path) -> object:
        return self.library.folder_online(root)

    def photo(self, path: Path) -> Photo | None:
        return self.library.photo(path)

    def photos(self, folder: Path | None = None) -> Sequence[Photo]:
        return self.library.photos(folder)

    def embedded(self) -> int:
        return sum(r.embedded for r in self.reports)


@pytest.fixture
def library(tiny_library: Library) -> Library:
    """The tests here call it ``library``: conftest's over the tiny model."""
    return tiny_library


def catalog_paths(library: Library) -> list[Path]:
    return [p.path for p in library.photos()]


def searchable_paths(library: Library, query: Path) -> list[Path]:
    """Everything the index returns for ``query`` (which itself is excluded)."""
    return sorted(m.photo.path for m in library.similar(query, k=1000))


def test_library_burst_of_200_is_embedded_once_and_searchable(
        roots: tuple[Path, Path, Path], library: Library,
        started: list[LibraryWatcher]) -> None:
    a, _, outside = roots
    sources = [save(scene(i, (256, 192)), outside / f"p{i:03d}.jpg", quality=85)
               for i in range(200)]
    library.add_folder(a)
    sink = CountingLibrarySink(library)
    watcher = start(started, watching(sink, a))  # type: ignore[arg-type]
    for src in sources:
        shutil.copy2(src, a / src.name)
    expected = sorted(a / s.name for s in sources)
    wait_for(lambda: catalog_paths(library) == expected, timeout=60)
    settle(watcher)
    assert sink.embedded() == 200 and sum(r.added for r in sink.reports) == 200
    assert len(sink.reports) == 200 // MAX_BATCH  # batched, not one call per file
    assert library.status().embedded == 200
    assert searchable_paths(library, expected[0]) == expected[1:]


def test_library_slow_writer_is_embedded_once_complete(
        roots: tuple[Path, Path, Path], library: Library,
        started: list[LibraryWatcher], tmp_path: Path) -> None:
    a, _, _ = roots
    library.add_folder(a)
    first = save(scene(1, (256, 192)), a / "first.jpg", quality=85)
    library.index()
    sink = CountingLibrarySink(library)
    watcher = start(started, watching(sink, a))  # type: ignore[arg-type]
    data = save(scene(2, (512, 384)), tmp_path / "big.jpg", quality=95).read_bytes()
    target = a / "growing.jpg"
    with target.open("wb") as handle:
        for i in range(10):  # over 2 s
            handle.write(data[i * len(data) // 10:(i + 1) * len(data) // 10])
            handle.flush()
            time.sleep(0.2)
    wait_for(lambda: library.photo(target) is not None, timeout=30)
    settle(watcher)
    photo = library.photo(target)
    assert photo is not None and photo.error is None and photo.size == len(data)
    assert sink.embedded() == 1
    assert searchable_paths(library, first) == [target]


def test_library_rename_move_delete_keep_vectors_and_never_re_embed(
        roots: tuple[Path, Path, Path], library: Library,
        started: list[LibraryWatcher]) -> None:
    a, b, outside = roots
    paths = [save(scene(i, (256, 192)), a / f"p{i}.jpg", quality=85) for i in range(5)]
    library.index([a, b])
    ids = {p: library.photo(p).id for p in paths}  # type: ignore[union-attr]
    sink = CountingLibrarySink(library)
    watcher = start(started, watching(sink, a, b))  # type: ignore[arg-type]
    renamed = paths[0].rename(a / "renamed.jpg")
    moved = paths[1].rename(b / "moved.jpg")
    (a / "album").mkdir()
    in_album = paths[2].rename(a / "album" / "p2.jpg")
    paths[3].unlink()
    paths[4].rename(outside / "p4.jpg")
    expected = sorted([renamed, moved, in_album])
    wait_for(lambda: catalog_paths(library) == expected, timeout=30)
    settle(watcher)
    assert catalog_paths(library) == expected
    # A new folder is scanned in case files landed before its watch began; finding a
    # moved photo there as unchanged is fine, embedding or adding anything is not.
    assert all(r.added == r.updated == r.embedded == 0 for r in sink.reports)
    assert library.status().embedded == 3
    assert [library.photo(p).id for p in (renamed, moved, in_album)] == \
        [ids[paths[0]], ids[paths[1]], ids[paths[2]]]  # type: ignore[union-attr]
    assert searchable_paths(library, renamed) == sorted([moved, in_album])


def test_library_folder_removed_and_restored_goes_offline_not_forgotten(
        roots: tuple[Path, Path, Path], library: Library,
        started: list[LibraryWatcher]) -> None:
    a, b, outside = roots
    in_a = [save(scene(i, (256, 192)), a / f"p{i}.jpg", quality=85) for i in range(3)]
    in_b = save(scene(9, (256, 192)), b / "b.jpg", quality=85)
    library.index([a, b])
    sink = CountingLibrarySink(library)
    watcher = start(started, watching(sink, a, b))  # type: ignore[arg-type]
    a.rename(outside / "unplugged")
    wait_for(lambda: not any(p.online for p in library.photos(a)))
    assert catalog_paths(library) == sorted([*in_a, in_b])
    (outside / "unplugged").rename(a)
    wait_for(lambda: all(p.online for p in library.photos()))
    settle(watcher)
    assert catalog_paths(library) == sorted([*in_a, in_b])
    assert sink.reports == []
    assert searchable_paths(library, in_b) == in_a


# -- the CLI ---------------------------------------------------------------------------------

def test_watch_command_catches_up_then_prints_one_line_per_change(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    folder = (tmp_path / "pics").resolve()
    before = save(scene(1, (256, 192)), folder / "before.jpg", quality=85)
    parser = argparse.ArgumentParser()
    watch_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["watch", str(folder), "--settle", "0.3", "--seconds", "6"])
    out = io.StringIO()
    ctx = CommandContext(data_dir=tmp_path / "data", json=True, model=str(model),
                         model_spec=str(spec), out=out)
    worker = threading.Thread(target=lambda: watch_cmd.run(args, ctx))
    worker.start()
    try:
        wait_for(lambda: '"watching"' in out.getvalue(), timeout=30)
        added = save(scene(2, (256, 192)), tmp_path / "added.jpg", quality=85)
        added = shutil.move(added, folder / "added.jpg")
        wait_for(lambda: '"indexed"' in out.getvalue(), timeout=30)
        before.rename(folder / "renamed.jpg")
        wait_for(lambda: '"moved"' in out.getvalue(), timeout=30)
    finally:
        worker.join()
        ctx.close()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["event"] == "caught_up" and events[0]["added"] == 1
    assert events[1] == {"event": "watching", "folders": [str(folder)]}
    assert events[2:] == [{"event": "indexed", "path": str(folder / "added.jpg")},
                          {"event": "moved", "from": str(before),
                           "to": str(folder / "renamed.jpg")}]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="names are bytes on Linux")
def test_library_a_watched_name_that_is_not_utf8_is_recorded(
        roots: tuple[Path, Path, Path], library: Library,
        started: list[LibraryWatcher]) -> None:
    a, _, outside = roots
    library.add_folder(a)
    sink = CountingLibrarySink(library)
    watcher = start(started, watching(sink, a))  # type: ignore[arg-type]
    odd = Path(os.fsdecode(os.fsencode(a) + b"/caf\xe9.jpg"))
    shutil.copy2(save(scene(3, (256, 192)), outside / "cafe.jpg", quality=85), odd)
    wait_for(lambda: library.photo(odd) is not None, timeout=30)
    settle(watcher)
    odd.unlink()
    wait_for(lambda: library.photo(odd) is None, timeout=30)
