"""Errors sorted by who is at fault.

``PhotosimError`` and its subclasses are *known* failures: bad input, a missing model, a full
disk. Their message is written for the user and is shown as is. Anything else that escapes the
core is a bug and deserves a traceback.
"""

from __future__ import annotations


class PhotosimError(Exception):
    """A failure the user can understand and act on; ``str(error)`` is the message."""


class DecodeError(PhotosimError):
    """An image file could not be read; the message says why in plain words."""


class ModelError(PhotosimError):
    """A model could not be obtained, verified, or run."""


class ModelNotAvailableError(ModelError):
    """No model file is present (e.g. offline first run); visual search is unavailable."""


class ModelIntegrityError(ModelError):
    """A model file does not match its recorded size or checksum and was refused."""


class DownloadError(ModelError):
    """A model download failed; the message names the URL and what to do next."""


class ProviderError(ModelError):
    """An execution provider (CUDA, DirectML, ...) could not be used."""


class CatalogError(PhotosimError):
    """The catalog database could not be opened or written."""


class DamagedCatalogError(CatalogError):
    """SQLite finds the catalog damaged: ``Library.set_aside_damaged_catalog`` recovers.
    ``summary`` says what happened without the steps (for a dialog that offers them)."""

    def __init__(self, message: str, summary: str) -> None:
        super().__init__(message)
        self.summary = summary


class LibraryLockedError(PhotosimError):
    """Another photosim instance holds this data directory."""


class TrashError(PhotosimError):
    """A file could not be moved to the trash; nothing was deleted."""


class FileChangedError(PhotosimError):
    """A file changed on disk since it was shown, so the requested action was refused."""


class ProtectedFileError(PhotosimError):
    """A file lives in a reference (protected) folder and may not be deleted."""


class NotInLibraryError(PhotosimError):
    """The path is not part of the indexed library."""
