"""The files photosim could not read (corrupt, truncated, empty, not an image...), with why.

Opened from the "N files could not be read" entry in the main window's status bar. The list is
read by the caller on the task runner and handed in; the dialog itself does no file work.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photosim.core.library import ScanProblem, readable
from photosim.core.types import Photo
from photosim.ui.grid import open_containing_folder

PATH_COLUMN, REASON_COLUMN = 0, 1
_PATH_DATA = Qt.ItemDataRole.UserRole  # where each item keeps its file's path


def unreadable_text(count: int) -> str:
    """The status-bar wording: "1 file could not be read", "3 files could not be read"."""
    return f"{count} file{'' if count == 1 else 's'} could not be read"


class UnreadableDialog(QDialog):
    def __init__(self, photos: Sequence[Photo], parent: QWidget | None = None,
                 problems: Sequence[ScanProblem] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be read")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["File", "Reason"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSortingEnabled(True)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_folder())
        self.open_button = QPushButton("Open containing folder")
        self.open_button.clicked.connect(self.open_folder)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self.resize(900, 480)
        self.set_photos(photos, problems)

    def set_photos(self, photos: Sequence[Photo], problems: Sequence[ScanProblem] = ()) -> None:
        """The unreadable photos, and the files and folders a scan could not look at (broken
        links, pipes, link loops, unreadable folders), kept from earlier runs."""
        self.tree.clear()
        rows = [(p.path, p.error or "Unknown reason") for p in photos]
        rows += [(p.path, p.reason) for p in problems]
        for path, reason in rows:
            shown = readable(path)  # a name that is not UTF-8 shows its odd bytes as U+FFFD
            item = QTreeWidgetItem([shown, reason])
            item.setData(PATH_COLUMN, _PATH_DATA, path)
            item.setToolTip(PATH_COLUMN, shown)
            item.setToolTip(REASON_COLUMN, reason)
            self.tree.addTopLevelItem(item)
        self.tree.sortByColumn(PATH_COLUMN, Qt.SortOrder.AscendingOrder)
        self.tree.resizeColumnToContents(PATH_COLUMN)
        count = len(rows)
        self.summary.setText(
            f"{unreadable_text(count)}. They are skipped by search and duplicate finding; "
            "fix or replace them and rescan." if count else "Every file could be read.")
        items = self.items()
        if items:
            self.tree.setCurrentItem(items[0])
        self._selection_changed()

    def items(self) -> list[QTreeWidgetItem]:
        """The rows in the order shown."""
        found = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item for item in found if item is not None]

    def rows(self) -> list[tuple[Path, str]]:
        """(path, reason) in the order shown."""
        return [(item.data(PATH_COLUMN, _PATH_DATA), item.text(REASON_COLUMN))
                for item in self.items()]

    def selected_path(self) -> Path | None:
        items = self.tree.selectedItems()
        return items[0].data(PATH_COLUMN, _PATH_DATA) if items else None

    def open_folder(self) -> bool:
        path = self.selected_path()
        return open_containing_folder(path) if path is not None else False

    def _selection_changed(self) -> None:
        self.open_button.setEnabled(self.selected_path() is not None)
