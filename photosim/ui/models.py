"""Qt item models over the library's records, with named roles.

Views never touch the catalog: they read these models, and the models are filled with results
that the task runner brought back from the core.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractProxyModel,
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QIcon

from photosim.core.types import DuplicateGroup, Match, Photo
from photosim.ui.format import at_time, human_size
from photosim.ui.listing import (
    FilterColumns,
    LazyPhotos,
    PhotoListing,
    path_keys,
    reordered,
    sort_order,
)
from photosim.ui.thumbnails import ThumbnailCache

Index = QModelIndex | QPersistentModelIndex

PhotoRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
SizeRole = Qt.ItemDataRole.UserRole + 4
DateRole = Qt.ItemDataRole.UserRole + 5
NameRole = Qt.ItemDataRole.UserRole + 6
GroupRole = Qt.ItemDataRole.UserRole + 7
ReclaimRole = Qt.ItemDataRole.UserRole + 8
CountRole = Qt.ItemDataRole.UserRole + 9
ClusterRole = Qt.ItemDataRole.UserRole + 10
KeeperRole = Qt.ItemDataRole.UserRole + 11
TimeRole = Qt.ItemDataRole.UserRole + 12  # a video search hit: the time of its frame (s)
DurationRole = Qt.ItemDataRole.UserRole + 13  # a video: its length (s), once known

ROLE_NAMES = {PhotoRole: b"photo", PathRole: b"path", ScoreRole: b"score", SizeRole: b"size",
              DateRole: b"date", NameRole: b"name", GroupRole: b"group", ReclaimRole: b"reclaim",
              CountRole: b"count", ClusterRole: b"cluster", KeeperRole: b"keeper",
              TimeRole: b"time", DurationRole: b"duration"}


class PhotoListModel(QAbstractListModel):
    """Photos (optionally with a similarity score) with lazily loaded thumbnails."""

    def __init__(self, thumbnails: ThumbnailCache | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._photos: MutableSequence[Photo] = []  # the library's: a LazyPhotos
        self._scores: list[float | None] = []
        self._times: dict[Path, float] = {}  # videos found at a time (search results)
        self._row_map: dict[str, int] | None = {}  # path → row; None: rebuilt when asked
        self._generation = 0  # counts changes, so a listing made from a snapshot can tell
        self._sorted_by = ("name", False)
        # The filter columns of the rows, and the generation they were made for: every change
        # the model does not carry over to them (a sort, a removal) leaves them to be remade.
        self._columns: tuple[int, FilterColumns] | None = None
        self._thumbnails = thumbnails
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnails_ready)

    # -- filling -------------------------------------------------------------------------
    def set_photos(self, photos: Sequence[Photo]) -> None:
        self._times = {}
        self._replace(list(photos), [None] * len(photos))

    def set_matches(self, matches: Sequence[Match]) -> None:
        self._times = {m.photo.path: m.time for m in matches if m.time is not None}
        self._replace([m.photo for m in matches], [m.score for m in matches])

    def _replace(self, photos: MutableSequence[Photo], scores: list[float | None],
                 rows: dict[str, int] | None = None,
                 columns: FilterColumns | None = None) -> None:
        self.beginResetModel()
        self._photos, self._scores = photos, scores
        self._row_map = rows
        self._changed()
        self._columns = (self._generation, columns) if columns is not None else None
        self.endResetModel()

    def _changed(self) -> None:
        self._generation += 1

    def filter_columns(self) -> FilterColumns:
        """Every row's lower-case name and folder, for filtering in bulk: from the listing,
        carried through sorts and removals, remade (30 ms at 100k) after other changes."""
        if self._columns is None or self._columns[0] != self._generation:
            paths = [self.path_text(row) for row in range(len(self._photos))]
            self._columns = (self._generation, FilterColumns.of_paths(paths))
        return self._columns[1]

    def _carry_columns(self, change: Callable[[FilterColumns], FilterColumns]) -> None:
        """After ``_changed``: bring columns that were current along with the rows."""
        if self._columns is not None and self._columns[0] == self._generation - 1:
            self._columns = (self._generation, change(self._columns[1]))

    @property
    def _rows(self) -> dict[str, int]:
        if self._row_map is None:
            self._row_map = path_keys(self._photos)
        return self._row_map

    def snapshot(self) -> tuple[int, list[Any]]:
        """(generation, rows) for ``prepare_listing`` on a worker thread to compare with."""
        rows = getattr(self._photos, "rows", None)
        return self._generation, rows() if rows is not None else []

    def show_listing(self, listing: PhotoListing) -> None:
        """Show the library's photos: at once when the model is empty, not at all when they
        did not change, else row by row (scroll position and selection survive), sorted as
        the model is."""
        if not self._photos:
            self._replace(listing.photos, [None] * len(listing.photos), listing.rows,
                          listing.columns)
            self._sorted_by = (listing.sort_key, listing.descending)
        elif listing.unchanged_since == self._generation:
            return
        elif isinstance(self._photos, LazyPhotos):
            self._update_rows(self._photos, listing)
            self.sort_by(*self._sorted_by)
        else:
            self.update_photos(listing.photos)
            self.sort_by(*self._sorted_by)

    def _update_rows(self, photos: LazyPhotos, listing: PhotoListing) -> None:
        """``update_photos`` on catalog rows: compares rows, makes no Photo (at 100k photos
        making them all took seconds of the GUI thread on every refresh that changed)."""
        wanted = listing.rows
        gone = [row for row in range(len(photos)) if photos.path_key(row) not in wanted]
        self._remove_rows(gone)
        changed = []
        for row in range(len(photos)):
            new = listing.photos.row(wanted[photos.path_key(row)])
            if new is not None and new != photos.row(row):
                photos.set_row(row, new)
                changed.append(row)
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first), self.index(last))
        shown = self._rows
        added = [r for key, i in wanted.items() if key not in shown
                 and (r := listing.photos.row(i)) is not None]
        first = len(photos)
        if added:
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            photos.append_rows(added)
            self._scores += [None] * len(added)
            self._row_map = None
            self._changed()
            self._carry_columns(lambda columns: columns.appended(
                [photos.path_key(row) for row in range(first, len(photos))]))
            self.endInsertRows()
        self._changed()
        self._carry_columns(lambda columns: columns)  # changed rows keep their paths

    def _remove_rows(self, rows: list[int]) -> None:
        """Remove rows (ascending), a contiguous run at a time from the end."""
        for first, last in reversed(_runs(rows)):
            self._remove_run(first, last)

    def _remove_run(self, first: int, last: int) -> None:
        self.beginRemoveRows(QModelIndex(), first, last)
        del self._photos[first:last + 1], self._scores[first:last + 1]
        self._row_map = None
        self._changed()
        self._carry_columns(lambda columns: columns.without(first, last))
        self.endRemoveRows()

    def update_photos(self, photos: Sequence[Photo]) -> None:
        """Bring the rows in line with ``photos`` without a reset (scroll position and
        selection survive): drop the gone, refresh the changed, append the new."""
        if not self._photos:
            self.set_photos(photos)
            return
        wanted = {str(p.path): p for p in photos}
        self.remove_paths([p.path for p in self._photos if str(p.path) not in wanted])
        for row, old in enumerate(self._photos):
            if wanted[str(old.path)] != old:
                self._photos[row] = wanted[str(old.path)]
                self._changed()
                self.dataChanged.emit(self.index(row), self.index(row))
        added = [p for p in photos if str(p.path) not in self._rows]
        if added:
            first = len(self._photos)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._photos += added
            self._scores += [None] * len(added)
            self._rows.update({str(p.path): first + i for i, p in enumerate(added)})
            self._changed()
            self.endInsertRows()

    def remove_paths(self, paths: Sequence[Path]) -> None:
        keys = [str(p) for p in paths]
        rows = sorted(self._rows[k] for k in keys if k in self._rows)
        for first, last in reversed(_runs(rows)):
            self._remove_run(first, last)

    def photos(self) -> list[Photo]:
        return list(self._photos)

    def sort_by(self, key: str, descending: bool = False) -> None:
        """Sort in Python (one key per row, read off the catalog row where there is one)
        rather than through a proxy that would call ``data()`` for every comparison."""
        self._sorted_by = (key, descending)
        self.layoutAboutToBeChanged.emit()
        order = sort_order(self._photos, key, descending)
        self._photos = reordered(self._photos, order)
        self._scores = [self._scores[i] for i in order]
        self._row_map = None
        self._changed()
        self._carry_columns(lambda columns: columns.reordered(order))
        persistent = self.persistentIndexList()
        if persistent:
            new_row = {old: new for new, old in enumerate(order)}
            for index in persistent:
                self.changePersistentIndex(index, self.index(new_row[index.row()]))
        self.layoutChanged.emit()

    def photo_at(self, row: int) -> Photo:
        return self._photos[row]

    def path_text(self, row: int) -> str:
        """The path of a row as a string, without making its Photo."""
        photos = self._photos
        return photos.path_key(row) if isinstance(photos, LazyPhotos) else str(photos[row].path)

    def row_of(self, path: Path) -> int | None:
        return self._rows.get(str(path))

    # -- Qt API --------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._photos)

    def roleNames(self) -> dict[int, QByteArray]:
        return _role_names(super().roleNames())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._photos):
            return None
        photo, score = self._photos[index.row()], self._scores[index.row()]
        time = self._times.get(photo.path)
        if role == Qt.ItemDataRole.DisplayRole:
            name = at_time(photo.path.name, time)
            return name if score is None else f"{score:.0%}  {name}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.pixmap(photo, time) if self._thumbnails else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(photo, score)
        if role == TimeRole:
            return time
        if role == DurationRole:
            return self._thumbnails.duration(photo.path) if self._thumbnails else None
        return _photo_role(photo, score, role)

    def _thumbnails_ready(self, paths: list[Path]) -> None:
        """dataChanged for the rows that got a thumbnail, one signal per contiguous run."""
        keys = [str(p) for p in paths]
        rows = sorted({self._rows[k] for k in keys if k in self._rows})
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first), self.index(last),
                                  [Qt.ItemDataRole.DecorationRole])


def _role_names(base: dict[int, QByteArray]) -> dict[int, QByteArray]:
    return {**base, **{role: QByteArray(name) for role, name in ROLE_NAMES.items()}}


def _photo_role(photo: Photo, score: float | None, role: int) -> Any:
    values = {
        PhotoRole: photo,
        PathRole: photo.path,
        ScoreRole: score,
        SizeRole: photo.size,
        DateRole: photo.date_taken or "",
        NameRole: photo.path.name.lower(),
    }
    return values.get(role)


def _tooltip(photo: Photo, score: float | None) -> str:
    lines = [str(photo.path)]
    if score is not None:
        lines.append(f"Similarity {score:.1%}")
    if photo.width and photo.height:
        lines.append(f"{photo.width} × {photo.height} {photo.format or ''}".strip())
    lines.append(human_size(photo.size))
    if photo.date_taken:
        lines.append(f"Taken {photo.date_taken}")
    if photo.error:
        lines.append(f"Problem: {photo.error}")
    return "\n".join(lines)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class PhotoFilterProxy(QAbstractProxyModel):
    """The library grid's rows: the photos of one folder (and below) whose file name contains
    a text, in the source's order (the source model sorts; this only filters).

    QSortFilterProxyModel asks ``filterAcceptsRow`` once per row, a Python call each: 140 ms
    per keystroke at 100k photos. Here the rows shown are worked out in bulk over the source's
    ``filter_columns`` (about a millisecond) and kept as an ascending array of source rows;
    any change of the rows is passed on as a layout change, with the persistent indexes (the
    selection, the current photo) carried over to where their photos now are.
    """

    filtered = Signal()  # the rows shown follow a new folder or text

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._folder: Path | None = None
        self._text = ""
        self._shown: NDArray[np.intp] | None = None  # source rows shown, ascending; None: all
        self._held: list[tuple[QModelIndex, QPersistentModelIndex]] = []
        self._connections: list[Any] = []

    # -- the filter ------------------------------------------------------------------------
    def set_sort_key(self, key: str, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting happens in the source model (fast); the proxy keeps its order."""
        source = self.sourceModel()
        if isinstance(source, PhotoListModel):
            source.sort_by(key, descending=order == Qt.SortOrder.DescendingOrder)

    def set_folder(self, folder: Path | None) -> None:
        if folder != self._folder:
            self._folder = folder
            self._refilter()

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._text:
            self._text = text
            self._refilter()

    def filter_text(self) -> str:
        """The name filter applied now (lower case)."""
        return self._text

    def _refilter(self) -> None:
        self._begin_change()
        self._end_change()
        self.filtered.emit()

    def _matching(self) -> NDArray[np.intp] | None:
        source = self.sourceModel()
        if (self._folder is None and not self._text) or not isinstance(source, PhotoListModel):
            return None
        folder = None if self._folder is None else str(self._folder)
        return source.filter_columns().matching(self._text, folder)

    # -- following the source --------------------------------------------------------------
    def setSourceModel(self, source: Any) -> None:
        for connection in self._connections:
            QAbstractProxyModel.disconnect(connection)
        self.beginResetModel()
        super().setSourceModel(source)
        self._connections = [
            source.dataChanged.connect(self._source_data_changed),
            source.modelAboutToBeReset.connect(self.beginResetModel),
            source.modelReset.connect(self._source_reset),
            *(signal.connect(self._begin_change) for signal in (
                source.layoutAboutToBeChanged, source.rowsAboutToBeInserted,
                source.rowsAboutToBeRemoved, source.rowsAboutToBeMoved)),
            *(signal.connect(self._end_change) for signal in (
                source.layoutChanged, source.rowsInserted, source.rowsRemoved,
                source.rowsMoved)),
        ]
        self._shown = self._matching()
        self.endResetModel()

    def _source_reset(self) -> None:
        self._shown = self._matching()
        self.endResetModel()

    def _begin_change(self, *_: Any) -> None:
        """Before the rows change: remember, for each persistent index, its source row."""
        self.layoutAboutToBeChanged.emit()
        self._held = [(index, QPersistentModelIndex(self.mapToSource(index)))
                      for index in self.persistentIndexList()]

    def _end_change(self, *_: Any) -> None:
        self._shown = self._matching()
        held, self._held = self._held, []
        if held:
            self.changePersistentIndexList(
                [index for index, _ in held],
                [self.mapFromSource(self.sourceModel().index(source.row(), 0))
                 if source.isValid() else QModelIndex() for _, source in held])
        self.layoutChanged.emit()

    def _source_data_changed(self, first: QModelIndex, last: QModelIndex,
                             roles: Sequence[int] = ()) -> None:
        top, bottom = self._proxy_range(first.row(), last.row())
        if top <= bottom:
            self.dataChanged.emit(self.index(top, 0), self.index(bottom, 0), list(roles))

    def _proxy_range(self, first: int, last: int) -> tuple[int, int]:
        """The proxy rows of the shown source rows from ``first`` to ``last``: the shown
        rows keep the source's order, so they are a contiguous run."""
        if self._shown is None:
            return first, last
        return (int(np.searchsorted(self._shown, first)),
                int(np.searchsorted(self._shown, last, side="right")) - 1)

    # -- Qt API ----------------------------------------------------------------------------
    def mapToSource(self, proxy: Index) -> QModelIndex:
        source = self.sourceModel()
        if not proxy.isValid() or source is None:
            return QModelIndex()
        row = proxy.row() if self._shown is None else int(self._shown[proxy.row()])
        return source.index(row, 0)

    def mapFromSource(self, source: Index) -> QModelIndex:
        if not source.isValid():
            return QModelIndex()
        top, bottom = self._proxy_range(source.row(), source.row())
        return self.index(top, 0) if top == bottom else QModelIndex()

    def index(self, row: int, column: int = 0,
              parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() or column != 0 or not 0 <= row < self.rowCount():
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, child: Index | None = None) -> Any:
        """A list has no parents; without an index, the QObject parent."""
        return super().parent() if child is None else QModelIndex()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        if self._shown is not None:
            return len(self._shown)
        source = self.sourceModel()
        return source.rowCount() if source is not None else 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 1

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self.rowCount() > 0

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        source = self.sourceModel()
        return source.data(self.mapToSource(index), role) if source is not None else None


