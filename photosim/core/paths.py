"""Where photosim keeps its data: the platform's app-data directory, unless overridden."""

from __future__ import annotations

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
        """Create the directory tree; raising ``OSError`` if the location is unusable."""
        for folder in (self.root, self.index_dir, self.thumbnails, self.models):
            folder.mkdir(parents=True, exist_ok=True)
