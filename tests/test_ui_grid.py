"""The thumbnail grid over many photos: it keeps painting safely, and shows every photo."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint

from photosim.core.types import Photo
from photosim.ui.grid import PhotoGrid
from photosim.ui.models import PhotoFilterProxy, PhotoListModel

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
