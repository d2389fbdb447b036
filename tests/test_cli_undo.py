"""`photosim undo` is a real command (issue 17: it was listed but not one): it restores the
last trash action through the same core as the GUI's Undo."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from photosim.__main__ import main as photosim_main
from photosim.cli.main import build_parser
from photosim.core.library import Library
from tests.cli_capture import run_cli
from tests.library_fixtures import make_photo_folder


def test_undo_restores_the_last_trash_action_and_then_has_nothing_to_undo(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    files = make_photo_folder(tmp_path / "pics", count=4)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as library:
        library.index([tmp_path / "pics"])
        library.trash([library.photo(files[0])])  # type: ignore[list-item]
        library.trash([library.photo(files[1])])  # type: ignore[list-item]
    assert not files[0].exists() and not files[1].exists()
    args = ["--data-dir", str(data), "--model", str(model), "--model-spec", str(spec)]

    code, out, _ = run_cli(*args, "--json", "undo", "--list")
    listed = json.loads(out)
    assert code == 0 and [a["paths"] for a in listed] == [[str(files[1])], [str(files[0])]]
    code, out, _ = run_cli(*args, "--json", "undo")
    assert code == 0 and json.loads(out) == {"restored": [str(files[1])]}
    assert files[1].exists() and not files[0].exists()
    code, out, _ = run_cli(*args, "undo", str(listed[1]["id"]))
    assert code == 0 and out.strip() == f"restored {files[0]}"
    assert files[0].exists()
    code, _, err = run_cli(*args, "undo")
    assert code == 1 and "nothing to undo" in err
    with Library.open(data, model=str(model), model_spec=str(spec)) as library:
        assert library.photo(files[0]) is not None and library.photo(files[1]) is not None


def test_every_command_the_launcher_hands_to_the_cli_exists() -> None:
    """`photosim undo` reached the CLI (the launcher's list) but argparse had no such command."""
    from photosim.__main__ import CLI_COMMANDS

    parser = build_parser()
    commands = next(a for a in parser._subparsers._group_actions  # type: ignore[union-attr]
                    ).choices
    assert set(CLI_COMMANDS) <= set(commands)
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
        photosim_main(["--help"])
    assert "undo" in help_text.getvalue()

