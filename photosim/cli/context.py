"""What every command gets: the global options, one Library, and output helpers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from photosim.core.paths import default_data_dir
from photosim.core.types import Progress

if TYPE_CHECKING:  # the library pulls in numpy, onnxruntime, hnswlib: only commands need it
    from photosim.core.library import Library


@dataclass
class CommandContext:
    data_dir: Path
    json: bool
    model: str | None = None
    model_spec: str | None = None
    provider: str | None = None
    command: str = ""
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _library: Library | None = None
    _last_progress: float = 0.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CommandContext:
        return cls(data_dir=Path(args.data_dir).expanduser() if args.data_dir
                   else default_data_dir(), json=bool(args.json), model=args.model,
                   model_spec=args.model_spec, provider=args.provider,
                   command=args.command or "")

    def open_library(self, write: bool = False) -> Library:
        """The library, read-only unless the command ``write``s (indexing, watching): readers
        run beside a writer and never change the catalog or the index files."""
        if self._library is None:
            from photosim.core.library import Library

            self._library = Library.open(self.data_dir, model=self.model,
                                         model_spec=self.model_spec, provider=self.provider,
                                         read_only=not write,
                                         holder=f"photosim {self.command}".strip())
        return self._library

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None

    def emit(self, data: Any, text: str) -> None:
        """Print ``data`` as JSON with --json, else the human ``text``."""
        if self.json:
            json.dump(data, self.out, indent=2, default=str)
            self.out.write("\n")
        elif text:
            self.out.write(printable(text.rstrip("\n")) + "\n")

    def emit_line(self, data: Any, text: str) -> None:
        """Like ``emit``, but with --json one compact line (JSON Lines, for many results),
        flushed at once so that a pipe sees each as it comes."""
        if self.json:
            self.out.write(json.dumps(data, default=str) + "\n")
        elif text:
            self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    def error(self, message: str, **context: str) -> None:
        """The message on stderr; with --json an object {"error": ..., **context}."""
        if self.json:
            json.dump({"error": message, **context}, self.err)
            self.err.write("\n")
        else:
            self.err.write(f"photosim: {printable(message)}\n")

    def progress(self, p: Progress) -> None:
        """A one-line progress bar on stderr (only on a terminal), at most 10 updates/s."""
        if self.json or not self.err.isatty():
            return
        now = time.monotonic()
        if now - self._last_progress < 0.1 and p.done != p.total:
            return
        self._last_progress = now
        self.err.write("\r\x1b[2K" + printable(format_progress(p)))
        if p.total is not None and p.done >= p.total:
            self.err.write("\n")
        self.err.flush()


def format_progress(p: Progress, width: int = 30) -> str:
    if not p.total:
        return f"{p.stage}: {p.done}"
    filled = int(width * min(p.done, p.total) / p.total)
    bar = "█" * filled + "░" * (width - filled)
    rate = f" {p.rate:.1f}/s" if p.rate else ""
    eta = f" ETA {_duration(p.eta_s)}" if p.eta_s is not None and p.done < p.total else ""
    doing = f" · {p.message}" if p.message else ""  # e.g. how far into a long video
    return f"{p.stage} {bar} {p.done}/{p.total}{rate}{eta}{doing}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def printable(text: str) -> str:
    """``text`` safe for any terminal: a file name that is not UTF-8 (surrogate-escaped by
    Python) shows its undecodable bytes as U+FFFD instead of crashing the write. JSON output
    keeps them losslessly as ``\\udcXX`` escapes (``os.fsencode`` restores the bytes)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
