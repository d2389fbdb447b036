"""Numbers as people read them, shared by the core's messages and the UI."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Bytes in decimal units, as file managers show them: "950 bytes", "3.2 MB"."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # the loop always returns at GB


def clock(seconds: float) -> str:
    """A time within a video as players show it: "0:42", "12:05", "1:02:09"."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
