"""Playing a video found at a time: start a player there when one that takes a start time is
installed (mpv, VLC, ffplay), else open the file with the system's default app (which starts
at the beginning: no desktop standard passes a time)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

# (program, the arguments that start it at a time) in order of preference
_PLAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mpv", ("--start={time}", "{path}")),
    ("vlc", ("--start-time={time}", "{path}")),
    ("celluloid", ("--mpv-start={time}", "{path}")),
    ("ffplay", ("-ss", "{time}", "-autoexit", "{path}")),
)


def player_command(path: Path, time: float) -> list[str] | None:
    """The command that plays ``path`` from ``time`` seconds, or None when no player that
    takes a start time is installed."""
    for program, arguments in _PLAYERS:
        found = shutil.which(program)
        if found:
            values = {"time": f"{time:.3f}", "path": str(path)}
            return [found, *(a.format(**values) for a in arguments)]
    return None


def play(path: Path, time: float | None = None) -> bool:
    """Play ``path``, from ``time`` where the installed player allows."""
    command = player_command(path, time) if time else None
    if command is not None and QProcess.startDetached(command[0], command[1:])[0]:
        return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
