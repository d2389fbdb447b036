"""End to end: the app started as `photosim --data-dir X --model ... FOLDER --similar FILE`
(``run_gui`` in-process, offscreen), driven from inside its event loop like a user would:
it indexes, shows the find-similar results, and one duplicate group is resolved into a real
trash. A second launch hands its arguments to the running one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from photosim.core.errors import LibraryLockedError
from photosim.core.lock import InstanceLock
from photosim.core.paths import LibraryPaths
from photosim.core.types import DuplicateKind
from photosim.ui import app as gui
from photosim.ui.mainwindow import MainWindow
from photosim.ui.models import PathRole
from tests.ui_library import make_photos

pytestmark = [pytest.mark.gui, pytest.mark.slow]
WAIT = 30000


def the_window() -> MainWindow:
    """The app's window: the one shown (a window an earlier test closed may linger)."""
    return next(w for w in QApplication.topLevelWidgets()
                if isinstance(w, MainWindow) and w.isVisible())


def test_launch_find_similar_and_resolve_a_duplicate(qtbot, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui installs its own
    photos = make_photos(tmp_path)
    argv = ["--data-dir", str(tmp_path / "data"), "--model", str(tiny_model[0]),
            "--model-spec", str(tiny_model[1]), str(photos), "--similar",
            str(photos / "scene2.jpg")]
    outcome: dict[str, object] = {}

    def drive() -> None:
        try:
            win = the_window()
            qtbot.waitUntil(lambda: not win.is_indexing() and
                            win.library_view.model.rowCount() == 8, timeout=WAIT)
            qtbot.waitUntil(lambda: win.similar_view.model.rowCount() > 0, timeout=WAIT)
            outcome["similar"] = [win.similar_view.model.index(r).data(PathRole).name
                                  for r in range(win.similar_view.model.rowCount())]
            with qtbot.waitSignal(win.duplicates_loaded, timeout=WAIT):
                win.tabs.setCurrentWidget(win.duplicates_view)
            view = win.duplicates_view
            view.select_row(next(i for i, g in enumerate(view.model.groups())
                                 if g.kind != DuplicateKind.SIMILAR))
            outcome["doomed"] = [p.path for p in view.compare.to_trash()]
            win.activateWindow()
            view.groups.setFocus()
            with qtbot.waitSignal(win.action_finished, timeout=WAIT):
                qtbot.keyClick(view.groups, Qt.Key.Key_Return)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            outcome["error"] = exc
        finally:
            QApplication.instance().closeAllWindows()

    QTimer.singleShot(0, drive)
    assert gui.run_gui(argv) == 0
    assert "error" not in outcome, outcome.get("error")
    assert "scene2.jpg" not in outcome["similar"]
    assert len(outcome["similar"]) == 7
    doomed = outcome["doomed"]
    assert doomed and all(not Path(p).exists() for p in doomed)
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    assert {Path(p).name for p in doomed} <= {p.name for p in trash.iterdir()}


def test_second_launch_hands_over_to_the_running_one(qtbot, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    photos = make_photos(tmp_path)
    data = ["--data-dir", str(tmp_path / "data"), "--model", str(tiny_model[0]),
            "--model-spec", str(tiny_model[1])]
    first = gui.build_gui([*data, str(photos)])
    assert first is not None
    qtbot.addWidget(first)
    qtbot.waitUntil(lambda: not first.is_indexing() and
                    first.library_view.model.rowCount() == 8, timeout=WAIT)
    with qtbot.waitSignal(first.similar_finished, timeout=WAIT):
        assert gui.build_gui([*data, "--similar", str(photos / "scene1.jpg")]) is None
    assert first.similar_view.query == (photos / "scene1.jpg").resolve()
    assert first.similar_view.all_matches and len(first.similar_view.all_matches) == 7
    lock_path = LibraryPaths(tmp_path / "data").lock
    with pytest.raises(LibraryLockedError):  # the running app holds its data folder
        InstanceLock(lock_path).acquire()
    first.close()
    gui.shut_down(first)
    with InstanceLock(lock_path):  # and lets go of it when it shuts down
        pass


def test_a_locked_data_folder_is_reported_and_the_app_exits(qtbot, tmp_path, tiny_model,
                                                            monkeypatch):
    """Something other than a photosim window (here: a lock like `photosim watch` takes) holds
    the data folder: no hand-over is possible, so the app says so in a dialog and exits 1."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    data = tmp_path / "data"
    seen: list[str] = []

    def answer_the_dialog() -> None:
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(50, answer_the_dialog)
            return
        seen.append(boxes[0].text())
        boxes[0].accept()

    windows_before = {id(w) for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)}
    give_up = QTimer(singleShot=True, interval=WAIT)  # were a window opened: close it, fail
    give_up.timeout.connect(lambda: QApplication.instance().closeAllWindows())
    with InstanceLock(LibraryPaths(data).lock):
        QTimer.singleShot(0, answer_the_dialog)
        give_up.start()
        code = gui.run_gui(["--data-dir", str(data), "--model", str(tiny_model[0]),
                            "--model-spec", str(tiny_model[1])])
        give_up.stop()
    assert code == 1
    assert seen and "already running on this library" in seen[0]
    assert f"pid {os.getpid()}" in seen[0]
    assert {id(w) for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow)} <= windows_before  # no window was opened
    with InstanceLock(LibraryPaths(data).lock):  # the failed start left nothing locked
        pass
