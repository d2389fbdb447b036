"""Qt item models over the library's records, with named roles.

Views never touch the catalog: they read these models, and the models are filled with results
that the task runner brought back from the core.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableSequence, Sequence
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QIcon

from photosim.core.types import DuplicateGroup, Match, Photo
from photosim.ui.format import human_size
from photosim.ui.listing import LazyPhotos, PhotoListing, path_keys, reordered, sort_order
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

ROLE_NAMES = {PhotoRole: b"photo", PathRole: b"path", ScoreRole: b"score", SizeRole: b"size",
              DateRole: b"date", NameRole: b"name", GroupRole: b"group", ReclaimRole: b"reclaim",
              CountRole: b"count", ClusterRole: b"cluster", KeeperRole: b"keeper"}


class PhotoListModel(QAbstractListModel):
    """Photos (optionally with a similarity score) with lazily loaded thumbnails."""

    def __init__(self, thumbnails: ThumbnailCache | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._photos: MutableSequence[Photo] = []  # the library's: a LazyPhotos
        self._scores: list[float | None] = []
        self._row_map: dict[str, int] | None = {}  # path → row; None: rebuilt when asked
        self._generation = 0  # counts changes, so a listing made from a snapshot can tell
        self._sorted_by = ("name", False)
        self._thumbnails = thumbnails
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnails_ready)

    # -- filling -------------------------------------------------------------------------
    def set_photos(self, photos: Sequence[Photo]) -> None:
        self._replace(list(photos), [None] * len(photos))

    def set_matches(self, matches: Sequence[Match]) -> None:
        self._replace([m.photo for m in matches], [m.score for m in matches])

    def _replace(self, photos: MutableSequence[Photo], scores: list[float | None],
                 rows: dict[str, int] | None = None) -> None:
        self.beginResetModel()
        self._photos, self._scores = photos, scores
        self._row_map = rows
        self._changed()
        self.endResetModel()

    def _changed(self) -> None:
        self._generation += 1

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
            self._replace(listing.photos, [None] * len(listing.photos), listing.rows)
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
        if added:
            first = len(photos)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            photos.append_rows(added)
            self._scores += [None] * len(added)
            self._row_map = None
            self.endInsertRows()
        self._changed()

    def _remove_rows(self, rows: list[int]) -> None:
        """Remove rows (ascending), a contiguous run at a time from the end."""
        for first, last in reversed(_runs(rows)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._photos[first:last + 1], self._scores[first:last + 1]
            self._row_map = None
            self._changed()
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
        rows = sorted((self._rows[k] for k in keys if k in self._rows), reverse=True)
        for row in rows:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._photos[row], self._scores[row]
            self._row_map = None
            self._changed()
            self.endRemoveRows()

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
        if role == Qt.ItemDataRole.DisplayRole:
            return photo.path.name if score is None else f"{score:.0%}  {photo.path.name}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.pixmap(photo) if self._thumbnails else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(photo, score)
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


class PhotoFilterProxy(QSortFilterProxyModel):
    """Sorts by name, date or size and keeps the photos of one folder (and below)."""

    SORT_KEYS: ClassVar[dict[str, int]] = {"name": NameRole, "date": DateRole, "size": SizeRole}

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._folder: Path | None = None
        self._text = ""
        self.setDynamicSortFilter(False)

    def set_sort_key(self, key: str, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting happens in the source model (fast); the proxy keeps its order."""
        source = self.sourceModel()
        if isinstance(source, PhotoListModel):
            source.sort_by(key, descending=order == Qt.SortOrder.DescendingOrder)

    def set_folder(self, folder: Path | None) -> None:
        if folder != self._folder:
            self._refilter(lambda: setattr(self, "_folder", folder))

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_text", text.strip().lower()))

    def _refilter(self, change: Callable[[], None]) -> None:
        """Qt 6.10+ wants begin/endFilterChange around the change; older Qt only has
        invalidateRowsFilter (deprecated since)."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - Qt < 6.10
            change()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        """Asked for every row on each reset: reads only the row's path, as a string, so
        that no Photo is made for the 100k rows nobody looks at."""
        if self._folder is None and not self._text:
            return True
        source = self.sourceModel()
        if not isinstance(source, PhotoListModel):
            return True
        path = source.path_text(row)
        if self._folder is not None and not _is_within(path, str(self._folder)):
            return False
        return not self._text or self._text in os.path.basename(path).lower()


def _is_within(path: str, folder: str) -> bool:
    """``Path(path).is_relative_to(Path(folder))`` for absolute paths, on strings."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


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

    def replace_row(self, row: int, group: DuplicateGroup) -> None:
        self._groups[row] = group
        self.dataChanged.emit(self.index(row), self.index(row))

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
                 CountRole: len(group.members), KeeperRole: group.keeper,
                 PathRole: group.keeper.path}
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
