"""Thumbnails for the views: made on disk by the library in the thumbnail pool, kept in memory
as QPixmaps (LRU), with a neutral placeholder meanwhile.

Requests are de-duplicated, and the ``ready`` notifications are coalesced on a short timer so
that a screenful of thumbnails arriving together costs one repaint, not fifty. Requests wait
in a bounded queue, newest first, with only a few handed to the pool at a time: scrolling fast
through 100k photos asks for thousands that are gone from the screen a moment later, and the
ones on screen now must not wait behind them.

A video's thumbnail is its poster frame, or (for a search hit at a time) its frame at that
time: thumbnails are kept by (path, time), and ``ready`` names the path either way. The
cache also remembers each video's length, read with its thumbnail, for the grid's badge.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from photosim.core.errors import PhotosimError
from photosim.core.types import Photo
from photosim.ui.tasks import Pool, TaskRunner

DISK_SIZE = 256  # the size of the cached JPEG; views scale it down
COALESCE_MS = 40
Key = tuple[Path, float | None]  # a file, and for a video's frame its time
IN_FLIGHT = 4  # jobs handed to the thumbnail pool at once: its threads' work, and the next
WAITING_LIMIT = 400  # requests kept; the oldest are dropped (asked again if shown again)


class ThumbnailCache(QObject):
    """Shared by every view: ``pixmap(photo)`` returns at once, loading in the background."""

    ready = Signal(list)  # list[Path] whose thumbnails became available (or failed)

    def __init__(self, library: object, runner: TaskRunner, capacity: int = 3000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._runner = runner
        self._capacity = capacity
        self._pixmaps: OrderedDict[Key, QPixmap] = OrderedDict()
        self._pending: set[Key] = set()  # waiting or loading
        self._waiting: OrderedDict[Key, Photo] = OrderedDict()  # newest last
        self._durations: dict[Path, float] = {}  # videos' lengths, read with their thumbnails
        self._loading = 0
        self._starting = False
        self._stopped = False
        self._failed: set[Key] = set()
        self._arrived: list[Path] = []
        self._flush = QTimer(self, singleShot=True, interval=COALESCE_MS)
        self._flush.timeout.connect(self._emit_ready)
        self._placeholder = _placeholder(QColor(128, 128, 128, 40))
        self._broken = _placeholder(QColor(200, 60, 60, 60))

    def set_library(self, library: object) -> None:
        self._library = library
        self._pixmaps.clear()
        self._failed.clear()
        self._pending.difference_update(self._waiting)
        self._waiting.clear()

    def stop(self) -> None:
        """The window closes: start nothing more, and ignore what still arrives (it may
        arrive after this object is gone)."""
        self._stopped = True
        self._waiting.clear()

    def pixmap(self, photo: Photo, time: float | None = None) -> QPixmap:
        """The thumbnail of ``photo`` (of a video: its poster, or its frame at ``time``)."""
        key = (photo.path, time)
        cached = self._pixmaps.get(key)
        if cached is not None:
            self._pixmaps.move_to_end(key)
            return cached
        if key in self._failed or photo.error:
            return self._broken
        self._request(key, photo)
        return self._placeholder

    def has(self, path: Path) -> bool:
        return (path, None) in self._pixmaps

    def duration(self, path: Path) -> float | None:
        """A video's length in seconds, once its thumbnail was loaded; None for a photo."""
        return self._durations.get(path)

    def _request(self, key: Key, photo: Photo) -> None:
        if key in self._pending or self._library is None or self._stopped:
            return
        self._pending.add(key)
        self._waiting[key] = photo
        if len(self._waiting) > WAITING_LIMIT:
            stale, _ = self._waiting.popitem(last=False)
            self._pending.discard(stale)
        self._start_loading()

    def _start_loading(self) -> None:
        """Hand the newest requests to the pool while it has room. Not re-entered: a
        synchronous runner delivers a thumbnail inside ``run_task``."""
        if self._starting:
            return
        self._starting = True
        try:
            while self._loading < IN_FLIGHT and self._waiting:
                key, photo = self._waiting.popitem(last=True)
                self._load_in_pool(key, photo)
        finally:
            self._starting = False

    def _load_in_pool(self, key: Key, photo: Photo) -> None:
        self._loading += 1
        library = self._library
        self._runner.run_task(
            lambda: _load(library, photo, key[1]),
            lambda loaded: self._arrive(key, *loaded),
            lambda exc: self._arrive(key, None, None),
            pool=Pool.THUMBNAILS)

    def _arrive(self, key: Key, image: QImage | None, duration: float | None) -> None:
        if self._stopped:
            return
        self._loading -= 1
        self._pending.discard(key)
        if duration is not None:
            self._durations[key[0]] = duration
        if image is None or image.isNull():
            self._failed.add(key)
        else:
            self._pixmaps[key] = QPixmap.fromImage(image)
            while len(self._pixmaps) > self._capacity:
                self._pixmaps.popitem(last=False)
        self._arrived.append(key[0])
        if not self._flush.isActive():
            self._flush.start()
        self._start_loading()

    def _emit_ready(self) -> None:
        arrived, self._arrived = self._arrived, []
        self.ready.emit(arrived)


def _load(library: object, photo: Photo,
          time: float | None) -> tuple[QImage | None, float | None]:
    """Worker thread: have the library make (or find) the cached JPEG, then decode it; and
    for a video, read its length."""
    try:
        path = library.thumbnail(photo, DISK_SIZE, time)  # type: ignore[attr-defined]
        duration = library.video_duration(photo)  # type: ignore[attr-defined]
    except PhotosimError:
        return None, None
    image = QImage(str(path))
    return (None if image.isNull() else image), duration


def _placeholder(colour: QColor) -> QPixmap:
    pix = QPixmap(QSize(DISK_SIZE, DISK_SIZE))
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(8, 8, DISK_SIZE - 16, DISK_SIZE - 16, 12, 12)
    painter.end()
    return pix
