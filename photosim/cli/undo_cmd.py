"""`photosim undo`: put back what the last trash action moved (the GUI's Undo, same core)."""

from __future__ import annotations

import argparse
from typing import Any

from photosim.cli.context import CommandContext


def register(sub: Any) -> None:
    p = sub.add_parser("undo", help="restore the photos of the last trash action "
                                    "(or of one chosen with --list)")
    p.add_argument("action", nargs="?", type=int, metavar="ID",
                   help="the trash action to undo (default: the latest not yet undone)")
    p.add_argument("--list", action="store_true", help="list the trash actions, newest first")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    library = ctx.open_library(write=not args.list)
    if args.list:
        actions = sorted(library.actions(), key=lambda a: a.id, reverse=True)
        ctx.emit([{"id": a.id, "when": a.when, "undone": a.undone,
                   "paths": [str(p) for p in a.paths]} for a in actions],
                 "\n".join(f"{a.id}  {a.when}  {len(a.paths)} photo(s)"
                           f"{'  (undone)' if a.undone else ''}" for a in actions)
                 or "Nothing was moved to the trash yet.")
        return 0
    restored = library.undo(args.action)
    ctx.emit({"restored": [str(p) for p in restored]},
             "\n".join(f"restored {p}" for p in restored))
    return 0
