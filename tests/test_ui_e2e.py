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
from PySide6.QtWidgets import QApplication

from photosim.core.types import DuplicateKind
from photosim.ui import app as gui
from photosim.ui.mainwindow import MainWindow
from photosim.ui.models import PathRole
from tests.ui_library import make_photos

pytestmark = [pytest.mark.gui, pytest.mark.slow]
WAIT = 30000


def the_window() -> MainWindow:
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))


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
    assert first.similar_view.model.rowCount() == 7
    first.close()
    first.library.close()
