"""`photosim`: the desktop app, or a CLI command when one is named (`photosim index DIR`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

CLI_COMMANDS = {"index", "similar", "dupes", "compare", "status", "models", "watch", "clusters",
                "search", "undo"}


def wants_cli(argv: Sequence[str]) -> bool:
    """The CLI serves any command word and --version/--help; everything else opens the app."""
    return any(arg in CLI_COMMANDS or arg in ("--version", "-h", "--help") for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if wants_cli(args) and "--gui" not in args:
        from photosim.cli.main import main as cli_main

        return cli_main(args)
    from photosim.ui.app import run_gui

    return run_gui(gui_args(args))


def gui_args(args: list[str]) -> list[str]:
    """`photosim similar --gui FILE` (a file manager's action) → the app's `--similar FILE`."""
    args = [a for a in args if a != "--gui"]
    return ["--similar" if a == "similar" else a for a in args]


if __name__ == "__main__":
    sys.exit(main())
