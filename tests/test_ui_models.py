"""The Qt item models over real library records, checked by QAbstractItemModelTester."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from photosim.ui.clusters_view import ClusterEntry, ClusterModel
from photosim.ui.models import (
    DuplicateGroupModel,
    PathRole,
    PhotoFilterProxy,
    PhotoListModel,
    ScoreRole,
    SizeRole,
)
from photosim.ui.tasks import SyncTaskRunner, TaskRunner
from photosim.ui.thumbnails import ThumbnailCache
from tests.ui_library import open_indexed

pytestmark = pytest.mark.gui


@pytest.fixture
def library(tmp_path, tiny_model):
    lib = open_indexed(tmp_path, tiny_model)
    yield lib
    lib.close()


def _tested(model):
    return QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)


def test_photo_model_filter_sort_and_incremental_update(qtbot, library):
    model = PhotoListModel()
    proxy = PhotoFilterProxy()
    proxy.setSourceModel(model)
    _tested(model), _tested(proxy)
    photos = library.photos()
    model.update_photos(photos[:5])
    model.update_photos(photos)  # appends without a reset
    assert model.rowCount() == len(photos) == 8
    proxy.set_sort_key("size", Qt.SortOrder.DescendingOrder)
    sizes = [proxy.index(r, 0).data(SizeRole) for r in range(proxy.rowCount())]
    assert sizes == sorted(sizes, reverse=True)
    proxy.set_folder(library.folders()[0] / "copies")
    assert {proxy.index(r, 0).data(PathRole).name for r in range(proxy.rowCount())} == \
        {"scene0.png", "scene0_small.jpg"}
    proxy.set_folder(None)
    proxy.set_text("SCENE3")
    assert proxy.rowCount() == 1
    model.remove_paths([p.path for p in photos[:2]])
    assert model.rowCount() == 6


def test_match_scores_and_thumbnails_arrive_in_the_background(qtbot, library):
    runner = TaskRunner()
    cache = ThumbnailCache(library, runner)
    model = PhotoListModel(cache)
    _tested(model)
    query = next(p for p in library.photos() if p.path.name == "scene0.jpg")
    model.set_matches(library.similar(query.path, k=5))
    assert model.index(0).data(ScoreRole) >= model.index(4).data(ScoreRole)
    assert model.index(0).data(PathRole).name in {"scene0.png", "scene0_small.jpg"}
    with qtbot.waitSignal(cache.ready, timeout=10000):
        model.index(0).data(Qt.ItemDataRole.DecorationRole)  # asks for it, returns placeholder
    qtbot.waitUntil(lambda: cache.has(model.index(0).data(PathRole)), timeout=10000)
    assert not model.index(0).data(Qt.ItemDataRole.DecorationRole).isNull()
    runner.wait_for_done()


def test_group_and_cluster_models(qtbot, library):
    cache = ThumbnailCache(library, SyncTaskRunner())
    groups = DuplicateGroupModel(cache)
    _tested(groups)
    groups.set_groups(library.duplicates())
    assert groups.rowCount() >= 1
    assert groups.reclaimable() > 0
    groups.remove_row(0)
    clusters = ClusterModel(cache)
    _tested(clusters)
    photos = tuple(library.photos())
    clusters.set_entries([ClusterEntry(1, "scenes", len(photos), photos[:4], photos)])
    assert "8 photos" in clusters.index(0).data()
    assert not clusters.index(0).data(Qt.ItemDataRole.DecorationRole).isNull()


def test_sync_runner_hands_errors_to_the_callback(qtbot):
    runner = SyncTaskRunner()
    seen: list[BaseException] = []
    runner.run_task(lambda: 1 / 0, lambda _: None, seen.append)
    assert isinstance(seen[0], ZeroDivisionError)
    assert "ZeroDivisionError" in seen[0].__photosim_traceback__


def test_pool_runner_delivers_on_the_gui_thread(qtbot):
    import threading

    runner = TaskRunner()
    where: list[object] = []
    runner.run_task(lambda: threading.current_thread(),
                    lambda worker: where.extend([worker, threading.current_thread()]))
    qtbot.waitUntil(lambda: len(where) == 2, timeout=5000)
    assert where[0] is not where[1]
    assert where[1] is threading.main_thread()


def test_finished_tasks_keep_nothing_alive(qtbot):
    """Each relay's connections held its callbacks and they held the relay, a cycle through
    Qt: every task's closure (a thumbnail's Photo, say) stayed in memory for good."""
    import gc
    import weakref

    class Payload:
        pass

    runner = TaskRunner()
    delivered: list[int] = []
    payloads = [Payload() for _ in range(20)]
    alive = [weakref.ref(p) for p in payloads]
    for payload in payloads:
        runner.run_task(lambda payload=payload: 1,
                        lambda result, payload=payload: delivered.append(result))
    del payloads, payload
    qtbot.waitUntil(lambda: len(delivered) == 20, timeout=5000)
    runner.wait_for_done()
    gc.collect()
    assert [ref for ref in alive if ref() is not None] == []


def test_settings_roundtrip(tmp_path: Path):
    from photosim.ui.settings import UiSettings

    UiSettings(thumb_size=200, duplicate_threshold=0.95).save(tmp_path)
    loaded = UiSettings.load(tmp_path)
    assert (loaded.thumb_size, loaded.duplicate_threshold) == (200, 0.95)
    (tmp_path / "gui-settings.json").write_text("{not json")
    assert UiSettings.load(tmp_path) == UiSettings()
