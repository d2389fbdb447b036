"""The GUI checks the catalog and the index at start-up and offers to rebuild a damaged
catalog (issue 17): the real window, a real catalog with a zeroed page, a real rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtWidgets import QMessageBox

from photosim.core.library import Library
from photosim.ui.health import REBUILD, offer_catalog_recovery
from photosim.ui.mainwindow import MainWindow
from photosim.ui.settings import UiSettings
from tests.ui_library import make_photos

pytestmark = pytest.mark.gui
WAIT = 30000
PAGE = 4096


def _indexed(tmp_path: Path, tiny_model: tuple[Path, Path]) -> Path:
    photos = make_photos(tmp_path)
    with Library.open(tmp_path / "data", model=str(tiny_model[0]),
                      model_spec=str(tiny_model[1])) as library:
        library.index([photos])
    return tmp_path / "data"


def _window(qtbot, data: Path, tiny_model: tuple[Path, Path]) -> MainWindow:
    library = Library.open(data, model=str(tiny_model[0]), model_spec=str(tiny_model[1]))
    win = MainWindow(library, UiSettings())
    qtbot.addWidget(win)
    win.show()
    return win


def _finish(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: not win.runner.busy(), timeout=WAIT)
    win.runner.wait_for_done()
    win.stop_watching()
    win.library.close()


def test_a_damaged_catalog_is_found_at_start_and_rebuilt_on_request(qtbot, tmp_path,
                                                                    tiny_model):
    data = _indexed(tmp_path, tiny_model)
    catalog = data / "catalog.sqlite3"
    pages = catalog.stat().st_size // PAGE
    with open(catalog, "r+b") as handle:  # a zeroed page in the middle (photos, vectors)
        handle.seek(pages // 2 * PAGE)
        handle.write(bytes(PAGE))
    win = _window(qtbot, data, tiny_model)
    win.start()
    qtbot.waitUntil(lambda: win.catalog_recovery is not None and win.catalog_recovery.isVisible(),
                    timeout=WAIT)
    box = win.catalog_recovery
    assert box is not None and "damaged" in box.text()
    qtbot.waitUntil(lambda: not win.runner.busy() and not win.is_indexing(), timeout=WAIT)
    # The failed index run and the check found the same damage: one dialog, not two.
    dialogs = [w for w in win.findChildren(QMessageBox) if w.isVisible()]
    assert dialogs == [box]
    box.grab().save(str(tmp_path / "health.png"))

    rebuild = next(b for b in box.buttons() if b.text() == REBUILD)
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT) as finished:
        rebuild.click()
    assert finished.args[0] is not None and finished.args[0].added == 8
    aside = list(data.glob("damaged-*"))
    assert len(aside) == 1 and (aside[0] / "catalog.sqlite3").is_file()  # kept, not deleted
    assert win.library.status(check=True).embedded == 8
    assert win.library.folders() == [tmp_path / "photos"]  # read back from the damaged file
    _finish(qtbot, win)


def test_a_healthy_library_shows_nothing_and_a_damaged_index_row_is_told(qtbot, tmp_path,
                                                                         tiny_model):
    data = _indexed(tmp_path, tiny_model)
    segment = next((data / "index").glob("vectors-*.f16"))
    with open(segment, "r+b") as handle:
        handle.seek(8)
        handle.write(np.random.default_rng(1).bytes(8))
    win = _window(qtbot, data, tiny_model)
    win.start()
    qtbot.waitUntil(lambda: win.health is not None, timeout=WAIT)
    assert win.health is not None and win.health.catalog_problem is None
    assert win.health.index_damaged_rows == 1 and win.health.index_healed_rows == 1
    assert "1 damaged row" in win.statusBar().currentMessage()
    assert win.catalog_recovery is None
    _finish(qtbot, win)


def test_the_recovery_offer_comes_again_after_the_first_was_closed(qtbot, tmp_path, tiny_model):
    win = _window(qtbot, _indexed(tmp_path, tiny_model), tiny_model)
    first = offer_catalog_recovery(win, "The catalog is damaged (test)")
    assert offer_catalog_recovery(win, "again") is first  # one at a time while it is open
    first.close()  # "Not now": the dialog deletes itself
    qtbot.waitUntil(lambda: not shiboken6.isValid(first), timeout=WAIT)
    second = offer_catalog_recovery(win, "The catalog is damaged (later)")
    assert second.isVisible() and "later" in second.text()
    second.close()
    _finish(qtbot, win)
