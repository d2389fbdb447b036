"""Run the CLI in this process and capture what it prints."""

from __future__ import annotations

import contextlib
import io

from photosim.cli.main import main as cli


def run_cli(*argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``photosim-cli ARGV``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(argv))
    return code, out.getvalue(), err.getvalue()
