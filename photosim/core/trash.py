"""Moving files to the system trash, and back.

On freedesktop systems (Linux, BSD) photosim follows the Trash specification itself: it then
knows exactly where each file went, so undo works even after a restart, and it reads
``$XDG_DATA_HOME`` at call time. On Windows and macOS Send2Trash asks the OS to do it; undo there
means restoring from the system's own trash.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from photosim.core.errors import TrashError

FREEDESKTOP = not sys.platform.startswith(("win", "darwin"))


def move_to_trash(path: Path) -> Path | None:
    """Trash one file; returns where it now lies (None where the OS keeps that to itself).

    Raises ``TrashError`` and leaves the file in place when no trash can take it, e.g. on a
    read-only drive or a network share without a trash folder.
    """
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise TrashError(f"{path} is no longer there; nothing was deleted.")
    if FREEDESKTOP:
        return _freedesktop_trash(path)
    _os_trash(path)  # pragma: no cover - Windows/macOS
    return None  # pragma: no cover


def restore(trash_path: Path | None, original: Path) -> None:
    """Put a trashed file back where it was; refuses to overwrite a file that is there now."""
    if trash_path is None or not trash_path.exists():
        raise TrashError(f"{original.name} is no longer in the trash where photosim put it; "
                         "restore it from the system trash.")
    if original.exists():
        raise TrashError(f"Cannot restore {original}: a file with that name exists again.")
    original.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(trash_path, original)
    except OSError as exc:
        raise TrashError(f"Cannot restore {original}: {exc.strerror}") from exc
    (trash_path.parent.parent / "info" / f"{trash_path.name}.trashinfo").unlink(missing_ok=True)


def _os_trash(path: Path) -> None:  # pragma: no cover - Windows/macOS
    from send2trash import send2trash

    try:
        send2trash(str(path))
    except OSError as exc:
        raise TrashError(f"Could not move {path} to the trash: {exc}. Nothing was deleted.") \
            from exc


# -- freedesktop Trash specification 1.0 -----------------------------------------------------
def _freedesktop_trash(path: Path) -> Path:
    trash_dir, top = _trash_dir_for(path)
    files, info = trash_dir / "files", trash_dir / "info"
    try:
        files.mkdir(parents=True, exist_ok=True, mode=0o700)
        info.mkdir(parents=True, exist_ok=True, mode=0o700)
        name, info_file = _reserve_name(info, path.name)
    except OSError as exc:
        raise TrashError(f"No usable trash for {path} ({exc.strerror}); this is common on "
                         "network shares and read-only drives. Nothing was deleted.") from exc
    origin = str(path) if top is None else os.path.relpath(path, top)
    stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    try:
        # the spec's Path= is the name's raw bytes, percent-encoded: lossless for any name
        info_file.write_text(f"[Trash Info]\nPath={quote(os.fsencode(origin))}\n"
                             f"DeletionDate={stamp}\n",
                             encoding="utf-8")
        os.rename(path, files / name)
    except OSError as exc:
        info_file.unlink(missing_ok=True)
        raise TrashError(f"Could not move {path} to the trash: {exc.strerror}. "
                         "Nothing was deleted.") from exc
    return files / name


def _trash_dir_for(path: Path) -> tuple[Path, Path | None]:
    """The home trash when the file is on the same device, else its volume's own trash.

    Returns (trash dir, volume top) — top is None for the home trash, whose records hold
    absolute paths; volume trashes record paths relative to their top.
    """
    home_trash = _data_home() / "Trash"
    if _device(path) == _device(_existing_ancestor(home_trash)):
        return home_trash, None
    top = _mount_point(path.parent)
    uid = os.getuid()
    shared = top / ".Trash"
    with contextlib.suppress(OSError):
        st = shared.lstat()
        if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and not shared.is_symlink():
            return shared / str(uid), top
    return top / f".Trash-{uid}", top


def _reserve_name(info_dir: Path, name: str) -> tuple[str, Path]:
    """A name free in the trash, claimed atomically by creating its .trashinfo (O_EXCL)."""
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    for n in range(1, 10_000):
        candidate = name if n == 1 else f"{stem}.{n}{dot}{ext}"
        try:
            fd = os.open(info_dir / f"{candidate}.trashinfo", os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate, info_dir / f"{candidate}.trashinfo"
    raise OSError(17, "too many files with this name in the trash")


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _device(path: Path) -> int:
    return path.stat().st_dev


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path
