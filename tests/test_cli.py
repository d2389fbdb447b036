"""The CLI as a script would use it: real commands, JSON output, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from photosim.cli.main import main
from tests.library_fixtures import make_photo_folder, resized_copy


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.fixture
def cli_args(tmp_path: Path, tiny_model: tuple[Path, Path]) -> list[str]:
    model, spec = tiny_model
    return ["--data-dir", str(tmp_path / "data"), "--model", str(model), "--model-spec", str(spec)]


def test_index_similar_dupes_compare_status(tmp_path: Path, cli_args: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=5)
    shutil.copy2(paths[2], tmp_path / "pics" / "same.jpg")
    copy = resized_copy(paths[4], tmp_path / "pics" / "small.jpg")

    report = run_json(capsys, *cli_args, "index", str(tmp_path / "pics"))
    assert report["added"] == 7 and report["failed"] == 0

    similar = run_json(capsys, *cli_args, "similar", str(copy), "-k", "3")
    assert similar["results"][0]["path"] == str(paths[4])  # type: ignore[index]
    assert 0.9 < similar["results"][0]["score"] <= 1.0  # type: ignore[index]

    dupes = run_json(capsys, *cli_args, "dupes")
    groups = dupes["groups"]  # type: ignore[index]
    # One group per photo: each path once in all groups, each member with its kind
    paths_listed = [m["path"] for g in groups for m in g["members"]]
    assert len(paths_listed) == len(set(paths_listed))
    exact = [m for g in groups for m in g["members"] if m["kind"] == "exact"]
    assert [Path(m["path"]).name for m in exact] in (["same.jpg"], [paths[2].name])
    group = next(g for g in groups if exact[0] in g["members"])
    assert {Path(group["keep"]).name, Path(exact[0]["path"]).name} == {paths[2].name, "same.jpg"}
    assert exact[0]["relation"] == "identical file" and exact[0]["suggestion"] == "trash"
    keeper = next(m for m in group["members"] if m["path"] == group["keep"])
    assert keeper["kind"] is None and keeper["suggestion"] == "keep"
    assert all(m["suggestion"] == "review" for m in group["members"] if m["kind"] == "similar")
    assert group["reclaimable_bytes"] == sum(m["size"] for m in group["members"]
                                             if m["suggestion"] == "trash")

    assert main([*cli_args, "dupes"]) == 0  # the text says the same, member by member
    text = capsys.readouterr().out
    assert f"  trash     {exact[0]['path']}  (identical file)" in text
    assert f"  keep      {group['keep']}" in text

    score = run_json(capsys, *cli_args, "compare", str(paths[2]), str(tmp_path / "pics/same.jpg"))
    assert score["score"] == pytest.approx(1.0, abs=1e-3)

    status = run_json(capsys, *cli_args, "status", "--errors")
    assert status["photos"] == 7 and status["provider"] == "CPUExecutionProvider"
    assert status["error_files"] == []


def test_errors_are_reported_in_words_with_exit_code_1(tmp_path: Path, cli_args: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*cli_args, "similar", str(tmp_path / "missing.jpg")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("photosim: ") and "Traceback" not in err


def test_console_script_runs_as_a_separate_process(tmp_path: Path, cli_args: list[str]) -> None:
    make_photo_folder(tmp_path / "pics", count=2)
    done = subprocess.run([sys.executable, "-m", "photosim", *cli_args, "index",
                           str(tmp_path / "pics")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "2 added" in done.stdout
    version = subprocess.run([sys.executable, "-m", "photosim", "--version"],
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("photosim ")
