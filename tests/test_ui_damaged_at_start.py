"""A catalog too damaged to open at all (a zeroed header, a first page of garbage) no longer
stops the app: it opens with the recovery offer (issue 17; "the app always opens", issue 18).
Real app start (``build_gui``), real SQLite files damaged on disk, a real rebuild."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from photosim.core.library import Library
from photosim.core.lock import InstanceLock
from photosim.core.paths import LibraryPaths
from photosim.ui import app as gui
from photosim.ui.health import REBUILD, RECOVERY_TEXT
from photosim.ui.mainwindow import MainWindow
from photosim.ui.settings import UiSettings
from tests.ui_library import make_photos

pytestmark = pytest.mark.gui
WAIT = 30000
PAGE = 4096

DAMAGES: dict[str, Callable[[bytearray], None]] = {
    "zeroed header": lambda raw: raw.__setitem__(slice(0, 100), bytes(100)),
    "garbage first page": lambda raw: raw.__setitem__(
        slice(0, PAGE), np.random.default_rng(7).bytes(PAGE)),
    # the page of schema_migrations (made first): the header and the folders still read
    "zeroed second page": lambda raw: raw.__setitem__(slice(PAGE, 2 * PAGE), bytes(PAGE)),
}


def _damaged_library(tmp_path: Path, tiny_model: tuple[Path, Path], damage: str
                     ) -> tuple[list[str], dict[str, bytes]]:
    """An indexed library whose catalog then got ``damage``; the app's arguments and the
    bytes of every catalog and index file as they were left."""
    photos = make_photos(tmp_path)
    data = tmp_path / "data"
    with Library.open(data, model=str(tiny_model[0]), model_spec=str(tiny_model[1])) as lib:
        lib.index([photos])
    UiSettings(first_run_done=True).save(data)
    catalog = data / "catalog.sqlite3"
    raw = bytearray(catalog.read_bytes())
    DAMAGES[damage](raw)
    catalog.write_bytes(bytes(raw))
    with pytest.raises(Exception, match="damaged"):  # today's Library cannot open it
        Library.open(data, model=str(tiny_model[0]), model_spec=str(tiny_model[1]))
    files = {str(p.relative_to(data)): p.read_bytes()
             for p in [catalog, *(data / "index").rglob("*")] if p.is_file()}
    return (["--data-dir", str(data), "--model", str(tiny_model[0]), "--model-spec",
             str(tiny_model[1])], files)


def _answer(button_text: str, seen: dict[str, str]) -> QTimer:
    """Click ``button_text`` in the modal message box once it shows, noting what it said."""
    timer = QTimer()

    def look() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        timer.stop()
        seen.update(title=box.windowTitle(), text=box.text(), more=box.informativeText(),
                    buttons=" | ".join(b.text() for b in box.buttons()))
        next(b for b in box.buttons() if b.text() == button_text).click()

    timer.timeout.connect(look)
    timer.start(50)
    return timer


def _close(qtbot, window: MainWindow) -> None:
    """Let the window's work end, then shut it down as the app does after its event loop."""
    window.stop_watching()
    qtbot.waitUntil(lambda: not window.runner.busy() and not window.is_indexing(),
                    timeout=WAIT)
    window.runner.wait_for_done()
    window.close()
    gui.shut_down(window)
    window.deleteLater()  # gone from the top-level widgets that later tests look through
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def start_app(qtbot, monkeypatch):
    """Start the app as `photosim ARGS` does, answering the start-up dialog with a button;
    the windows still open at the end are shut down (pytest-qt would delete them first)."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    started: list[MainWindow] = []

    def start(argv: list[str], button: str, seen: dict[str, str]) -> MainWindow | None:
        timer = _answer(button, seen)
        window = gui.build_gui(argv)
        timer.stop()
        if window is not None:
            started.append(window)
        return window

    yield start
    for window in started:
        if window.instance_lock is not None:
            _close(qtbot, window)


def _set_aside(data: Path, files: dict[str, bytes]) -> Path:
    (aside,) = data.glob("damaged-*")
    for name, content in files.items():  # every damaged file kept, byte for byte
        assert (aside / name).read_bytes() == content, name
    return aside


@pytest.mark.parametrize("damage", ["zeroed header", "garbage first page"])
def test_a_catalog_that_cannot_open_is_offered_a_rebuild_and_the_window_opens(
        qtbot, tmp_path, tiny_model, start_app, damage):
    argv, files = _damaged_library(tmp_path, tiny_model, damage)
    data = tmp_path / "data"
    seen: dict[str, str] = {}
    window = start_app(argv, REBUILD, seen)
    assert seen["title"] == "The catalog is damaged" and "damaged" in seen["text"]
    assert RECOVERY_TEXT in seen["more"] and seen["buttons"] == f"{REBUILD} | Quit"
    assert window is not None and window.isVisible()
    _set_aside(data, files)
    assert window.library.status(check=True).photos == 0  # a new, healthy catalog
    # The folder list went down with the header: the user is told so and asked to add them.
    told = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert "could not be read" in told.informativeText()
    assert any(b.text() == "Add a folder\u2026" for b in told.buttons())
    assert window.library.folders() == []
    _close(qtbot, window)


def test_a_rebuild_keeps_the_folders_it_can_still_read_and_indexes_them(
        qtbot, tmp_path, tiny_model, start_app):
    argv, files = _damaged_library(tmp_path, tiny_model, "zeroed second page")
    data = tmp_path / "data"
    window = start_app(argv, REBUILD, {})
    assert window is not None and window.isVisible()
    _set_aside(data, files)
    assert window.library.folders() == [tmp_path / "photos"]
    qtbot.waitUntil(lambda: window.library.status().embedded == 8, timeout=WAIT)
    told = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert str(tmp_path / "photos") in told.informativeText()
    _close(qtbot, window)


def test_quit_leaves_every_file_as_it_was(qtbot, tmp_path, tiny_model, start_app):
    argv, files = _damaged_library(tmp_path, tiny_model, "zeroed header")
    data = tmp_path / "data"
    assert start_app(argv, "Quit", {}) is None
    assert not list(data.glob("damaged-*"))
    for name, content in files.items():
        assert (data / name).read_bytes() == content, name
    with InstanceLock(LibraryPaths(data).lock):  # and the data folder is free again
        pass