class DuplicateGroupModel(QAbstractListModel):
    """One row per duplicate group: its size, kind, and the space that resolving it frees."""

    def __init__(self, thumbnails: ThumbnailCache | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._groups: list[DuplicateGroup] = []
        self._thumbnails = thumbnails
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnails_ready)

    def set_groups(self, groups: Sequence[DuplicateGroup]) -> None:
        self.beginResetModel()
        self._groups = list(groups)
        self.endResetModel()

    def groups(self) -> list[DuplicateGroup]:
        return list(self._groups)

    def group_at(self, row: int) -> DuplicateGroup:
        return self._groups[row]

    def remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._groups[row]
        self.endRemoveRows()

    def reclaimable(self) -> int:
        return sum(g.reclaimable_bytes for g in self._groups)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._groups)

    def roleNames(self) -> dict[int, QByteArray]:
        return _role_names(super().roleNames())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._groups):
            return None
        group = self._groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"{len(group.members)} × {group.keeper.path.name}\n"
                    f"{SHORT_KIND_LABELS.get(group.kind, group.kind)} · "
                    f"frees {human_size(group.reclaimable_bytes)}")
        if role == Qt.ItemDataRole.DecorationRole:
            return QIcon(self._thumbnails.pixmap(group.keeper)) if self._thumbnails else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(str(p.path) for p in group.members)
        roles = {GroupRole: group, ReclaimRole: group.reclaimable_bytes,
                 CountRole: len(group.members), KeeperRole: group.keeper}
        return roles.get(role)

    def _thumbnails_ready(self, paths: list[Path]) -> None:
        wanted = set(paths)
        rows = [r for r, g in enumerate(self._groups) if g.keeper.path in wanted]
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first), self.index(last),
                                  [Qt.ItemDataRole.DecorationRole])


SHORT_KIND_LABELS = {"exact": "Identical", "same": "Same picture", "edited": "Edited",
                     "similar": "Similar shots"}
KIND_LABELS = {
    "exact": "Identical files",
    "same": "Same picture (resized / re-encoded)",
    "edited": "Edited or cropped",
    "similar": "Similar shots",
}
