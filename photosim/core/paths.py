"""Where photosim keeps its data: the platform's app-data directory, unless overridden."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "photosim"
DATA_DIR_ENV = "PHOTOSIM_DATA_DIR"
MODEL_DIR_ENV = "PHOTOSIM_MODEL_DIR"


def default_data_dir() -> Path:
    """The data directory: ``$PHOTOSIM_DATA_DIR`` if set, else the platform's user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_model_dir(data_dir: Path) -> Path:
    """Downloaded and prepared model files: ``$PHOTOSIM_MODEL_DIR`` or ``<data>/models``."""
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override).expanduser() if override else data_dir / "models"


class LibraryPaths:
    """The files inside one data directory, named in one place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def thumbnails(self) -> Path:
        return self.root / "thumbnails"

    @property
    def models(self) -> Path:
        return default_model_dir(self.root)

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def lock(self) -> Path:
        return self.root / "photosim.lock"

    def ensure(self) -> None:
        """Create the directory tree, private to the user; raising ``OSError`` if the
        location is unusable.

        The catalog names every photo and its EXIF, so the data folder is 0700 and the
        catalog and settings 0600 whatever the umask; folders and files made by an older
        version are tightened here, on every open."""
        self.root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        _restrict(self.root, PRIVATE_DIR)
        for folder in (self.index_dir, self.thumbnails, self.models):
            folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        self._create_private(self.catalog)  # SQLite gives -wal and -shm the catalog's mode
        for private in (self.catalog, self.settings, *self._catalog_companions()):
            if private.exists():
                _restrict(private, PRIVATE_FILE)

    def _catalog_companions(self) -> list[Path]:
        return [self.catalog.with_name(self.catalog.name + suffix)
                for suffix in ("-wal", "-shm", "-journal")]

    @staticmethod
    def _create_private(path: Path) -> None:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def _restrict(path: Path, mode: int) -> None:
    """Take group and other permissions away (a no-op on Windows, which has no such bits)."""
    if os.name == "nt":
        return
    current = path.stat().st_mode & 0o777
    if current & 0o077:
        path.chmod(current & mode)
