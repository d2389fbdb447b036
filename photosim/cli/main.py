"""`photosim <command>`: the command-line interface over ``photosim.core.library``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from photosim import __version__
from photosim.cli import commands
from photosim.cli.context import CommandContext
from photosim.core.errors import PhotosimError

# Each module registers its subcommands; see ``commands.register``.
COMMAND_MODULES = commands.ALL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photosim",
        description="Find similar photos and near-duplicates in your library, locally.",
    )
    parser.add_argument("--version", action="version", version=f"photosim {__version__}")
    parser.add_argument("--data-dir", help="where the catalog and index live "
                        "(default: $PHOTOSIM_DATA_DIR or the platform's app-data folder)")
    parser.add_argument("--model", help="a registered model id, or an .onnx file")
    parser.add_argument("--model-spec", help="spec for --model FILE.onnx: a registered id "
                        "or a JSON file (default: FILE.json beside the model)")
    parser.add_argument("--provider", help="execution provider: cuda, directml or cpu")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    ctx = CommandContext.from_args(args)
    try:
        return int(args.func(args, ctx))
    except PhotosimError as exc:
        ctx.error(str(exc))
        return 1
    except KeyboardInterrupt:
        ctx.error("Interrupted; work done so far is saved and the next run resumes.")
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    finally:
        ctx.close()


def _reader_went_away() -> int:
    """The output's reader closed it (``photosim similar - | head``): stop quietly, as other
    command-line tools do, instead of a traceback. Later writes, and Python's own flush at
    exit, go to the null device."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a writer whose pipe closed


if __name__ == "__main__":
    sys.exit(main())
