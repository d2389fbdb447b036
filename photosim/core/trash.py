"""Moving files to the system trash, and back.

Send2Trash does the move on every platform. It does not say where the file went, so on
freedesktop systems (Linux, BSD) we find the ``.trashinfo`` record it wrote; that makes undo
possible even after a restart. Elsewhere undo asks the user to restore from the system trash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote

from send2trash import send2trash
from send2trash.exceptions import TrashPermissionError

from photosim.core.errors import TrashError

FREEDESKTOP = sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))


def move_to_trash(path: Path) -> Path | None:
    """Trash one file; returns where it now lies when the platform lets us know, else None.

    Raises ``TrashError`` (and leaves the file where it was) when no trash can take it, e.g. on
    many network shares.
    """
    try:
        send2trash(str(path))
    except TrashPermissionError as exc:
        raise TrashError(f"No trash is available for {path} (a network share or read-only "
                         "drive?). Nothing was deleted.") from exc
    except OSError as exc:
        raise TrashError(f"Could not move {path} to the trash: {exc.strerror or exc}. "
                         "Nothing was deleted.") from exc
    if path.exists():
        raise TrashError(f"{path} is still in place after moving it to the trash; "
                         "nothing was deleted.")
    return find_trashed(path) if FREEDESKTOP else None


def restore(trash_path: Path | None, original: Path) -> None:
    """Put a trashed file back where it was; refuses to overwrite a file that is there now."""
    if trash_path is None or not trash_path.exists():
        raise TrashError(f"{original.name} is no longer in the trash photosim knows about; "
                         "restore it from the system trash.")
    if original.exists():
        raise TrashError(f"Cannot restore {original}: a file with that name exists again.")
    original.parent.mkdir(parents=True, exist_ok=True)
    os.replace(trash_path, original)
    info = trash_path.parent.parent / "info" / (trash_path.name + ".trashinfo")
    info.unlink(missing_ok=True)


def find_trashed(original: Path) -> Path | None:
    """The newest file in a freedesktop trash whose record says it came from ``original``."""
    best: tuple[float, Path] | None = None
    top = _mount_point(original.parent)
    for trash_dir in _trash_dirs(top):
        info_dir = trash_dir / "info"
        if not info_dir.is_dir():
            continue
        for info in info_dir.glob("*.trashinfo"):
            if _recorded_origin(info, top) != original:
                continue
            mtime = info.stat().st_mtime
            if best is None or mtime > best[0]:
                best = (mtime, trash_dir / "files" / info.name.removesuffix(".trashinfo"))
    return best[1] if best else None


def _trash_dirs(top: Path) -> list[Path]:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    dirs = [data_home / "Trash"]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    dirs += [top / ".Trash" / str(uid), top / f".Trash-{uid}"]
    return dirs


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path


def _recorded_origin(info: Path, top: Path) -> Path | None:
    try:
        text = info.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            recorded = Path(unquote(line[5:]))
            # Trash dirs on other volumes record paths relative to that volume's top.
            return recorded if recorded.is_absolute() else top / recorded
    return None
