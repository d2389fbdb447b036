"""Files that could not be read: a real library with an empty .jpg and a text file named .jpg →
the status bar says how many, and its link opens a sortable list of path + reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from photosim.core.library import Library
from photosim.ui import unreadable_dialog
from photosim.ui.mainwindow import MainWindow
from photosim.ui.settings import UiSettings
from photosim.ui.unreadable_dialog import UnreadableDialog, unreadable_text
from tests.ui_library import make_photos, shown_window

pytestmark = pytest.mark.gui
WAIT = 20000


@pytest.fixture
def library(tmp_path, tiny_model):
    photos = make_photos(tmp_path)
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "notes.jpg").write_text("these are my holiday notes, not a picture\n")
    lib = Library.open(tmp_path / "data", model=str(tiny_model[0]), model_spec=str(tiny_model[1]))
    lib.index([photos])
    yield lib
    lib.close()


@pytest.fixture
def window(qtbot, library):
    yield from shown_window(qtbot, library)


def test_status_bar_names_the_unreadable_files(window):
    button = window.unreadable_button
    assert button.isVisible()
    assert button.text() == "2 files could not be read"
    assert window.status is not None and window.status.errors == 2


def test_link_opens_a_list_of_paths_and_reasons(qtbot, window, library, monkeypatch):
    with qtbot.waitSignal(window.unreadable_shown, timeout=WAIT) as shown:
        qtbot.mouseClick(window.unreadable_button, Qt.MouseButton.LeftButton)
    dialog = shown.args[0]
    assert isinstance(dialog, UnreadableDialog) and dialog.isVisible()
    rows = dict(dialog.rows())
    assert {p.name for p in rows} == {"empty.jpg", "notes.jpg"}
    expected = {p.path: p.error for p in library.errors()}
    assert rows == expected
    assert all(reason.strip() for reason in rows.values())
    assert dialog.tree.isSortingEnabled()
    assert "2 files could not be read" in dialog.summary.text()

    opened: list[Path] = []
    monkeypatch.setattr(unreadable_dialog, "open_containing_folder",
                        lambda path: opened.append(path) or True)
    assert dialog.open_button.isEnabled()
    notes = next(item for item in dialog.items() if item.text(0).endswith("notes.jpg"))
    dialog.tree.setCurrentItem(notes)
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [p.name for p in opened] == ["notes.jpg"]

    # Clicking again reuses the open dialog instead of stacking another.
    with qtbot.waitSignal(window.unreadable_shown, timeout=WAIT) as again:
        window.show_unreadable()
    assert again.args[0] is dialog


def test_sorting_by_reason_and_no_selection(qtbot, window):
    with qtbot.waitSignal(window.unreadable_shown, timeout=WAIT) as shown:
        window.show_unreadable()
    dialog = shown.args[0]
    dialog.tree.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    reasons = [reason for _, reason in dialog.rows()]
    assert reasons == sorted(reasons, reverse=True)
    dialog.tree.clearSelection()
    assert not dialog.open_button.isEnabled()
    assert dialog.open_folder() is False
    dialog.close()
    assert window.unreadable_dialog is None


def test_no_errors_no_link(qtbot, tmp_path, tiny_model):
    lib = Library.open(tmp_path / "data", model=str(tiny_model[0]), model_spec=str(tiny_model[1]))
    lib.index([make_photos(tmp_path)])
    try:
        win = MainWindow(lib, UiSettings())
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(win.library_loaded, timeout=WAIT):
            win.refresh_library()
        assert not win.unreadable_button.isVisible()
        win.runner.wait_for_done()
    finally:
        lib.close()


def test_wording_is_singular_for_one():
    assert unreadable_text(1) == "1 file could not be read"
    assert unreadable_text(3) == "3 files could not be read"
