"""The Duplicates tab while the library looks for duplicates: it says what the search does and
how far it got, Cancel stops it, a newer ask (the slider, the kind) replaces the search running
and only the newest results are shown, and closing the window mid-search quits promptly.

A real library and the real task runner; ``Library.duplicates`` is held back by a gate so the
search stays in progress as long as a test needs, the way a 100k-photo library's does."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from photosim.core.cancel import CancelToken, check
from photosim.core.library import Library
from photosim.core.types import Progress, Stage
from tests.ui_library import open_indexed, shown_window

pytestmark = pytest.mark.gui
WAIT = 20000


class HeldSearch:
    """Stands in for ``Library.duplicates``: reports a stage, then waits until let go (and
    then searches for real) or cancelled."""

    def __init__(self) -> None:
        self.real = Library.duplicates
        self.asked: list[tuple[float | None, CancelToken]] = []
        self.gate = threading.Event()
        self.ended: list[str] = []

    def __call__(self, library: Library, threshold: float | None = None, kinds=None, *,
                 progress=None, cancel=None):
        assert progress is not None and cancel is not None
        self.asked.append((threshold, cancel))
        progress(Progress(Stage.COMPARING_PIXELS, 120, 400))
        try:
            while not self.gate.wait(0.01):
                check(cancel)
        except BaseException:
            self.ended.append("cancelled")
            raise
        self.ended.append("searched")
        return self.real(library, threshold, kinds, progress=progress, cancel=cancel)


@pytest.fixture
def held(monkeypatch):
    search = HeldSearch()
    monkeypatch.setattr(Library, "duplicates", lambda library, *args, **kwargs: search(
        library, *args, **kwargs))
    yield search
    search.gate.set()


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):
    library = open_indexed(tmp_path, tiny_model)
    yield from shown_window(qtbot, library)
    library.close()


def busy_text(view) -> tuple[str, str]:
    return view.search.title.text(), view.search.stage.text()


def test_the_tab_shows_the_search_under_way_and_only_the_newest_results(qtbot, window, held):
    view = window.duplicates_view
    loaded = []
    window.duplicates_loaded.connect(lambda: loaded.append(view.threshold_value()))
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: busy_text(view)[1] == "Comparing pixels 120 / 400", timeout=WAIT)
    assert view.is_busy() and view.pages.currentWidget() is view.search
    assert busy_text(view)[0] == "Finding duplicates among 8 photos…"
    assert view.search.cancel.isVisible() and view.search.bar.maximum() == 400
    assert view.summary.text() == "Looking for duplicates…"

    view.threshold.setValue(95)
    view.threshold.sliderReleased.emit()  # the slider let go mid-search: a newer ask
    qtbot.waitUntil(lambda: len(held.asked) == 2, timeout=WAIT)
    first, second = held.asked
    assert first[1].cancelled and not second[1].cancelled and second[0] == 0.95
    qtbot.waitUntil(lambda: held.ended == ["cancelled"], timeout=WAIT)
    qtbot.wait(100)
    assert view.is_busy() and loaded == []  # the replaced search showed nothing

    with qtbot.waitSignal(window.duplicates_loaded, timeout=WAIT):
        held.gate.set()
    assert loaded == [0.95] and not view.is_busy()
    assert view.pages.currentWidget() is view.review
    expected = held.real(window.library, 0.95)
    assert [g.members for g in view.model.groups()] == [g.members for g in expected]


def test_cancel_stops_the_search_and_it_can_be_run_again(qtbot, window, held):
    view = window.duplicates_view
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.search.stage.text().startswith("Comparing"), timeout=WAIT)
    with qtbot.waitSignal(window.duplicates_stopped, timeout=WAIT):
        qtbot.mouseClick(view.search.cancel, Qt.MouseButton.LeftButton)
    assert held.ended == ["cancelled"] and view.is_stopped()
    assert view.search.title.text() == "Duplicate search stopped"
    assert view.search.again.isVisible() and not view.search.cancel.isVisible()
    window.tabs.setCurrentWidget(window.library_view)
    window.duplicates.mark_stale()  # e.g. a watched folder changed meanwhile
    window.tabs.setCurrentWidget(view)
    qtbot.wait(100)
    assert len(held.asked) == 1  # stopped by the user: not started again unasked
    held.gate.set()
    with qtbot.waitSignal(window.duplicates_loaded, timeout=WAIT):
        qtbot.mouseClick(view.search.again, Qt.MouseButton.LeftButton)
    assert len(held.asked) == 2 and view.model.rowCount() > 0


def test_closing_the_window_mid_search_quits_promptly(qtbot, window, held):
    view = window.duplicates_view
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.is_busy() and len(held.asked) == 1, timeout=WAIT)
    began = time.monotonic()
    window.close()
    assert time.monotonic() - began < 2.0
    assert held.ended == ["cancelled"]
