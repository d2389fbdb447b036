"""A large preview of one photo (double-click in any grid), with its facts and actions."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from photosim.core.types import Photo
from photosim.ui.compare_view import ImagePane, load_picture
from photosim.ui.format import human_size, resolution
from photosim.ui.grid import open_containing_folder, open_with_default_app
from photosim.ui.tasks import TaskRunner


class PreviewDialog(QDialog):
    similar_requested = Signal(object)  # Photo

    def __init__(self, photo: Photo, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo = photo
        self.setWindowTitle(photo.path.name)
        self.pane = ImagePane()
        facts = QLabel(" · ".join(x for x in (resolution(photo), human_size(photo.size),
                                              photo.format or "", photo.date_taken or "",
                                              str(photo.path)) if x))
        facts.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in (("Find similar", self._similar),
                           ("Open with default app", lambda: open_with_default_app(photo.path)),
                           ("Open containing folder",
                            lambda: open_containing_folder(photo.path))):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pane, 1)
        layout.addWidget(facts)
        layout.addLayout(buttons)
        QShortcut(QKeySequence("Space"), self, self.close)
        self.resize(1000, 760)
        runner.run_task(lambda: load_picture(photo.path), self._loaded)

    def _loaded(self, image: QImage | None) -> None:
        if image is not None:
            self.pane.set_pixmap(QPixmap.fromImage(image))

    def _similar(self) -> None:
        self.similar_requested.emit(self.photo)
        self.close()
