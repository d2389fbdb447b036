"""The thumbnail grid over many photos: it keeps painting safely, and shows every photo."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPersistentModelIndex, QPoint, Qt
from PySide6.QtTest import QAbstractItemModelTester

from photosim.core.types import Photo
from photosim.ui.grid import PhotoGrid
from photosim.ui.listing import RECENT_LIMIT, FilterColumns, LazyPhotos, prepare_listing
from photosim.ui.models import PathRole, PhotoFilterProxy, PhotoListModel
from photosim.ui.tasks import Pool, TaskRunner
from photosim.ui.thumbnails import IN_FLIGHT, WAITING_LIMIT, ThumbnailCache
from tests import imagegen

pytestmark = pytest.mark.gui


def fake_photos(count: int, root: Path = Path("/photos")) -> list[Photo]:
    return [Photo(id=i + 1, path=root / f"{i // 500:03d}" / f"IMG_{i:06d}.jpg", size=1000 + i,
                  mtime_ns=i, content_hash=f"{i:032x}") for i in range(count)]


def shown_grid(qtbot, model) -> PhotoGrid:
    grid = PhotoGrid(120)
    grid.setModel(model)
    grid.resize(800, 600)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    qtbot.waitUntil(lambda: grid.indexAt(QPoint(30, 30)).isValid())  # laid out in batches
    return grid


def test_painting_items_without_a_score_or_thumbnail_does_not_use_up_none(qtbot):
    """PySide6 6.12.0 on Python 3.11 drops a reference to None in every QPainter call that
    returns nothing and every QModelIndex.data() that returns None; the delegate makes a few
    of those per painted item, so a long scroll aborted the app ("deallocating None").
    pyproject.toml keeps that release out; this catches it coming back."""
    model = PhotoListModel()
    model.set_photos(fake_photos(200))
    proxy = PhotoFilterProxy()
    proxy.setSourceModel(model)
    grid = shown_grid(qtbot, proxy)
    grid.viewport().grab()
    before = sys.getrefcount(None)
    for _ in range(100):
        grid.viewport().grab()
    assert sys.getrefcount(None) - before > -500  # leaking: about -2,000 (20 items × 100)


def as_rows(photos: list[Photo]) -> list[tuple]:
    return [(p.id, str(p.path), p.size, p.mtime_ns, p.content_hash, p.width, p.height, p.format,
             p.date_taken, p.orientation, p.camera, p.error, int(p.online), p.exif_fields)
            for p in photos]


def listed_model(photos: list[Photo], key: str = "name", descending: bool = False):
    model = PhotoListModel()
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.show_listing(prepare_listing(as_rows(photos), key, descending, model.snapshot()))
    return model


def shown_paths(model) -> list[Path]:
    return [model.index(r, 0).data(PathRole) for r in range(model.rowCount())]


def test_a_listing_shows_every_photo_sorted_and_makes_photos_only_when_asked(qtbot):
    photos = fake_photos(3000)
    model = listed_model(photos, "size", descending=True)
    assert model.rowCount() == 3000
    assert model.photo_at(0) == photos[-1]  # the largest first; made from its row
    lazy = model._photos
    assert isinstance(lazy, LazyPhotos) and lazy.made() == 1
    assert shown_paths(model) == [p.path for p in reversed(photos)]
    assert lazy.made() == RECENT_LIMIT  # a scroll through all of them keeps a few made
    assert model.row_of(photos[10].path) == 2989


def test_scrolling_to_the_end_of_a_large_grid_reaches_the_last_photo(qtbot):
    photos = fake_photos(5000)
    model = listed_model(photos)
    grid = shown_grid(qtbot, model)

    def last_photo_in_view() -> bool:
        grid.scrollToBottom()  # the grid lays items out in batches: the end moves at first
        return grid.visualRect(model.index(4999, 0)).intersects(grid.viewport().rect())

    qtbot.waitUntil(last_photo_in_view)
    corner = grid.viewport().rect().bottomLeft() + QPoint(30, -30)
    assert grid.indexAt(corner).row() >= 5000 - 10


def test_a_refresh_that_changed_nothing_touches_no_row(qtbot):
    photos = fake_photos(500)
    model = listed_model(photos)
    changes = []
    for signal in (model.modelReset, model.layoutChanged, model.dataChanged, model.rowsInserted,
                   model.rowsRemoved):
        signal.connect(lambda *args, s=signal: changes.append(s))
    model.show_listing(prepare_listing(as_rows(photos), "name", False, model.snapshot()))
    assert changes == []


def test_a_refresh_with_changes_keeps_the_selection_and_stays_sorted(qtbot):
    photos = fake_photos(500)
    model = listed_model(photos, "size")
    kept = QPersistentModelIndex(model.index(100, 0))
    changed = Photo(id=3, path=photos[2].path, size=5, mtime_ns=7, content_hash="new")
    added = Photo(id=900, path=Path("/photos/new/IMG_new.jpg"), size=1, mtime_ns=1,
                  content_hash="n")
    newer = [changed, *photos[3:], added]  # photos 0 and 1 gone
    model.show_listing(prepare_listing(as_rows(newer), "size", False, model.snapshot()))
    assert model._photos.made() <= 1  # compared as rows: no Photo made for the update
    assert model.rowCount() == 499
    assert kept.isValid() and kept.data(PathRole) == photos[100].path
    assert shown_paths(model)[:2] == [added.path, changed.path]  # sizes 1 and 5
    assert model.photo_at(1) == changed
    assert model.row_of(added.path) == 0 and model.row_of(photos[0].path) is None
    changes = []
    model.modelReset.connect(lambda: changes.append("reset"))
    model.dataChanged.connect(lambda *args: changes.append("data"))
    model.show_listing(prepare_listing(as_rows(newer), "size", False, model.snapshot()))
    assert changes == []  # and the next refresh, with nothing new, touches nothing


class HeldRunner(TaskRunner):
    """Keeps each task until the test runs it, as a busy pool would."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[tuple] = []

    def run_task(self, func, on_done=None, on_error=None, pool=Pool.DEFAULT) -> None:
        self.held.append((func, on_done))

    def run_oldest(self) -> None:
        func, on_done = self.held.pop(0)
        on_done(func())


