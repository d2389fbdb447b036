"""`photosim repair --rebuild-catalog`: the recovery for a damaged catalog that the app offers
(and the damage message names), for a catalog that may be too damaged to open at all."""

from __future__ import annotations

import argparse
from typing import Any

from photosim.cli.context import CommandContext


def register(sub: Any) -> None:
    p = sub.add_parser("repair", help="rebuild a damaged catalog (its files are moved aside, "
                                      "not deleted)")
    p.add_argument("--rebuild-catalog", action="store_true", required=True,
                   help="move the damaged catalog and index into <data>/damaged-<time>/ and "
                        "start a new catalog with the folders that can still be read")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from photosim.core.library import set_aside_damaged_catalog

    done = set_aside_damaged_catalog(ctx.data_dir, holder="photosim repair")
    if done.folders_read:
        kept = "".join(f"\n  {f}" for f in done.folders) or " none"
        then = "Run 'photosim index' to index them again." if done.folders else \
            "Run 'photosim index FOLDER...' to add your folders again."
        text = f"Folders kept:{kept}\n{then}"
    else:
        text = ("The damaged catalog's folder list could not be read: run "
                "'photosim index FOLDER...' to add your folders again.")
    ctx.emit({"moved_to": str(done.aside), "folders": [str(f) for f in done.folders],
              "folders_read": done.folders_read},
             f"The damaged catalog was moved to {done.aside} (nothing was deleted).\n{text}\n"
             "'Not a duplicate' decisions and the trash history stay in the old file.")
    return 0
