"""Bad CLI input gives one clear error, never a traceback or a silent nonsense answer."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from photosim.cli.main import main as cli
from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_a_granularity_that_is_not_a_number_is_one_clear_error(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    """Issue 17: `clusters --granularity nan` (a traceback once, then clusters cut nowhere)."""
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=4)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as library:
        library.index([tmp_path / "pics"])
    args = ["--data-dir", str(data), "--model", str(model), "--model-spec", str(spec)]
    for value in ("nan", "inf", "-inf"):
        code, out, err = _run(*args, "--json", "clusters", f"--granularity={value}")
        assert code == 1 and out == "" and "granularity" in json.loads(err)["error"]
    code, out, _ = _run(*args, "clusters", "--granularity", "7")  # beyond 1: taken as 1
    assert code == 0 and out
