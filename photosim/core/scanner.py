"""Walk folders for photo files: each photo once, problems reported, never a crash or a loop.

The walk is iterative (deep trees cannot overflow the stack), follows directory symlinks but
remembers every folder it entered by ``(st_dev, st_ino)`` so a link back up the tree is not
followed twice, and skips hidden and system folders that hold previews rather than photos.
A folder it cannot read is reported through ``on_problem`` and the walk goes on.

Identity policy: a file is its ``(st_dev, st_ino)``, never its spelling. One walk over all
library folders yields each real file once (hard links included, first name in root order
wins). A symbolic link (to a folder or a file) whose real path lies inside a library folder is
not followed: the file is recorded under its real path, so a reference folder reached through
a link is still recognised as one and a file never pairs with itself as an "exact" duplicate.
Links that lead outside every library folder are followed as before.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from photosim.core import cancel
from photosim.core.cancel import CancelToken
from photosim.core.decode import SUPPORTED_SUFFIXES
from photosim.core.video import is_video

# Folders made by operating systems, NAS boxes and archivers; they hold caches and previews.
_SYSTEM_DIRS = frozenset(
    name.casefold()
    for name in (
        "@eaDir", "#recycle", "#snapshot", "$RECYCLE.BIN", "System Volume Information",
        "__MACOSX", "lost+found", "RECYCLER", "@Recycle", "@Recently-Snapshot",
    )
)
_SYSTEM_DIR_PREFIXES = (".trash-",)  # freedesktop per-user trash on removable drives

_HASH_CHUNK = 1 << 20

ProblemHandler = Callable[["ScanProblem"], None]
_Identity = tuple[int, int]


@dataclass(frozen=True)
class FileStat:
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    """A file or folder the walk could not look at, and why in plain words."""

    path: Path
    reason: str


def is_photo_path(path: Path) -> bool:
    """Whether the name says photo or video (case-insensitive suffix); the content is checked
    later. A video is indexed by its frames (photosim/core/video_index.py)."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES or is_video(path)


def walk_photos(
    roots: Sequence[Path],
    on_problem: ProblemHandler | None = None,
    cancel: CancelToken | None = None,
    library_folders: Sequence[Path] = (),
) -> Iterator[FileStat]:
    """Yield every photo under ``roots`` once, in a stable (name-sorted, depth-first) order.

    A root may also be a single photo file. Links into ``library_folders`` (and into
    ``roots``) are not followed. Raises ``Cancelled`` between folders once ``cancel`` is
    cancelled.
    """
    walk = PhotoWalk(on_problem or _ignore_problem, cancel, [*roots, *library_folders])
    for root in roots:
        yield from walk.root(Path(root))


def real_path(path: Path | str) -> str:
    """The path with every link resolved, as text (the other half of a file's identity)."""
    return os.path.realpath(path)


def is_within(real: str, folders: Sequence[str]) -> bool:
    """Whether the resolved path ``real`` is one of ``folders`` (resolved) or inside one."""
    return any(real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)
               for folder in folders)


# Files up to this size are kept in memory between hashing and decoding, one per decoding
# thread (at most four: ~128 MB beside pictures that may take ~720 MB each); a larger file is
# read again by the decoder, whose own reading then costs little beside its decoding.
KEEP_BYTES_UP_TO = 32 << 20


def content_hash(path: Path, cancel: CancelToken | None = None) -> str:
    """BLAKE2b-128 of the whole file, streamed in 1 MiB chunks.

    Raises OSError (FileNotFoundError, PermissionError, ...) when the file cannot be read;
    callers record it on the file like any other unreadable-file reason. Raises
    ``Cancelled`` between chunks once ``cancel`` is cancelled: a multi-gigabyte file must not
    hold a Ctrl-C up for the seconds its reading takes.
    """
    return _hash_file(path, cancel, keep_up_to=0)[0]


def content_hash_and_bytes(path: Path, cancel: CancelToken | None = None,
                           keep_up_to: int = KEEP_BYTES_UP_TO) -> tuple[str, bytes | None]:
    """:func:`content_hash`, and the file's bytes when there are at most ``keep_up_to`` of
    them: the indexer decodes those from memory instead of reading the file a second time."""
    return _hash_file(path, cancel, keep_up_to)


