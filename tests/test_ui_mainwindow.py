"""The real main window over a real small library (generated photos, tiny ONNX model):
context menu → similar results, keyboard duplicate review into a real trash and back,
apply-suggestions with its confirmation, clusters, and settings that persist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QListWidget

from photosim.core.types import DuplicateKind
from photosim.ui.compare_view import PROTECTED, TRASH
from photosim.ui.duplicates_view import ConfirmTrashDialog
from photosim.ui.mainwindow import MainWindow
from photosim.ui.models import ClusterRole, PathRole, ScoreRole
from photosim.ui.settings import UiSettings
from tests import imagegen
from tests.ui_library import open_indexed, shown_window

pytestmark = pytest.mark.gui
WAIT = 20000


@pytest.fixture
def library(tmp_path, tiny_model):
    lib = open_indexed(tmp_path, tiny_model)
    yield lib
    lib.close()


@pytest.fixture
def window(qtbot, library):
    yield from shown_window(qtbot, library)


def trash_files() -> set[str]:
    folder = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def grid_point(grid, name: str) -> QPoint:
    model = grid.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(PathRole).name == name)
    return grid.visualRect(model.index(row, 0)).center()


def open_same_group(qtbot, win: MainWindow):
    with qtbot.waitSignal(win.duplicates_loaded, timeout=WAIT):
        win.tabs.setCurrentWidget(win.duplicates_view)
    view = win.duplicates_view
    row = next(i for i, g in enumerate(view.model.groups()) if g.kind != DuplicateKind.SIMILAR)
    view.select_row(row)
    return view


def test_library_grid_lists_every_photo(window):
    assert window.library_view.model.rowCount() == 8
    assert "8 photos" in window.library_view.count_label.text()
    assert "Tiny test model" in window.model_label.text()
    assert "CPU" in window.provider_label.text()


def test_context_menu_find_similar_shows_ranked_results(qtbot, window):
    grid = window.library_view.grid
    menu = grid.context_menu_at(grid_point(grid, "scene0.jpg"))
    action = next(a for a in menu.actions() if a.text() == "Find similar photos")
    with qtbot.waitSignal(window.similar_finished, timeout=WAIT):
        action.trigger()
    results = window.similar_view.model
    assert window.tabs.currentWidget() is window.similar_view
    assert results.rowCount() >= 2
    top = {results.index(r).data(PathRole).name for r in range(2)}
    assert top == {"scene0.png", "scene0_small.jpg"}
    scores = [results.index(r).data(ScoreRole) for r in range(results.rowCount())]
    assert scores == sorted(scores, reverse=True)
    assert all(Path(results.index(r).data(PathRole)).name != "scene0.jpg"
               for r in range(results.rowCount()))


def test_a_dropped_video_is_a_query_like_a_photo(qtbot, window, tmp_path):
    from photosim.ui.controllers.similar import query_file_filter
    from photosim.ui.mainwindow import _droppable
    from tests.videogen import encode, sample_photos

    clip = encode(tmp_path / "outside" / "clip.mp4", [(sample_photos()["coffee"], 2.0)])
    assert _droppable(str(clip)) and not _droppable(str(tmp_path / "notes.txt"))
    with qtbot.waitSignal(window.similar_finished, timeout=WAIT):
        window.handle_paths([clip])
    assert window.tabs.currentWidget() is window.similar_view
    assert window.similar_view.model.rowCount() > 0  # ranked against the library's photos
    # a file from outside the library still shows its picture (here: a frame) by the title
    qtbot.waitUntil(lambda: not window.similar_view.query_image.pixmap().isNull(),
                    timeout=WAIT)
    assert "*.mp4" in query_file_filter() and "*.jpg" in query_file_filter()


def test_similar_slider_asks_again(qtbot, window):
    window.find_similar(window.library.folders()[0] / "scene1.jpg")
    qtbot.waitUntil(lambda: window.similar_view.model.rowCount() > 0, timeout=WAIT)
    with qtbot.waitSignal(window.similar_finished, timeout=WAIT):
        window.similar_view.count.setValue(5)
    assert window.similar_view.model.rowCount() <= 5


def test_keyboard_review_trashes_for_real_and_undo_restores(qtbot, window):
    view = open_same_group(qtbot, window)
    group = view.compare.group
    window.activateWindow()
    view.groups.setFocus()
    qtbot.keyClick(view.groups, Qt.Key.Key_K)  # keep the suggested keeper (first card)
    qtbot.keyClick(view.groups, Qt.Key.Key_Right)
    qtbot.keyClick(view.groups, Qt.Key.Key_K)  # ...and this copy too
    decisions = view.compare.decisions()
    # the core's suggestions, less the copy kept by hand; other shots are never marked
    assert list(decisions.values()).count(TRASH) == group.suggestions.count("trash") - 1
    doomed = [p for p, d in decisions.items() if d == TRASH]
    with qtbot.waitSignal(window.action_finished, timeout=WAIT) as done:
        qtbot.keyClick(view.groups, Qt.Key.Key_Return)
    assert "Moved 1 file" in done.args[0]
    assert all(not p.exists() for p in doomed)
    assert {p.name for p in doomed} <= trash_files()
    assert group not in view.model.groups()
    with qtbot.waitSignal(window.action_finished, timeout=WAIT) as undone:
        qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "Restored 1 file" in undone.args[0]
    assert all(p.exists() for p in doomed)
    assert not ({p.name for p in doomed} & trash_files())


def test_not_a_duplicate_is_remembered(qtbot, window):
    view = open_same_group(qtbot, window)
    members = {p.path for p in view.compare.group.members}
    with qtbot.waitSignal(window.action_finished, timeout=WAIT):
        view.not_duplicate()
    with qtbot.waitSignal(window.duplicates_loaded, timeout=WAIT):
        window.refresh_duplicates()
    assert all({p.path for p in g.members} != members for g in view.model.groups()
               if g.kind != DuplicateKind.SIMILAR)


def test_apply_suggestions_confirms_the_exact_files(qtbot, window):
    view = open_same_group(qtbot, window)
    planned = view.suggested_trash()
    assert planned and all(p.id != view.compare.group.keeper.id for p in planned)
    seen: list[tuple[str, list[str]]] = []

    def accept_dialog() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, ConfirmTrashDialog) and w.isVisible())
        listed = dialog.findChild(QListWidget)
        seen.append((dialog.ok.text(), [listed.item(i).text() for i in range(listed.count())]))
        dialog.accept()

    QTimer.singleShot(200, accept_dialog)
    with qtbot.waitSignal(window.action_finished, timeout=WAIT):
        view.apply_all.click()
    button, listed = seen[0]
    assert button == f"Move {len(planned)} to trash"
    assert listed == [str(p.path) for p in planned]
    assert all(not p.path.exists() for p in planned)
    assert {p.path.name for p in planned} <= trash_files()


def test_reference_folder_photos_are_never_proposed(qtbot, window, library):
    library.set_reference(library.folders()[0], True)
    view = open_same_group(qtbot, window)
    assert set(view.compare.decisions().values()) == {PROTECTED}
    assert view.suggested_trash() == []
    view.compare.mark_current(TRASH)
    assert view.compare.to_trash() == []


def test_clusters_tab_shows_real_clusters_and_opens_them(qtbot, window, library):
    with qtbot.waitSignal(window.clusters_loaded, timeout=WAIT):
        window.tabs.setCurrentWidget(window.clusters_view)
    view = window.clusters_view
    expected = library.clusters(view.granularity_value())
    assert view.model.rowCount() == len(expected) >= 1
    first = view.model.index(0)
    entry = first.data(ClusterRole)
    assert not entry.is_misc  # real clusters first, the miscellaneous bucket last
    assert first.data().splitlines() == [entry.name, f"{entry.size} photos"]
    assert not first.data(Qt.ItemDataRole.DecorationRole).isNull()
    assert view.members.rowCount() == entry.size  # the first cluster opens by itself
    misc = view.model.rowCount() - 1
    view.open_row(misc)
    assert view.members.rowCount() == view.model.index(misc).data(ClusterRole).size
    assert "fit no cluster" in view.opened_title.text()
    assert sum(view.model.index(r).data(ClusterRole).size
               for r in range(view.model.rowCount())) == 8


def test_cluster_granularity_regroups_and_find_similar_works_inside(qtbot, window):
    with qtbot.waitSignal(window.clusters_loaded, timeout=WAIT):
        window.tabs.setCurrentWidget(window.clusters_view)
    view = window.clusters_view
    with qtbot.waitSignal(window.clusters_loaded, timeout=WAIT):
        view.granularity.setValue(0)  # coarsest: asks again after a short pause
    assert view.model.rowCount() >= 1
    grid = view.grid
    name = view.members.photo_at(0).path.name
    menu = grid.context_menu_at(grid_point(grid, name))
    action = next(a for a in menu.actions() if a.text() == "Find similar photos")
    with qtbot.waitSignal(window.similar_finished, timeout=WAIT):
        action.trigger()
    assert window.similar_view.query.name == name
    assert window.similar_view.all_matches


def test_settings_persist(qtbot, window, library):
    dialog = window.open_settings()
    dialog.thumb_size.setValue(208)
    dialog.dup_threshold.setValue(95)
    dialog.similar_count.setValue(12)
    dialog.accept()
    saved = UiSettings.load(library.data_dir)
    assert (saved.thumb_size, saved.duplicate_threshold, saved.similar_count) == (208, 0.95, 12)
    assert window.library_view.grid.thumb_size() == 208
    again = MainWindow(library, saved)
    qtbot.addWidget(again)
    assert again.duplicates_view.threshold.value() == 95
    assert again.similar_view.k() == 12


def test_settings_reference_folder_via_dialog(qtbot, window, library):
    dialog = window.open_settings()
    item = dialog.folder_list.item(0)
    item.setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(window.library_loaded, timeout=WAIT):
        dialog.accept()
    assert library.status().reference_folders == library.folders()


def test_each_card_says_how_its_photo_differs_from_the_keeper(qtbot, window):
    """The review cards carry the core's words for each copy ("cropped, smaller")."""
    from photosim.ui.compare_view import facts_html

    view = open_same_group(qtbot, window)
    group = view.compare.group
    other = next(p for p in group.members if p.id != group.keeper.id)
    card = next(c for c in view.compare.cards if c.photo.id == other.id)
    assert group.relation_of(other)
    assert group.relation_of(other) in card.facts.text() == facts_html(other, group)
    assert "Vs keeper" in facts_html(group.keeper, group)

def test_start_fills_the_grid_before_the_catch_up_scan(qtbot, library):
    win = MainWindow(library, UiSettings())
    qtbot.addWidget(win)
    scanning_when_filled = []
    win.library_loaded.connect(lambda: scanning_when_filled.append(win.is_indexing()))
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT):
        win.start()
    assert scanning_when_filled[0] is False
    assert win.library_view.model.rowCount() == 8
    qtbot.waitUntil(lambda: not win.runner.busy(), timeout=WAIT)  # the index preload too
    win.runner.wait_for_done()


def test_refresh_while_indexing_reads_the_photos_only_when_their_count_changed(
        qtbot, window, library):
    reads = []
    window.library_grid.refresh = lambda: reads.append(True)
    window.library_grid.refresh_if_grown()
    qtbot.waitUntil(lambda: not window.runner.busy(), timeout=WAIT)
    assert reads == []
    new = library.folders()[0] / "later.jpg"
    imagegen.save(imagegen.scene(40), new, quality=90)
    library.index_paths([new])
    window.library_grid.refresh_if_grown()
    qtbot.waitUntil(lambda: reads == [True], timeout=WAIT)
