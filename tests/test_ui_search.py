"""The search box (file name as you type, "Photo shows" word search on Enter) and the results
view's similarity floor, on real libraries: the tiny test model (no ImageNet classifier, so
word search must say so) and the shared EfficientNet-Lite0 over real photos (a cat is found by
"cat")."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps
from PySide6.QtCore import Qt

from photosim.core.library import Library
from photosim.ui.library_view import NAME_MODE, WORD_MODE
from photosim.ui.mainwindow import MainWindow
from photosim.ui.models import PathRole, ScoreRole
from photosim.ui.settings import UiSettings
from tests.ui_library import open_indexed

pytestmark = pytest.mark.gui
WAIT = 30000


def make_window(qtbot, library: Library) -> MainWindow:
    win = MainWindow(library, UiSettings())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.library_loaded, timeout=WAIT):
        win.refresh_library()
    return win


@pytest.fixture
def tiny_window(qtbot, tmp_path, tiny_model):
    library = open_indexed(tmp_path, tiny_model)
    win = make_window(qtbot, library)
    yield win
    win.runner.wait_for_done()
    library.close()


def shown_names(model) -> list[str]:
    return [model.index(r, 0).data(PathRole).name for r in range(model.rowCount())]


def test_name_mode_filters_as_you_type_and_enter_does_not_search(qtbot, tiny_window):
    view = tiny_window.library_view
    assert view.search_mode.currentIndex() == NAME_MODE
    filterings: list[str] = []
    view.proxy.filtered.connect(lambda: filterings.append(view.proxy.filter_text()))
    qtbot.keyClicks(view.filter, "Small")
    assert view.proxy.rowCount() == 8 and filterings == []  # typing: not yet, the key pause
    with qtbot.waitSignal(view.proxy.filtered, timeout=WAIT):
        pass
    assert shown_names(view.proxy) == ["scene0_small.jpg"]
    assert filterings == ["small"]  # five keys, one filtering
    qtbot.keyClicks(view.filter, "x")
    qtbot.keyClick(view.filter, Qt.Key.Key_Return)  # Enter filters at once, and only that
    assert view.proxy.rowCount() == 0 and filterings == ["small", "smallx"]
    assert tiny_window.tabs.currentWidget() is view
    view.filter.clear()  # the clear button: everything again at once
    assert view.proxy.rowCount() == 8
    view.set_search_mode(WORD_MODE)
    assert view.proxy.rowCount() == 8  # word mode leaves the grid whole
    assert "press Enter" in view.filter.placeholderText()
    words = view.completer.model()
    assert words.rowCount() > 1000
    assert "tabby cat" in words.stringList()


def test_word_search_without_a_classifier_says_so(qtbot, tiny_window):
    view = tiny_window.library_view
    view.set_search_mode(WORD_MODE)
    view.filter.setText("dog")
    with qtbot.waitSignal(tiny_window.similar_finished, timeout=WAIT):
        qtbot.keyClick(view.filter, Qt.Key.Key_Return)
    results = tiny_window.similar_view
    assert tiny_window.tabs.currentWidget() is results
    assert results.title.text() == "Photos showing “dog”"
    assert "classifier" in results.detail.text()
    assert results.model.rowCount() == 0
    assert not results.min_score.isVisibleTo(results)  # no similarity floor for words


def test_every_match_is_shown_with_a_line_where_matches_become_weak(qtbot, tiny_window):
    results = tiny_window.similar_view
    results.set_min_similarity(0.0)
    with qtbot.waitSignal(tiny_window.similar_finished, timeout=WAIT):
        tiny_window.find_similar(tiny_window.library.folders()[0] / "scene0.jpg")
    assert results.model.rowCount() == len(results.all_matches) == 7
    assert results.grid.weak_from is None
    assert results.detail.text().startswith("The 7 nearest photos")
    scores = sorted((m.score for m in results.all_matches), reverse=True)
    floor = (scores[3] + scores[4]) / 2  # the three least similar are weak
    with qtbot.assertNotEmitted(tiny_window.similar_finished, wait=400):
        results.set_min_similarity(floor)
    assert results.model.rowCount() == 7  # nothing hidden
    assert results.grid.weak_from == 4
    assert all(results.model.index(r).data(ScoreRole) >= floor for r in range(4))
    assert "3 weak, after the line" in results.detail.text()
    results.set_min_similarity(1.0)  # a photo nothing resembles: still its best matches
    assert results.model.rowCount() == 7 and results.grid.weak_from == 0
    assert "all weak" in results.detail.text()
    image = results.grid.grab().toImage()  # the line is drawn in the highlight colour
    cell = results.grid.visualRect(results.model.index(0, 0))
    accent = results.grid.palette().highlight().color()
    line = [image.pixelColor(cell.left() + dx, cell.center().y()) for dx in range(4)]
    assert any(abs(c.red() - accent.red()) + abs(c.green() - accent.green())
               + abs(c.blue() - accent.blue()) < 30 for c in line)


def test_default_floor_is_half(tiny_window):
    assert UiSettings().similar_min_score == 0.5
    assert tiny_window.similar_view.min_score.value() == 50


@pytest.fixture
def real_library(tmp_path: Path, real_model_dir: Path):
    skimage_data = pytest.importorskip("skimage.data")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        Image.fromarray(getattr(skimage_data, name)()).convert("RGB").save(
            photos / f"{name}.jpg", quality=92)
    cat = Image.open(photos / "chelsea.jpg")
    ImageOps.mirror(cat).save(photos / "chelsea_mirrored.jpg", quality=90)
    library = Library.open(tmp_path / "data", model=str(real_model_dir /
                                                        "efficientnet_lite0_embed.onnx"),
                           model_spec="efficientnet-lite0")
    library.index([photos])
    yield library
    library.close()


def test_a_cat_is_found_by_typing_cat(qtbot, real_library):
    win = make_window(qtbot, real_library)
    view = win.library_view
    view.set_search_mode(WORD_MODE)
    qtbot.keyClicks(view.filter, "cat")
    view.completer.popup().hide()  # the completion list opens as one types
    with qtbot.waitSignal(win.similar_finished, timeout=WAIT):
        qtbot.keyClick(view.filter, Qt.Key.Key_Return)
    found = shown_names(win.similar_view.model)
    assert set(found[:2]) == {"chelsea.jpg", "chelsea_mirrored.jpg"}
    assert "coffee.jpg" not in found
    assert "photos showing “cat”" in win.similar_view.detail.text()
    with qtbot.waitSignal(win.similar_finished, timeout=WAIT):
        win.search_words("zzyzzx")
    assert "zzyzzx" in win.similar_view.detail.text()
    assert win.similar_view.model.rowCount() == 0
    win.runner.wait_for_done()


def test_photo_shows_is_greyed_out_without_a_classifier(qtbot, tiny_window):
    """The tiny model has no ImageNet classifier: "Photo shows" is greyed out, saying why."""
    view = tiny_window.library_view
    view.set_search_mode(WORD_MODE)
    tiny_window.check_word_search()
    qtbot.waitUntil(lambda: not view.word_search_available(), timeout=WAIT)
    assert view.search_mode.currentIndex() == NAME_MODE
    assert "classifier" in view.search_mode.model().item(WORD_MODE).toolTip()


def test_photo_shows_is_offered_with_a_classifier(qtbot, real_library):
    win = make_window(qtbot, real_library)
    win.library_view.set_word_search_available(False)
    win.check_word_search()
    qtbot.waitUntil(win.library_view.word_search_available, timeout=WAIT)
    win.runner.wait_for_done()


def test_matches_above_the_floor_come_before_the_line_in_the_core_order(qtbot, tiny_window):
    """The adapted ranking may put a weaker score first: the line still splits strong from
    weak, and each side keeps the core's order."""
    results = tiny_window.similar_view
    with qtbot.waitSignal(tiny_window.similar_finished, timeout=WAIT):
        tiny_window.find_similar(tiny_window.library.folders()[0] / "scene0.jpg")
    from dataclasses import replace

    photos = [m.photo for m in results.all_matches][:4]
    scores = [0.7, 0.3, 0.6, 0.4]  # ranked order, not sorted by score
    results.set_min_similarity(0.5)
    results.show_matches([replace(m, photo=p, score=s) for p, s, m in zip(
        photos, scores, results.all_matches, strict=False)])
    shown = [results.model.index(r).data(ScoreRole) for r in range(4)]
    assert shown == pytest.approx([0.7, 0.6, 0.3, 0.4])
    assert results.grid.weak_from == 2
