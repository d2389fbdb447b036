"""Videos in the GUI: a result "at a time" with that frame as its tile, the grid's length badge,
and playing from the time found (a player on PATH that records how it was started)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QAbstractItemModelTester

from photosim.core.library import Library
from photosim.core.types import Match
from photosim.ui.compare_view import load_picture
from photosim.ui.grid import PhotoGrid
from photosim.ui.models import DurationRole, PhotoListModel, TimeRole
from photosim.ui.tasks import SyncTaskRunner
from photosim.ui.thumbnails import ThumbnailCache
from photosim.ui.video_player import play, player_command
from tests.videogen import encode, mean_difference, sample_photos

pytestmark = pytest.mark.gui


@pytest.fixture
def library(tiny_library: Library) -> Library:
    return tiny_library


def test_a_video_result_shows_its_time_its_frame_and_its_length(qtbot, library: Library,
                                                                  tmp_path: Path) -> None:
    photos = sample_photos()
    clip = encode(tmp_path / "lib" / "clip.mp4", [(photos["astronaut"], 3.0),
                                                  (photos["coffee"], 4.0)])
    library.add_folder(tmp_path / "lib")
    library.index()
    video = library.photo(clip)
    assert video is not None
    cache = ThumbnailCache(library, SyncTaskRunner())
    model = PhotoListModel(cache)
    QAbstractItemModelTester(model)
    model.set_matches([Match(video, 0.9, 4.0)])
    index = model.index(0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "90%  clip.mp4 at 0:04"
    assert index.data(TimeRole) == 4.0
    index.data(Qt.ItemDataRole.DecorationRole)  # loads the frame at 4 s (synchronously)
    assert cache.pixmap(video, 4.0).save(str(tmp_path / "tile.png"))
    tile = Image.open(tmp_path / "tile.png").convert("RGB")
    coffee, astronaut = (sample_photos(tile.size)[n] for n in ("coffee", "astronaut"))
    assert mean_difference(tile, coffee) < 15 < mean_difference(tile, astronaut)
    assert index.data(DurationRole) == pytest.approx(7.0, abs=0.2)

    grid = PhotoGrid(120)
    grid.setModel(model)
    grid.resize(400, 300)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    card = load_picture(clip)  # the duplicate review's card, and the preview, of a video
    assert card is not None and (card.width(), card.height()) == (320, 240)
    menu = grid.context_menu_at(grid.visualRect(index).center())
    assert menu is not None
    assert "Play from 0:04" in [a.text() for a in menu.actions()]
    assert grid.indexAt(QPoint(30, 30)).isValid()


def test_playing_starts_the_player_at_the_time(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "started-with.txt"
    mpv = bin_dir / "mpv"
    mpv.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    mpv.chmod(mpv.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/bin:/usr/bin")
    clip = tmp_path / "clip.mp4"
    assert player_command(clip, 42.5) == [str(mpv), "--start=42.500", str(clip)]
    assert play(clip, 42.5)
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert record.read_text().split() == ["--start=42.500", str(clip)]