class ThumbnailMaker:
    def __init__(self, thumb: Path) -> None:
        self.thumb = thumb
        self.asked: list[Path] = []

    def thumbnail(self, photo: Photo, size: int, time: float | None = None) -> Path:
        self.asked.append(photo.path)
        return self.thumb

    def video_duration(self, photo: Photo) -> float | None:
        return None


def test_thumbnails_on_screen_now_load_before_those_scrolled_past(qtbot, tmp_path):
    thumb = imagegen.save(imagegen.scene(1, (64, 48)), tmp_path / "thumb.jpg")
    maker, runner = ThumbnailMaker(thumb), HeldRunner()
    cache = ThumbnailCache(maker, runner)
    photos = fake_photos(WAITING_LIMIT + 100)
    for photo in photos:  # a fast scroll: each asked for once, while the pool is busy
        cache.pixmap(photo)
    assert len(runner.held) == IN_FLIGHT  # the rest wait, not queued in the pool
    runner.run_oldest()
    runner.run_oldest()
    assert maker.asked == [photos[0].path, photos[1].path]
    runner.run_oldest()  # the first two delivered made room for the newest two
    runner.run_oldest()
    runner.run_oldest()
    assert maker.asked[-1] == photos[-1].path
    assert cache.has(photos[0].path) and not cache.has(photos[50].path)
    cache.pixmap(photos[50])  # dropped from the queue long ago; shown again, asked again
    while runner.held:
        runner.run_oldest()
    assert cache.has(photos[50].path)


