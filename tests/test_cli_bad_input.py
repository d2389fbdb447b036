"""Bad CLI input gives one clear error, never a traceback or a silent nonsense answer."""

from __future__ import annotations

import json
from pathlib import Path

from photosim.core.library import Library
from tests.cli_capture import run_cli
from tests.library_fixtures import make_photo_folder


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
        code, out, err = run_cli(*args, "--json", "clusters", f"--granularity={value}")
        assert code == 1 and out == "" and "granularity" in json.loads(err)["error"]
    code, out, _ = run_cli(*args, "clusters", "--granularity", "7")  # beyond 1: taken as 1
    assert code == 0 and out


def test_a_file_that_is_not_a_spec_is_named_and_leaves_a_library_readers_can_use(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    """A JSON file that is not a photosim spec (a model's own notes, say) gets an error naming
    the file and the missing field, not "Invalid model spec: 'id'"; and the empty catalog the
    failed writer leaves is a library not made yet to readers, not one "made by an older
    photosim" (which also cost them a 5 s wait)."""
    model, _ = tiny_model
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"model": "tiny", "input": [1, 3, 32, 32]}))
    make_photo_folder(tmp_path / "pics", count=2)
    data = str(tmp_path / "data")
    code, _, err = run_cli("--data-dir", data, "--model", str(model), "--model-spec", str(notes),
                        "index", str(tmp_path / "pics"))
    assert code != 0 and str(notes) in err and "no 'id' field" in err
    for command in (["dupes"], ["status"]):
        code, out, err = run_cli("--data-dir", data, *command)
        assert code == 0, err
        assert "older photosim" not in out + err


def test_dupes_says_when_photos_await_new_fingerprints(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    """After an upgrade that changed the pixel fingerprints, `dupes` before the next `index`
    can compare no pixels: it says so instead of quietly listing copies for review."""
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=3)
    data = tmp_path / "data"
    with Library.open(data, model=str(model), model_spec=str(spec)) as library:
        library.index([tmp_path / "pics"])
        assert library.photos_awaiting_fingerprints() == 0
        with library.catalog.transaction() as conn:  # as an older version left them
            conn.execute("UPDATE photos SET fingerprint = "
                         "CAST(X'01' || substr(fingerprint, 2) AS BLOB)")
    args = ["--data-dir", str(data), "--model", str(model), "--model-spec", str(spec)]
    code, _, err = run_cli(*args, "dupes")
    assert code == 0 and "3 photos were indexed by an older photosim" in err
    code, out, err = run_cli(*args, "--json", "dupes")
    assert code == 0 and err == "" and "groups" in json.loads(out)
    code, out, _ = run_cli(*args, "index")
    assert code == 0 and "0 updated" in out and "3 refreshed" in out  # the files did not change
    assert "older photosim" not in run_cli(*args, "dupes")[2]
