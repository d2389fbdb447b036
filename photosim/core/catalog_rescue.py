"""The rescue of a catalog too damaged to open: its files (and the vector index built from
it) are set aside in ``<data>/damaged-<time>/``, kept, never deleted, and a new catalog keeps
the folders a read of a copy still finds. ``Library.set_aside_damaged_catalog`` does the same
for an open library."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from photosim.core.catalog import Catalog, Folder
from photosim.core.catalog.pathcodec import from_db
from photosim.core.errors import CatalogError
from photosim.core.lock import WriterLock
from photosim.core.paths import LibraryPaths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogSetAside:
    """What the rebuild of a catalog too damaged to open did: where its files went, and the
    folders the new catalog kept. ``folders_read`` is False when the old folder list could not
    be read at all: the user adds the folders again."""

    aside: Path
    folders: list[Path]
    folders_read: bool


def set_aside_damaged_catalog(data_dir: Path, holder: str = "photosim") -> CatalogSetAside:
    """The recovery for a catalog that ``Library.open`` cannot open (``DamagedCatalogError``
    at start, e.g. a damaged header), without a Library: as ``Library.set_aside_damaged_catalog``
    does, its files and the vector index move to ``<data>/damaged-<time>/`` (kept, not
    deleted) and a new catalog keeps the folders that a read of a copy still finds. An intact
    catalog is refused: a rebuild would only leave its decisions behind."""
    paths = LibraryPaths(data_dir)
    if not paths.catalog.is_file():
        raise CatalogError(f"There is no catalog in {paths.root} to rebuild.")
    with WriterLock(paths.lock, holder):
        intact, folders = _read_a_copy(paths.catalog)
        if intact:
            raise CatalogError(f"The catalog {paths.catalog} is not damaged (SQLite's check "
                               "finds nothing wrong): there is nothing to rebuild.")
        try:
            aside = move_catalog_aside(paths)
        except OSError as exc:
            raise CatalogError(f"The damaged catalog could not be moved aside in {paths.root}: "
                               f"{exc.strerror or exc}. Nothing was deleted.") from exc
        paths.ensure()
        catalog = Catalog(paths.catalog)
        try:
            for folder in folders or []:
                catalog.add_folder(folder.path, folder.reference)
        finally:
            catalog.close()
    log.warning("damaged catalog moved to %s; %s folder(s) kept", aside,
                len(folders) if folders is not None else "no")
    return CatalogSetAside(aside, [f.path for f in folders or []], folders is not None)


def _read_a_copy(catalog: Path) -> tuple[bool, list[Folder] | None]:
    """SQLite's quick check and the folder list (None: unreadable) of a copy of ``catalog``
    and its log: the damaged files stay byte for byte as they were, for a restore by hand."""
    with tempfile.TemporaryDirectory(prefix=".salvage-", dir=catalog.parent) as temp:
        for source in (catalog, catalog.with_name(catalog.name + "-wal")):
            if source.exists():
                shutil.copyfile(source, Path(temp) / source.name)
        conn = sqlite3.connect(Path(temp) / catalog.name)
        try:
            return _quick_check_passes(conn), _salvaged_folders(conn)
        finally:
            conn.close()


def _quick_check_passes(conn: sqlite3.Connection) -> bool:
    try:
        return [tuple(r) for r in conn.execute("PRAGMA quick_check(1)")] == [("ok",)]
    except sqlite3.DatabaseError:
        return False


def _salvaged_folders(conn: sqlite3.Connection) -> list[Folder] | None:
    try:
        rows = conn.execute("SELECT path, reference FROM folders").fetchall()
    except sqlite3.DatabaseError as exc:
        log.warning("the damaged catalog's folders could not be read: %s", exc)
        return None
    return [Folder(from_db(path), bool(reference), True) for path, reference in rows
            if isinstance(path, (str, bytes)) and path]


def move_catalog_aside(paths: LibraryPaths) -> Path:
    """Move the catalog's files and the vector index (built from it) into a new
    ``damaged-<time>`` folder of the data folder, and return that folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = paths.root / f"damaged-{stamp}"
    for again in itertools.count(2):  # two rebuilds in one second: never mix their files
        try:
            aside.mkdir(mode=0o700)
            break
        except FileExistsError:
            aside = paths.root / f"damaged-{stamp}-{again}"
    catalog = paths.catalog
    for path in (catalog, *(catalog.with_name(catalog.name + s) for s in ("-wal", "-shm")),
                 paths.index_dir):
        if path.exists():
            os.replace(path, aside / path.name)
    return aside
