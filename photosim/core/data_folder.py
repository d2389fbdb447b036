"""The data folder a library lives in, made ready for ``Library.open``: created when new,
and held with the writer lock by a writer."""

from __future__ import annotations

from photosim.core.catalog import Catalog
from photosim.core.errors import PhotosimError
from photosim.core.lock import WriterLock
from photosim.core.paths import LibraryPaths


def claim_data_folder(paths: LibraryPaths, read_only: bool, holder: str) -> WriterLock | None:
    """Make the data folder ready and, for a writer, take its lock (``LibraryLockedError``
    names the process that holds it; ``holder`` is how this one is named) and return it,
    for the caller to release. A reader takes no lock: None."""
    if not (read_only and _catalog_made(paths)):
        _create_data_folder(paths, read_only)
    if read_only:
        return None
    writer = WriterLock(paths.lock, holder)
    writer.acquire()
    return writer


def _catalog_made(paths: LibraryPaths) -> bool:
    """A catalog file with something in it. A writer that failed before its first write (a
    wrong model spec, say) leaves an empty file; a reader treats that as a library not made
    yet, not as a catalog from an older photosim."""
    try:
        return paths.catalog.stat().st_size > 0
    except FileNotFoundError:
        return False


def _create_data_folder(paths: LibraryPaths, read_only: bool) -> None:
    """The data folder and, for a reader of a library not made yet, an empty catalog (as
    any two processes may, at once: see ``Database._migrate``)."""
    try:
        paths.ensure()
    except OSError as exc:
        raise PhotosimError(f"Cannot use the data folder {paths.root}: {exc.strerror}") from exc
    if read_only:
        Catalog(paths.catalog).close()
