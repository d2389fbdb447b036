"""The library grid's photos at 100k-photo scale.

Making a ``Photo`` costs about ten microseconds, mostly its ``Path``: a second for 100k photos,
on the thread that happens to do it. So the library grid keeps the catalog's plain rows and
makes a ``Photo`` only for a row that is shown or asked for; and a worker thread sorts the
rows and indexes their paths (``prepare_listing``) so that filling the grid costs the GUI
thread nothing per photo. The name filter works the same way: over columns of every row's
lower-case file name and folder (``FilterColumns``), in bulk, never a Python call per row.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from photosim.core.types import (
    Photo,
    PhotoRow,
    photo_from_row,
    row_date_taken,
    row_path,
    row_size,
)

SORT_KEYS: dict[str, Callable[[Photo], Any]] = {
    "name": lambda p: p.path.name.lower(), "size": lambda p: p.size,
    "date": lambda p: p.date_taken or ""}
RECENT_LIMIT = 2000  # Photos kept made: a few screens' worth
ROW_SORT_KEYS: dict[str, Callable[[PhotoRow], Any]] = {  # the same keys, read off a row
    "name": lambda r: os.path.basename(row_path(r)).lower(), "size": row_size,
    "date": lambda r: row_date_taken(r) or ""}


class LazyPhotos(MutableSequence[Photo]):
    """Photos held as catalog rows; each becomes a ``Photo`` when asked for, and only the
    most recently asked stay made: kept, the 100k Photos of a scroll through the library
    made every full garbage collection walk them (pauses of 300 ms). Photos put in later
    (a refresh's changes) are held as they are."""

    def __init__(self, rows: Sequence[PhotoRow]) -> None:
        self._rows: list[PhotoRow | None] = list(rows)
        self._put: list[Photo | None] = [None] * len(self._rows)  # where a row is None
        self._recent: OrderedDict[int, Photo] = OrderedDict()  # row → made, newest last

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # negative indexes, and IndexError when out of range
        row = self._rows[i]
        if row is None:
            return self._put[i]
        made = self._recent.get(i)
        if made is None:
            made = self._recent[i] = photo_from_row(row)
            if len(self._recent) > RECENT_LIMIT:
                self._recent.popitem(last=False)
        return made

    def __setitem__(self, i: Any, photo: Any) -> None:
        self._put[i], self._rows[i] = photo, None
        self._recent.pop(range(len(self))[i], None)

    def __delitem__(self, i: Any) -> None:
        del self._put[i], self._rows[i]
        self._recent.clear()  # the rows after it moved

    def insert(self, i: int, photo: Photo) -> None:
        self._put.insert(i, photo)
        self._rows.insert(i, None)
        self._recent.clear()

    def row(self, i: int) -> PhotoRow | None:
        """The catalog row at ``i``; None where a Photo was put in."""
        return self._rows[i]

    def set_row(self, i: int, row: PhotoRow) -> None:
        self._rows[i], self._put[i] = row, None
        self._recent.pop(i, None)

    def append_rows(self, rows: Sequence[PhotoRow]) -> None:
        self._rows.extend(rows)
        self._put.extend([None] * len(rows))

    def made(self) -> int:
        """How many Photos made from rows are kept (for tests)."""
        return len(self._recent)

    def path_key(self, i: int) -> str:
        row = self._rows[i]
        return row_path(row) if row is not None else str(self[i].path)

    def sort_value(self, i: int, key: str) -> Any:
        row = self._rows[i]
        return ROW_SORT_KEYS[key](row) if row is not None else SORT_KEYS[key](self[i])

    def rows(self) -> list[PhotoRow | None]:
        """The rows, None where a photo was put in as a ``Photo`` (a shallow copy)."""
        return list(self._rows)

    def reordered(self, order: Sequence[int]) -> LazyPhotos:
        moved = LazyPhotos([])
        moved._rows = [self._rows[i] for i in order]
        moved._put = [self._put[i] for i in order]
        return moved


def path_keys(photos: Sequence[Photo]) -> dict[str, int]:
    """Path (as a string) → row, without making any Photo."""
    if isinstance(photos, LazyPhotos):
        return {photos.path_key(i): i for i in range(len(photos))}
    return {str(p.path): i for i, p in enumerate(photos)}


def sort_order(photos: Sequence[Photo], key: str, descending: bool) -> list[int]:
    """The rows in sorted order (stable), without making any Photo."""
    if isinstance(photos, LazyPhotos):
        values = [photos.sort_value(i, key) for i in range(len(photos))]
    else:
        values = [SORT_KEYS[key](p) for p in photos]
    return sorted(range(len(values)), key=values.__getitem__, reverse=descending)


def reordered(photos: MutableSequence[Photo], order: Sequence[int]) -> MutableSequence[Photo]:
    if isinstance(photos, LazyPhotos):
        return photos.reordered(order)
    return [photos[i] for i in order]


@dataclass(frozen=True)
class FilterColumns:
    """What the library grid filters on, a column per row: the file name in lower case and
    the folder holding it (an index into ``folders``). Matching a text or a folder is then a
    few numpy operations over the columns: about a millisecond at 100k photos, where a
    Python call per row took 140 ms."""

    names: NDArray[np.str_]
    folder_of: NDArray[np.int32]
    folders: tuple[str, ...]

    @classmethod
    def of_paths(cls, paths: Sequence[str]) -> FilterColumns:
        """From the rows' paths as strings (30 ms at 100k: on a worker where possible)."""
        return cls(np.array([], dtype=np.str_), np.array([], dtype=np.int32), ()).appended(paths)

    def __len__(self) -> int:
        return len(self.names)

    def appended(self, paths: Sequence[str]) -> FilterColumns:
        """These columns with rows for ``paths`` added at the end."""
        codes = {folder: code for code, folder in enumerate(self.folders)}
        names: list[str] = []
        folder_of: list[int] = []
        for path in paths:
            folder, _, name = path.rpartition(os.sep)
            names.append(name.lower())
            folder_of.append(codes.setdefault(folder, len(codes)))
        return FilterColumns(np.concatenate([self.names, np.array(names, dtype=np.str_)]),
                             np.concatenate([self.folder_of,
                                             np.array(folder_of, dtype=np.int32)]),
                             tuple(codes))

    def reordered(self, order: Sequence[int]) -> FilterColumns:
        rows = np.asarray(order, dtype=np.intp)
        return FilterColumns(self.names[rows], self.folder_of[rows], self.folders)

    def without(self, first: int, last: int) -> FilterColumns:
        """Rows ``first`` to ``last`` (inclusive) removed."""
        keep = np.r_[0:first, last + 1:len(self)]
        return FilterColumns(self.names[keep], self.folder_of[keep], self.folders)

    def matching(self, text: str, folder: str | None) -> NDArray[np.intp]:
        """The rows, ascending, whose name contains ``text`` (lower case; "" matches all) and
        that lie in ``folder`` or below it (None: anywhere)."""
        keep = np.ones(len(self), dtype=bool)
        if folder is not None:
            inside = np.array([_is_within(f, folder) for f in self.folders], dtype=bool)
            keep &= inside[self.folder_of]
        if text:
            keep &= np.strings.find(self.names, text) >= 0
        return np.flatnonzero(keep)


def _is_within(path: str, folder: str) -> bool:
    """``Path(path).is_relative_to(Path(folder))`` for absolute paths, on strings."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class PhotoListing:
    """The library's photos, sorted, with the row of each path and the folders that hold
    photos: what ``PhotoListModel.show_listing`` needs, made on a worker thread."""

    photos: LazyPhotos
    rows: dict[str, int]
    parents: frozenset[Path]
    sort_key: str
    descending: bool
    unchanged_since: int | None  # the model generation it equals, if it equals the model
    columns: FilterColumns | None = None  # of ``photos``, for the name and folder filters


def prepare_listing(rows: Sequence[PhotoRow], sort_key: str, descending: bool,
                    shown: tuple[int, list[PhotoRow | None]] = (-1, [])) -> PhotoListing:
    """Worker thread. ``shown`` is ``PhotoListModel.snapshot()``: when the sorted rows equal
    it, the model skips the update altogether (the common refresh: nothing changed)."""
    ordered = sorted(rows, key=ROW_SORT_KEYS[sort_key], reverse=descending)
    index = {row_path(row): i for i, row in enumerate(ordered)}
    parents = frozenset(Path(d) for d in {os.path.dirname(p) for p in index})
    generation, before = shown
    unchanged = before == ordered
    columns = None if unchanged else FilterColumns.of_paths([row_path(row) for row in ordered])
    return PhotoListing(LazyPhotos(ordered), index, parents, sort_key, descending,
                        generation if unchanged else None, columns)
