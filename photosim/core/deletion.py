"""What the facade checks before a photo goes to the trash, and the trash actions it records
(for `photosim undo` and the GUI's Undo).

A photo is moved only when it is still exactly what the user was shown: in the library, not
in a reference folder, not another name of a file that stays, and with the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from photosim.core import scanner
from photosim.core.catalog import ActionRecord, Catalog
from photosim.core.catalog.pathcodec import readable
from photosim.core.duplicates import policy
from photosim.core.errors import (
    FileChangedError,
    NotInLibraryError,
    PhotosimError,
    ProtectedFileError,
)
from photosim.core.types import Photo


@dataclass(frozen=True)
class TrashAction:
    id: int
    when: str
    paths: tuple[Path, ...]
    undone: bool


def trash_actions(catalog: Catalog) -> list[TrashAction]:
    """Every recorded trash action, newest first."""
    return [TrashAction(a.id, a.at, tuple(i.original_path for i in a.items), a.undone)
            for a in catalog.actions()]


def action_to_undo(catalog: Catalog, action_id: int | None) -> ActionRecord:
    """The trash action ``action_id`` (default: the latest) when it is not undone yet."""
    open_actions = [a for a in catalog.actions() if not a.undone]
    chosen = next((a for a in open_actions if action_id in (None, a.id)), None)
    if chosen is None:
        raise PhotosimError("There is nothing to undo.")
    return chosen


def check_deletable(catalog: Catalog, photo: Photo, reference_folders: Sequence[Path]) -> None:
    """Raise (``ProtectedFileError``, ``FileChangedError``, ``NotInLibraryError``) unless
    ``photo`` may go to the trash now."""
    if (ref := policy.protecting_folder(photo, reference_folders)) is not None:
        raise ProtectedFileError(f"{readable(photo.path)} is in the reference folder "
                                 f"{readable(ref)}; "
                                 "photosim never deletes from it.")
    try:
        st = photo.path.stat()
    except FileNotFoundError as exc:
        raise FileChangedError(f"{readable(photo.path)} is no longer there.") from exc
    current = catalog.photo_by_path(photo.path)
    if current is None:
        raise NotInLibraryError(f"{readable(photo.path)} is not in the library.")
    if (st.st_size, st.st_mtime_ns) != (current.size, current.mtime_ns) or \
            (photo.size, photo.mtime_ns) != (current.size, current.mtime_ns):
        raise FileChangedError(f"{readable(photo.path)} changed since it was shown; "
                               "it was left alone. Review it again.")
    _check_not_another_name(catalog, photo, st)
    _check_content(photo, current)


def _check_not_another_name(catalog: Catalog, photo: Photo, st: os.stat_result) -> None:
    """Trashing one name of a file takes every name with it: the "copy" would go too."""
    if not photo.content_hash:
        return
    for other in catalog.photos_by_hash(photo.content_hash):
        if other.path == photo.path:
            continue
        try:
            other_st = other.path.stat()
        except OSError:
            continue
        if (other_st.st_dev, other_st.st_ino) == (st.st_dev, st.st_ino):
            raise ProtectedFileError(
                f"{readable(photo.path)} and {readable(other.path)} are the same file "
                "(a link); trashing one would remove both. It was left alone.")


def _check_content(photo: Photo, current: Photo) -> None:
    """Size and mtime can be kept by an edit; the bytes cannot."""
    try:
        now = scanner.content_hash(photo.path)
    except OSError as exc:
        raise FileChangedError(f"{readable(photo.path)} cannot be read now "
                               f"({exc.strerror}); it was left alone.") from exc
    if now != current.content_hash or now != (photo.content_hash or now):
        raise FileChangedError(f"{readable(photo.path)}: its content changed since it was "
                               "shown (same size and date); it was left alone. "
                               "Review it again.")
