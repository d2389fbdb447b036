"""Live library in the real main window: the real watcher (watchdog) over a real library
(tiny model). A photo copied into a watched folder appears in the grid within seconds, a
deleted one disappears from the grid and the results, duplicate groups follow, a folder added
while running is watched, and closing the window stops the watcher."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from watchdog.utils import BaseThread

from photosim.core.types import DuplicateKind
from photosim.core.watcher import LibraryWatcher
from photosim.ui.mainwindow import MainWindow
from photosim.ui.models import PathRole
from photosim.ui.settings import UiSettings
from tests import imagegen
from tests.ui_library import make_photos

pytestmark = pytest.mark.gui
WAIT = 30000
LIVE_WAIT = 10000  # "searchable within seconds": copy → grid, with margin for a busy CI box


def started_window(qtbot, tmp_path, tiny_model):
    """The main window over an 8-photo library, its catch-up index over (watching starts)."""
    from photosim.core.library import Library

    photos = make_photos(tmp_path)
    library = Library.open(tmp_path / "data", model=str(tiny_model[0]),
                           model_spec=str(tiny_model[1]))
    library.add_folder(photos)
    win = MainWindow(library, UiSettings())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT):
        win.start()  # fill from the catalog, catch-up index, then watch
    return win, photos, library


@pytest.fixture
def live_window(qtbot, tmp_path, tiny_model):
    win, photos, library = started_window(qtbot, tmp_path, tiny_model)
    qtbot.waitUntil(lambda: win.library_view.model.rowCount() == 8, timeout=WAIT)
    assert win.live.wait_started(WAIT / 1000)  # the watcher walks the folders on its thread
    yield win, photos
    win.close()
    library.close()


@pytest.fixture
def slow_watch_start(monkeypatch):
    """Watching a folder walks its tree; here that takes a second, as a very large tree's
    does. Records on which thread each walk ran."""
    real = LibraryWatcher._schedule
    walks: list[threading.Thread] = []

    def slow(self, root):
        walks.append(threading.current_thread())
        time.sleep(1.0)
        return real(self, root)

    monkeypatch.setattr(LibraryWatcher, "_schedule", slow)
    return walks


def names(model) -> set[str]:
    return {model.index(r, 0).data(PathRole).name for r in range(model.rowCount())}


def test_watching_starts_after_the_catch_up_index(live_window):
    win, photos = live_window
    assert win.live.is_running()
    assert win.live.roots() == [photos.resolve()]
    assert win.watching.label.text() == "Watching 1 folder"


def test_copied_photo_appears_and_deleted_one_disappears(qtbot, live_window):
    win, photos = live_window
    shutil.copy(photos / "scene3.jpg", photos / "copied.jpg")
    qtbot.waitUntil(lambda: "copied.jpg" in names(win.library_view.model), timeout=LIVE_WAIT)
    assert win.library.photo((photos / "copied.jpg").resolve()) is not None
    with qtbot.waitSignal(win.similar_finished, timeout=WAIT):
        win.find_similar(photos / "scene3.jpg")
    assert "copied.jpg" in {m.photo.path.name for m in win.similar_view.all_matches}
    (photos / "copied.jpg").unlink()
    qtbot.waitUntil(lambda: "copied.jpg" not in names(win.library_view.model),
                    timeout=LIVE_WAIT)
    assert "copied.jpg" not in {m.photo.path.name for m in win.similar_view.all_matches}
    assert "copied.jpg" not in names(win.similar_view.model)
    assert win.library.photo((photos / "copied.jpg").resolve()) is None


def test_shown_duplicate_groups_follow_the_disk(qtbot, live_window):
    win, photos = live_window
    with qtbot.waitSignal(win.duplicates_loaded, timeout=WAIT):
        win.tabs.setCurrentWidget(win.duplicates_view)

    def scene4_group_size() -> int:
        """Photos of scene 4 grouped as copies: the keeper and its exact/same/edited copies
        (a group may also hold other shots of a scene, decided photo by photo)."""
        for g in win.duplicates_view.model.groups():
            copies = [p for p, k in zip(g.members, g.member_kinds, strict=True)
                      if k is None or k != DuplicateKind.SIMILAR]
            scene4 = [p for p in copies if p.path.name.startswith("scene4")]
            if scene4 and len(copies) > 1 and g.keeper in scene4:
                return len(copies)
        return 0

    assert scene4_group_size() == 0
    imagegen.save(imagegen.scene(4).resize((320, 240)), photos / "scene4_small.jpg",
                  quality=85)
    qtbot.waitUntil(lambda: scene4_group_size() == 2, timeout=LIVE_WAIT)
    (photos / "scene4_small.jpg").unlink()
    qtbot.waitUntil(lambda: scene4_group_size() == 0, timeout=LIVE_WAIT)


def test_a_folder_added_while_running_is_watched(qtbot, live_window, tmp_path):
    win, _ = live_window
    extra = tmp_path / "extra"
    extra.mkdir()
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT):
        win.add_folders([extra])
    assert extra.resolve() in win.live.roots()
    assert win.watching.label.text() == "Watching 2 folders"
    imagegen.save(imagegen.scene(5), extra / "new.jpg", quality=90)
    qtbot.waitUntil(lambda: "new.jpg" in names(win.library_view.model), timeout=LIVE_WAIT)


def test_closing_stops_the_watcher(qtbot, live_window):
    win, photos = live_window
    win.close()
    assert not win.live.is_running()
    shutil.copy(photos / "scene1.jpg", photos / "after_close.jpg")
    qtbot.wait(2500)
    assert win.library.photo((photos / "after_close.jpg").resolve()) is None


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t.name == "photosim-watcher" or isinstance(t, BaseThread)]


def test_watching_starts_off_the_gui_thread_and_closing_meanwhile_quits_promptly(
        qtbot, tmp_path, tiny_model, slow_watch_start):
    win, photos, library = started_window(qtbot, tmp_path, tiny_model)
    try:
        assert win.live.is_running()  # watching began as the index finished...
        qtbot.waitUntil(lambda: bool(slow_watch_start), timeout=WAIT)
        assert threading.main_thread() not in slow_watch_start  # ...on another thread
        assert not win.live.wait_started(0)  # and is still walking the folder
        began = time.monotonic()
        win.close()
        assert time.monotonic() - began < 3.0  # the walk in hand (1 s), then gone
        assert not win.live.is_running()
        assert watcher_threads() == []
        shutil.copy(photos / "scene1.jpg", photos / "after_close.jpg")
        qtbot.wait(1500)
        assert library.photo((photos / "after_close.jpg").resolve()) is None
    finally:
        win.close()
        library.close()