def _hash_file(path: Path, cancel: CancelToken | None, keep_up_to: int
               ) -> tuple[str, bytes | None]:
    digest = hashlib.blake2b(digest_size=16)
    kept: list[bytes] | None = [] if keep_up_to > 0 else None
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept.append(chunk)
                if size > keep_up_to:
                    kept = None  # too large to keep: only hashed
            _check_cancel(cancel)
    return digest.hexdigest(), (b"".join(kept) if kept is not None else None)


_check_cancel = cancel.check  # the parameter above shadows the module's name


def _ignore_problem(problem: ScanProblem) -> None:
    """The default: a caller that does not ask about problems does not hear about them."""


def _is_skipped_name(name: str) -> bool:
    folded = name.casefold()
    return (
        name.startswith(".")
        or folded in _SYSTEM_DIRS
        or folded.startswith(_SYSTEM_DIR_PREFIXES)
    )


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(error, FileNotFoundError):
        return "not found (deleted, or a broken link)"
    if error.strerror:
        return error.strerror.lower()
    return str(error)


class PhotoWalk:
    """One walk's memory: folders entered and files yielded, by filesystem identity.

    Reuse one instance for every root of a run so that a file reachable from two library
    folders is yielded once."""

    def __init__(self, on_problem: ProblemHandler, token: CancelToken | None,
                 library_folders: Sequence[Path] = ()) -> None:
        self._on_problem = on_problem
        self._token = token
        self._seen_dirs: set[_Identity] = set()
        self._seen_files: set[_Identity] = set()
        self._library = [real_path(folder) for folder in library_folders]

    def _leads_into_library(self, path: Path) -> bool:
        """A link whose target the walk of a library folder reaches by its real name."""
        return bool(self._library) and is_within(real_path(path), self._library)

    def root(self, root: Path) -> Iterator[FileStat]:
        try:
            st = os.stat(root)
        except OSError as error:
            self._problem(root, error)
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._tree(root, _identity(st))
        elif is_photo_path(root):
            yield from self._file(root, st)
        else:
            self._on_problem(ScanProblem(root, "not a folder or a photo file"))

    def _tree(self, top: Path, top_id: _Identity) -> Iterator[FileStat]:
        if top_id in self._seen_dirs:
            return
        self._seen_dirs.add(top_id)
        pending = [top]
        while pending:
            cancel.check(self._token)
            folder = pending.pop()
            subfolders: list[Path] = []
            for entry in self._entries(folder):
                yield from self._visit(entry, subfolders)
            pending.extend(reversed(subfolders))  # keep name order depth-first

    def _entries(self, folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as listing:
                return sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            self._problem(folder, error)
            return []

    def _visit(self, entry: os.DirEntry[str], subfolders: list[Path]) -> Iterator[FileStat]:
        """Queue a new folder or yield a new photo; anything else is passed over."""
        if _is_skipped_name(entry.name):
            return
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            if not is_dir and not is_photo_path(path):
                return
            st = os.stat(path)  # follows links; on Windows entry.stat() lacks st_ino
        except OSError as error:
            self._problem(path, error)
            return
        if entry.is_symlink() and self._leads_into_library(path):
            return
        if is_dir:
            folder_id = _identity(st)
            if folder_id not in self._seen_dirs:
                self._seen_dirs.add(folder_id)
                subfolders.append(path)
        else:
            yield from self._file(path, st)

    def _file(self, path: Path, st: os.stat_result) -> Iterator[FileStat]:
        if not stat.S_ISREG(st.st_mode):  # a pipe or device named .jpg would block a reader
            self._on_problem(ScanProblem(path, "not a regular file"))
            return
        file_id = _identity(st)
        if file_id in self._seen_files:
            return
        self._seen_files.add(file_id)
        yield FileStat(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns)

    def _problem(self, path: Path, error: OSError) -> None:
        self._on_problem(ScanProblem(path=path, reason=_os_reason(error)))


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_dev, st.st_ino)