def test_the_folder_and_name_filters_work_on_a_listing_without_making_every_photo(qtbot):
    photos = fake_photos(2000)  # folders /photos/000 .. /photos/003, 500 photos each
    model = PhotoListModel()
    proxy = PhotoFilterProxy()
    proxy.setSourceModel(model)
    QAbstractItemModelTester(proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.show_listing(prepare_listing(as_rows(photos), "name", False, model.snapshot()))
    assert proxy.rowCount() == 2000
    assert model._photos.made() <= 1  # the model tester looks at one
    proxy.set_folder(Path("/photos/002"))
    assert {proxy.index(r, 0).data(PathRole).parent for r in range(proxy.rowCount())} == \
        {Path("/photos/002")} and proxy.rowCount() == 500
    proxy.set_folder(Path("/photos/00"))  # a prefix of the folders' names, not a folder
    assert proxy.rowCount() == 0
    proxy.set_folder(None)
    proxy.set_text("img_00123")
    assert [proxy.index(r, 0).data(PathRole).name for r in range(proxy.rowCount())] == \
        [f"IMG_00123{d}.jpg" for d in range(10)]


def test_the_name_filter_follows_sorts_removals_and_new_photos_and_keeps_the_selection(
        qtbot, monkeypatch):
    """The proxy maps rows through an array worked out in bulk; every change of the source
    must move that array (and the selection) along, without remaking the filter columns."""
    photos = fake_photos(2000)  # /photos/000 .. 003; IMG_000000 .. IMG_001999
    model = PhotoListModel()
    proxy = PhotoFilterProxy()
    proxy.setSourceModel(model)
    QAbstractItemModelTester(proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.show_listing(prepare_listing(as_rows(photos), "name", False, model.snapshot()))
    grown = [*photos, *fake_photos(2500, Path("/photos/new"))[2000:]]
    gone = {photos[i].path for i in (199, 150, 3)}
    refreshed = prepare_listing(as_rows([p for p in grown if p.path not in gone]), "size", True)
    remade = []
    monkeypatch.setattr(FilterColumns, "of_paths", lambda paths: remade.append(paths))
    proxy.set_text("IMG_0001")  # IMG_000100 .. IMG_000199 and IMG_001000 .. IMG_001999
    proxy.set_folder(Path("/photos/000"))
    assert shown_paths(proxy) == [p.path for p in photos[100:200]]
    selected = QPersistentModelIndex(proxy.index(50, 0))  # IMG_000150

    proxy.set_sort_key("size", Qt.SortOrder.DescendingOrder)
    assert shown_paths(proxy) == [p.path for p in reversed(photos[100:200])]
    assert selected.data(PathRole).name == "IMG_000150.jpg" and selected.row() == 49

    model.remove_paths([photos[199].path, photos[150].path, photos[3].path])
    assert proxy.rowCount() == 98 and not selected.isValid()
    kept = QPersistentModelIndex(proxy.index(10, 0))
    name = kept.data(PathRole).name

    model.show_listing(refreshed)  # the watcher's refresh: new photos, the gone gone
    assert shown_paths(proxy) == [p.path for p in reversed(photos[100:200])
                                  if p.path not in gone]
    assert kept.data(PathRole).name == name
    proxy.set_folder(None)
    expected = [p for p in grown if p.path not in gone and "img_0001" in p.path.name.lower()]
    assert shown_paths(proxy) == [p.path for p in sorted(expected, key=lambda p: -p.size)]
    assert remade == []  # carried along every change, never remade on the GUI thread

    changed = []
    proxy.dataChanged.connect(lambda top, bottom, _roles: changed.append((top.row(),
                                                                          bottom.row())))
    source_row = model.row_of(photos[120].path)
    model.dataChanged.emit(model.index(source_row - 5), model.index(source_row + 5))
    row = shown_paths(proxy).index(photos[120].path)
    assert changed and changed[-1][0] <= row <= changed[-1][1]
    proxy.set_text("")
    assert proxy.rowCount() == model.rowCount()
