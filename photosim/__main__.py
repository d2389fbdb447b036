"""`photosim`: the desktop app, or a CLI command when one is named (`photosim index DIR`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

CLI_COMMANDS = {"index", "similar", "dupes", "compare", "status", "models", "watch", "clusters",
                "search", "undo", "repair"}


def wants_cli(argv: Sequence[str]) -> bool:
    """The CLI serves any command word and --version/--help; everything else opens the app."""
    return any(arg in CLI_COMMANDS or arg in ("--version", "-h", "--help") for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if wants_cli(args) and "--gui" not in args:
        from photosim.cli.main import main as cli_main

        return cli_main(args)
    problem = missing_display()
    if problem is not None:
        sys.stderr.write(f"photosim: {problem}\n")
        return 2
    from photosim.ui.app import run_gui

    return run_gui(gui_args(args))


# Qt platforms that draw without a window system (tests, screenshots, remote viewers).
HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"}


def missing_display(env: Mapping[str, str] | None = None,
                    platform: str = sys.platform) -> str | None:
    """Why the app cannot open a window here, in one line, or None when it can.

    On Linux and the BSDs, Qt with no X11 or Wayland display aborts the process (SIGABRT) with
    a misleading hint about missing xcb libraries; say what is wrong before it gets there.
    """
    env = os.environ if env is None else env
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in HEADLESS_PLATFORMS or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set): "
            "use the command line (`photosim --help`) or run photosim on a desktop.")


def gui_args(args: list[str]) -> list[str]:
    """`photosim similar --gui FILE` (a file manager's action) → the app's `--similar FILE`."""
    args = [a for a in args if a != "--gui"]
    return ["--similar" if a == "similar" else a for a in args]


if __name__ == "__main__":
    sys.exit(main())
