"""What a scan could not look at stays listed (status --errors) until a scan finds it fixed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from photosim.cli.main import main
from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and POSIX links")


def _bad_things(pics: Path) -> dict[str, Path]:
    things = {"broken": pics / "broken.jpg", "fifo": pics / "pipe.jpg",
              "loop": pics / "loop.jpg", "locked": pics / "locked"}
    things["broken"].symlink_to(pics / "gone.jpg")
    os.mkfifo(things["fifo"])
    things["loop"].symlink_to(things["loop"])
    things["locked"].mkdir()
    things["locked"].chmod(0)
    return things


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_is_listed_after_the_run(tmp_path: Path,
                                                      tiny_model: tuple[Path, Path]) -> None:
    make_photo_folder(tmp_path / "pics", count=1)
    locked = _bad_things(tmp_path / "pics")["locked"]
    model, spec = tiny_model
    try:
        with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
            lib.index([tmp_path / "pics"])
        with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
            assert locked in {p.path for p in lib.scan_problems()}
    finally:
        locked.chmod(0o700)


def test_scan_problems_survive_the_run_and_go_when_fixed(
        tmp_path: Path, tiny_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    make_photo_folder(tmp_path / "pics", count=1)
    things = _bad_things(tmp_path / "pics")
    things["locked"].chmod(0o700)
    model, spec = tiny_model
    args = ["--data-dir", str(tmp_path / "data"), "--model", str(model), "--model-spec", str(spec)]
    assert main(["--json", *args, "index", str(tmp_path / "pics")]) == 0
    capsys.readouterr()
    assert main(["--json", *args, "status", "--errors"]) == 0  # a later run, a new process
    listed = {item["path"]: item["reason"]
              for item in json.loads(capsys.readouterr().out)["scan_problems"]}
    assert listed == {str(things["broken"]): "not found (deleted, or a broken link)",
                      str(things["fifo"]): "not a regular file",
                      str(things["loop"]): "symbolic link loop"}
    assert main([*args, "status", "--errors"]) == 0
    assert "pipe.jpg: not a regular file" in capsys.readouterr().out
    for path in (things["broken"], things["fifo"], things["loop"]):
        path.unlink()
    assert main(["--json", *args, "index", str(tmp_path / "pics")]) == 0
    capsys.readouterr()
    assert main(["--json", *args, "status", "--errors"]) == 0
    assert json.loads(capsys.readouterr().out)["scan_problems"] == []


@pytest.mark.gui
def test_the_window_lists_scan_problems_with_the_unreadable_files(
        qtbot: object, tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    from photosim.ui.unreadable_dialog import UnreadableDialog
    from tests.ui_library import make_photos, shown_window

    photos = make_photos(tmp_path)
    (photos / "broken.jpg").symlink_to(photos / "gone.jpg")
    model, spec = tiny_model
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        lib.index([photos])
    lib = Library.open(tmp_path / "data", model=str(model), model_spec=str(spec))
    try:
        for window in shown_window(qtbot, lib):
            assert window.unreadable_button.isVisible()
            assert window.unreadable_button.text() == "1 file could not be read"
            with qtbot.waitSignal(window.unreadable_shown, timeout=20000) as shown:  # type: ignore[attr-defined]
                window.show_unreadable()
            dialog = shown.args[0]
            assert isinstance(dialog, UnreadableDialog)
            assert dict(dialog.rows()) == {photos / "broken.jpg":
                                           "not found (deleted, or a broken link)"}
            dialog.grab().save(str(tmp_path / "unreadable.png"))
            dialog.close()
    finally:
        lib.close()
