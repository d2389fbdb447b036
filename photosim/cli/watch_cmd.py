"""`photosim watch FOLDER...`: keep the library current headlessly, one line per change."""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photosim.cli.context import CommandContext

if TYPE_CHECKING:  # the library and watchdog load when `watch` runs, not at every start
    from photosim.core.library import Library


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help="index folders, then follow changes until Ctrl-C")
    p.add_argument("folders", nargs="*", type=Path,
                   help="folders to add and watch (default: all the library's folders)")
    p.add_argument("--polling", action="store_true",
                   help="poll instead of OS notifications (network shares, some mounts)")
    p.add_argument("--settle", type=float, default=1.0, metavar="SECONDS",
                   help="how long a file must stay unchanged before it is read (default 1)")
    p.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)  # tests
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from photosim.core.watcher import LibraryWatcher

    library = ctx.open_library(write=True)
    for folder in args.folders:
        library.add_folder(folder)
    roots = library.folders() if not args.folders else \
        [Path(f).expanduser().resolve() for f in args.folders]
    if not roots:
        ctx.error("No folders to watch: run 'photosim watch FOLDER'.")
        return 2
    catch_up(library, roots, ctx)
    watcher = LibraryWatcher(library, roots, settle_s=args.settle, polling=args.polling,
                             on_change=lambda kind, paths: print_change(ctx, kind, paths))
    with watcher:
        print_line(ctx, {"event": "watching", "folders": [str(r) for r in roots]},
                   "Watching " + ", ".join(str(r) for r in roots) + " (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way out
            threading.Event().wait(args.seconds)
    return 0


def catch_up(library: Library, roots: list[Path], ctx: CommandContext) -> None:
    """What changed while photosim was not running (size+mtime: unchanged files are not read).
    Files that stay unreadable are named, as `index` names them."""
    from photosim.cli.index_outcome import index_and_account

    outcome = index_and_account(library, roots, ctx.progress)
    report = outcome.report
    print_line(ctx, {"event": "caught_up", "added": report.added, "updated": report.updated,
                     "moved": report.moved, "removed": report.removed,
                     "refreshed": report.refreshed, "unchanged": outcome.unchanged,
                     "failed": outcome.failed, "failed_before": len(outcome.known),
                     "unreadable_files": [{"path": str(p.path), "error": p.error,
                                           "failed_before": p.path in outcome.known}
                                          for p in outcome.unreadable]},
               "\n".join(["Caught up: " + outcome.counts_text(), *outcome.unreadable_lines()]))


def print_change(ctx: CommandContext, kind: str, paths: list[Path]) -> None:
    from photosim.core.watcher import MOVED  # loaded already by `run`

    if kind == MOVED:
        print_line(ctx, {"event": kind, "from": str(paths[0]), "to": str(paths[1])},
                   f"moved    {paths[0]} -> {paths[1]}")
        return
    for path in paths:
        print_line(ctx, {"event": kind, "path": str(path)}, f"{kind:<8} {path}")


def print_line(ctx: CommandContext, data: dict[str, Any], text: str) -> None:
    """One line per event, flushed at once: JSON Lines with --json (for piping)."""
    ctx.out.write((json.dumps(data) if ctx.json else text) + "\n")
    ctx.out.flush()
