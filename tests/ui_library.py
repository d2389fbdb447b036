"""A small real library for the GUI tests: generated scenes plus copies of one of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photosim.core.library import Library
from tests import imagegen

if TYPE_CHECKING:
    from photosim.ui.mainwindow import MainWindow

SCENES = 6


def make_photos(root: Path) -> Path:
    """``root/photos`` with six distinct scenes and two copies of scene 0 (PNG, half size)."""
    photos = root / "photos"
    for i in range(SCENES):
        imagegen.save(imagegen.scene(i), photos / f"scene{i}.jpg", quality=92)
    original = imagegen.scene(0)
    imagegen.save(original, photos / "copies" / "scene0.png")
    imagegen.save(original.resize((320, 240)), photos / "copies" / "scene0_small.jpg", quality=80)
    return photos


def open_indexed(root: Path, model: tuple[Path, Path]) -> Library:
    photos = make_photos(root)
    library = Library.open(root / "data", model=str(model[0]), model_spec=str(model[1]))
    library.index([photos])
    return library


def shown_window(qtbot: Any, library: Library, wait_ms: int = 20000) -> Iterator[MainWindow]:
    """The main window over ``library``, shown with its grid filled; waits for background
    tasks when the test is done (use with ``yield from`` in a fixture)."""
    from photosim.ui.mainwindow import MainWindow
    from photosim.ui.settings import UiSettings

    win = MainWindow(library, UiSettings())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.library_loaded, timeout=wait_ms):
        win.refresh_library()
    yield win
    win.runner.wait_for_done()
