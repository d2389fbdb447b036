"""File paths in and out of SQLite without losing a byte.

POSIX file names are bytes; Python hands names that are not valid UTF-8 to us as ``str`` with
lone surrogates (``surrogateescape``), which ``sqlite3`` refuses to encode. A path that is valid
UTF-8 is stored as TEXT exactly as before; any other is stored as a BLOB of its raw bytes
(``os.fsencode``) in the same column. SQLite keeps the two storage classes apart, so equality,
uniqueness and LIKE prefixes still work, no migration is needed, and reading back gives the
very name the filesystem has.
"""

from __future__ import annotations

import os
from pathlib import Path

DbPath = str | bytes


def to_db(path: Path | str) -> DbPath:
    """The value to store or query for ``path``: TEXT when it can be, else its raw bytes."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def from_db(value: DbPath) -> Path:
    """A stored path back as the ``Path`` the filesystem knows (surrogate-escaped if need be)."""
    return Path(os.fsdecode(value))


def text_from_db(value: DbPath) -> str:
    return os.fsdecode(value)


def readable(path: Path | str) -> str:
    """``path`` fit for any text output: undecodable bytes shown as U+FFFD, never a crash."""
    return os.fsencode(str(path)).decode("utf-8", errors="replace")
