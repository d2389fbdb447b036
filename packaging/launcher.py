"""The script PyInstaller freezes: one program, two executables.

``photosim`` opens the desktop app (or runs a CLI command when one is named, like the
``photosim`` entry point); ``photosim-cli`` always runs the CLI. On Windows the first is a GUI
executable without a console window and the second a console one, so scripts get their output.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    # A frozen Windows child process re-enters here; this returns control to multiprocessing.
    multiprocessing.freeze_support()
    if Path(sys.executable).stem.lower() == "photosim-cli":
        from photosim.cli.main import main as cli_main

        return cli_main()
    from photosim.__main__ import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
