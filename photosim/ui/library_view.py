"""The library: a folder tree on the left, a sortable, filterable thumbnail grid on the right.

The search box works in two modes: "File name" filters the grid as you type; "Photo shows"
looks for what is in the pictures ("dog", "castle", "beach") when Enter is pressed, with
completions from the words the model knows, and shows the results in the Similar tab.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photosim.core.library import Library
from photosim.ui.grid import PhotoGrid
from photosim.ui.listing import PhotoListing
from photosim.ui.models import PhotoFilterProxy, PhotoListModel
from photosim.ui.thumbnails import ThumbnailCache

FolderRole = Qt.ItemDataRole.UserRole + 50
EMPTY_LIBRARY = ("No photos yet.\n\nAdd a folder with “Add folder…” in the toolbar, "
                 "or drop a folder onto this window.")
NAME_MODE, WORD_MODE = 0, 1
# The name filter follows the text once typing pauses this long: each key of a word typed at
# speed does not filter (and repaint) the grid again.
FILTER_DEBOUNCE_MS = 150
SEARCH_MODES = [("File name", "Filter by file name (as you type)"),
                ("Photo shows", "What is in the photo, e.g. dog, castle, beach — press Enter")]
NO_WORD_SEARCH = ("Searching by what photos show needs a model with an ImageNet classifier: "
                  "choose one in Settings → Models.")
SORTS = [("Name", "name", Qt.SortOrder.AscendingOrder),
         ("Date taken (newest first)", "date", Qt.SortOrder.DescendingOrder),
         ("Date taken (oldest first)", "date", Qt.SortOrder.AscendingOrder),
         ("Size (largest first)", "size", Qt.SortOrder.DescendingOrder)]


class LibraryView(QWidget):
    add_folder_requested = Signal()
    word_search_requested = Signal(str)

    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int = 160,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PhotoListModel(thumbnails, self)
        self.proxy = PhotoFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.grid = PhotoGrid(thumb_size, EMPTY_LIBRARY)
        self.grid.setModel(self.proxy)
        self.folders = QTreeWidget()
        self.folders.setHeaderHidden(True)
        self.folders.setMinimumWidth(180)
        self.folders.currentItemChanged.connect(self._folder_chosen)
        self.search_mode = QComboBox()
        for label, _ in SEARCH_MODES:
            self.search_mode.addItem(label)
        self.search_mode.setToolTip("Search by file name, or by what the photos show")
        self.filter = QLineEdit()
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._text_changed)
        self._filter_pause = QTimer(self, singleShot=True, interval=FILTER_DEBOUNCE_MS)
        self._filter_pause.timeout.connect(self.apply_name_filter)
        self.filter.returnPressed.connect(self._enter_pressed)
        self.completer = QCompleter(QStringListModel(self), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.activated.connect(self.word_search_requested.emit)
        self.search_mode.currentIndexChanged.connect(self._mode_chosen)
        self._mode_chosen(NAME_MODE)
        self.sort = QComboBox()
        for label, _, _ in SORTS:
            self.sort.addItem(label)
        self.sort.currentIndexChanged.connect(self._sort_chosen)
        self.count_label = QLabel()
        self._tree_shape: tuple[object, ...] | None = None  # what the folder tree shows
        self._build_layout()

    def set_word_search_available(self, available: bool) -> None:
        """Grey out "Photo shows" when the library's model has no classifier (or no model
        is in use), saying why; leave that mode if it was chosen."""
        item = self._word_mode_item()
        if item is not None:
            item.setEnabled(available)
            item.setToolTip("" if available else NO_WORD_SEARCH)
        if not available and self.search_mode.currentIndex() == WORD_MODE:
            self.search_mode.setCurrentIndex(NAME_MODE)

    def word_search_available(self) -> bool:
        item = self._word_mode_item()
        return item is None or item.isEnabled()

    def _word_mode_item(self) -> QStandardItem | None:
        model = self.search_mode.model()
        return model.item(WORD_MODE) if isinstance(model, QStandardItemModel) else None

    def _build_layout(self) -> None:
        add = QToolButton()
        add.setText("Add folder…")
        add.clicked.connect(self.add_folder_requested)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.folders)
        side_layout.addWidget(add)
        bar = QHBoxLayout()
        bar.addWidget(self.search_mode)
        bar.addWidget(self.filter, 2)
        bar.addWidget(QLabel("Sort:"))
        bar.addWidget(self.sort)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.addLayout(bar)
        main_layout.addWidget(self.grid)
        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

    # -- filling ---------------------------------------------------------------------------
    def show_listing(self, listing: PhotoListing, folders: Sequence[Path],
                     reference: Sequence[Path] = ()) -> None:
        """Show photos prepared by ``prepare_listing`` (on a worker thread, ideally)."""
        self.model.show_listing(listing)
        if (listing.sort_key, listing.descending) != self.sort_order():
            self._sort_chosen(self.sort.currentIndex())  # the choice changed meanwhile
        self._fill_folders(listing.parents, folders, set(reference))
        self._update_count()

    def sort_order(self) -> tuple[str, bool]:
        _, key, order = SORTS[max(self.sort.currentIndex(), 0)]
        return key, order == Qt.SortOrder.DescendingOrder

    def remove_paths(self, paths: Sequence[Path]) -> None:
        self.model.remove_paths(paths)
        self._update_count()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        self.count_label.setText(f"{total:,} photo" + ("" if total == 1 else "s"))

    def _fill_folders(self, parents: frozenset[Path], roots: Sequence[Path],
                      reference: set[Path]) -> None:
        shape = (parents, tuple(sorted(roots)), frozenset(reference))
        if shape == self._tree_shape:
            return  # rebuilding would also lose what the user expanded
        self._tree_shape = shape
        current = self.current_folder()
        self.folders.blockSignals(True)
        self.folders.clear()
        everything = QTreeWidgetItem(self.folders, ["All photos"])
        everything.setData(0, FolderRole, None)
        for root in sorted(roots):
            label = f"{root.name or root}" + ("  (reference)" if root in reference else "")
            item = QTreeWidgetItem(self.folders, [label])
            item.setData(0, FolderRole, root)
            item.setToolTip(0, str(root) + ("\nReference folder: photosim never deletes from "
                                            "it." if root in reference else ""))
            self._add_subfolders(item, root, parents)
        self.folders.blockSignals(False)
        self._select_folder(current)

    def _add_subfolders(self, item: QTreeWidgetItem, root: Path,
                        parents: frozenset[Path]) -> None:
        children = sorted({_child_towards(root, p) for p in parents
                           if p != root and p.is_relative_to(root)})
        for child in children:
            sub = QTreeWidgetItem(item, [child.name])
            sub.setData(0, FolderRole, child)
            sub.setToolTip(0, str(child))
            self._add_subfolders(sub, child, parents)

    def _select_folder(self, folder: Path | None) -> None:
        for item in _walk(self.folders.invisibleRootItem()):
            if item.data(0, FolderRole) == folder:
                self.folders.setCurrentItem(item)
                return
        first = self.folders.topLevelItem(0)
        if first is not None:
            self.folders.setCurrentItem(first)

    def current_folder(self) -> Path | None:
        item = self.folders.currentItem()
        return item.data(0, FolderRole) if item is not None else None

    # -- choices ---------------------------------------------------------------------------
    def set_search_mode(self, mode: int) -> None:
        self.search_mode.setCurrentIndex(mode)

    def _mode_chosen(self, mode: int) -> None:
        self.filter.setPlaceholderText(SEARCH_MODES[mode][1])
        self._filter_pause.stop()
        if mode == WORD_MODE:
            self.proxy.set_text("")  # the grid shows everything again; results go elsewhere
            self._load_words()
            self.filter.setCompleter(self.completer)
        else:
            self.filter.setCompleter(None)  # type: ignore[arg-type]  # Qt takes nullptr
            self.proxy.set_text(self.filter.text())

    def _load_words(self) -> None:
        words = self.completer.model()
        if isinstance(words, QStringListModel) and not words.rowCount():
            words.setStringList(Library.known_words())  # a small bundled list, read once

    def _text_changed(self, text: str) -> None:
        if self.search_mode.currentIndex() != NAME_MODE:
            return
        if text.strip():
            self._filter_pause.start()  # (re)started: filters once the typing pauses
        else:
            self.apply_name_filter()  # cleared: everything again at once

    def apply_name_filter(self) -> None:
        """Filter the grid by the text now (the pause after typing, Enter, a cleared box)."""
        self._filter_pause.stop()
        if self.search_mode.currentIndex() == NAME_MODE:
            self.proxy.set_text(self.filter.text())

    def _enter_pressed(self) -> None:
        text = self.filter.text().strip()
        popup = self.completer.popup()
        if popup is not None and popup.isVisible():
            return  # choosing a completion emits activated, which searches
        if self.search_mode.currentIndex() == NAME_MODE:
            self.apply_name_filter()
        elif text:
            self.word_search_requested.emit(text)

    def _folder_chosen(self, item: QTreeWidgetItem | None) -> None:
        self.proxy.set_folder(item.data(0, FolderRole) if item is not None else None)

    def _sort_chosen(self, row: int) -> None:
        _, key, order = SORTS[max(row, 0)]
        self.proxy.set_sort_key(key, order)

    def set_thumb_size(self, size: int) -> None:
        self.grid.set_thumb_size(size)


def _child_towards(root: Path, descendant: Path) -> Path:
    return root / descendant.relative_to(root).parts[0]


def _walk(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    found: list[QTreeWidgetItem] = []
    for i in range(item.childCount()):
        child = item.child(i)
        if child is not None:
            found += [child, *_walk(child)]
    return found
