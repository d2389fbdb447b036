"""Bulk `similar` in one process, and error messages that name the file and the reason."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from photosim.cli.main import main
from tests.library_fixtures import make_photo_folder


@pytest.fixture
def indexed(tmp_path: Path, tiny_model: tuple[Path, Path]) -> tuple[list[str], list[Path]]:
    model, spec = tiny_model
    photos = make_photo_folder(tmp_path / "pics", count=4)
    options = ["--data-dir", str(tmp_path / "data"), "--model", str(model),
               "--model-spec", str(spec)]
    assert main([*options, "index", str(tmp_path / "pics")]) == 0
    return options, photos


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_similar_takes_several_paths_one_json_line_each(
        indexed: tuple[list[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    options, photos = indexed
    capsys.readouterr()
    assert main(["--json", *options, "similar", "-k", "2", *map(str, photos)]) == 0
    lines = json_lines(capsys.readouterr().out)
    assert [line["query"] for line in lines] == [str(p) for p in photos]
    for line, photo in zip(lines, photos, strict=True):
        results = line["results"]
        assert isinstance(results, list) and len(results) == 2
        assert str(photo) not in {r["path"] for r in results}  # a photo is not its own match


def test_similar_reads_paths_from_stdin(indexed: tuple[list[str], list[Path]],
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    options, photos = indexed
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{p}\n" for p in photos[:3])))
    assert main(["--json", *options, "similar", "-"]) == 0
    assert [line["query"] for line in json_lines(capsys.readouterr().out)] == \
        [str(p) for p in photos[:3]]


def test_one_bad_path_in_a_bulk_query_is_reported_and_the_rest_go_on(
        tmp_path: Path, indexed: tuple[list[str], list[Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    options, photos = indexed
    missing = tmp_path / "missing.jpg"
    capsys.readouterr()
    assert main(["--json", *options, "similar", str(photos[0]), str(missing),
                 str(photos[1])]) == 1
    out, err = capsys.readouterr()
    assert [line["query"] for line in json_lines(out)] == [str(photos[0]), str(photos[1])]
    error = json.loads(err)
    assert error["query"] == str(missing) and "no such file" in error["error"]


def test_similar_on_a_missing_file_says_so(tmp_path: Path, indexed: tuple[list[str], list[Path]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    options, _ = indexed
    capsys.readouterr()
    assert main([*options, "similar", str(tmp_path / "missing.jpg")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'missing.jpg'}: no such file" in err and "vanished" not in err


def test_compare_names_the_broken_file(tmp_path: Path, indexed: tuple[list[str], list[Path]],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    options, photos = indexed
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    capsys.readouterr()
    assert main([*options, "compare", str(photos[0]), str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}: not an image" in err and "Traceback" not in err


def test_search_on_an_empty_library_says_it_is_empty(
        tmp_path: Path, tiny_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model, spec = tiny_model
    options = ["--data-dir", str(tmp_path / "data"), "--model", str(model),
               "--model-spec", str(spec)]
    assert main([*options, "search", "dog"]) == 1
    err = capsys.readouterr().err
    assert "No photos are indexed" in err and "classifier" not in err


@pytest.mark.parametrize(("command", "phrase"), [
    ("dupes", "similar scene"), ("clusters", "Miscellaneous")])
def test_help_says_what_the_option_moves(command: str, phrase: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert phrase in " ".join(capsys.readouterr().out.split())


def _with_a_broken_file(tmp_path: Path, tiny_model: tuple[Path, Path], command: str,
                        *extra: str) -> tuple[Path, list[str]]:
    """Two photos and a file that is not an image under ``pics/``: (that file, the CLI
    arguments that run ``command`` over the folder)."""
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=2)
    broken = tmp_path / "pics" / "broken.jpg"
    broken.write_bytes(b"not a JPEG at all")
    return broken, ["--data-dir", str(tmp_path / "data"), "--model", str(model),
                    "--model-spec", str(spec), command, str(tmp_path / "pics"), *extra]


def test_index_names_the_unreadable_file_now_and_on_the_rerun(
        tmp_path: Path, tiny_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    broken, options = _with_a_broken_file(tmp_path, tiny_model, "index")
    for run in ("first", "rerun"):
        capsys.readouterr()
        assert main(["--json", *options]) == 0
        report = json.loads(capsys.readouterr().out)
        # Still failing on the rerun: counted as unreadable, not as unchanged, and named.
        assert report["failed"] == 1, run
        assert report["unchanged"] == (0 if run == "first" else 2), run
        assert report["failed_before"] == (0 if run == "first" else 1), run
        assert [f["path"] for f in report["unreadable_files"]] == [str(broken)], run
        assert report["unreadable_files"][0]["failed_before"] == (run == "rerun")
        assert "not an image" in report["unreadable_files"][0]["error"]
        assert len(report["problems"]) == report["failed"]
        assert report["problems"][0].startswith(f"{broken}: not an image"), run
    assert main(options) == 0
    text = capsys.readouterr().out
    assert "2 unchanged, 1 unreadable (1 of them unchanged since they failed before)" in text
    assert f"still unreadable {broken}: not an image" in text


def test_watch_catch_up_names_a_file_still_unreadable(
        tmp_path: Path, tiny_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    broken, options = _with_a_broken_file(tmp_path, tiny_model, "watch", "--seconds", "0")
    assert main(options) == 0
    capsys.readouterr()
    assert main(["--json", *options]) == 0
    caught_up = json_lines(capsys.readouterr().out)[0]
    assert (caught_up["unchanged"], caught_up["failed"], caught_up["failed_before"]) == (2, 1, 1)
    assert caught_up["unreadable_files"] == [
        {"path": str(broken), "error": "not an image (unrecognised format)",
         "failed_before": True}]
    assert main(options) == 0
    out = capsys.readouterr().out
    assert "2 unchanged, 1 unreadable" in out and f"still unreadable {broken}: not an image" in out


def test_clusters_says_how_many_of_its_photos_it_lists(
        tmp_path: Path, tiny_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=14)
    options = ["--data-dir", str(tmp_path / "data"), "--model", str(model),
               "--model-spec", str(spec)]
    assert main([*options, "index", str(tmp_path / "pics")]) == 0
    capsys.readouterr()
    assert main([*options, "clusters", "--granularity", "0"]) == 0
    samples = 0
    for block in capsys.readouterr().out.split("\n#")[:]:
        header, *listed = block.strip().splitlines()
        size = int(header.split("(")[1].split(" photos")[0])
        if len(listed) < size:
            samples += 1
            assert f"{size} photos, showing {len(listed)} of {size}; --members lists all" \
                in header
    assert samples, "no cluster was big enough to be shown as a sample"


def test_compare_gives_the_verdict_dupes_gives(
        tmp_path: Path, indexed: tuple[list[str], list[Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    options, photos = indexed
    copy = tmp_path / "pics" / "copy.jpg"
    copy.write_bytes(photos[0].read_bytes())
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(photos[1].read_bytes())
    assert main([*options, "index"]) == 0
    capsys.readouterr()
    assert main(["--json", *options, "dupes"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    # Groups partition the photos: a member's kind is its relation to the keeper (null for
    # the keeper), so the pairs with a known kind are (keeper, member); two photos in no
    # common group are not duplicates.
    kind_of: dict[frozenset[str], str | None] = {}
    grouped: dict[str, int] = {}
    for number, g in enumerate(groups):
        keeper = next(m["path"] for m in g["members"] if m["kind"] is None)
        for m in g["members"]:
            grouped[m["path"]] = number
            if m["kind"] is not None:
                kind_of[frozenset((keeper, m["path"]))] = m["kind"]
    checked = 0
    for a, b in [(photos[0], copy), (photos[0], photos[1]), (photos[2], photos[3])]:
        assert main(["--json", *options, "compare", str(a), str(b)]) == 0
        verdict = json.loads(capsys.readouterr().out)
        assert verdict["duplicate"] == (verdict["kind"] is not None)
        pair = frozenset((str(a), str(b)))
        if pair in kind_of:
            assert verdict["kind"] == kind_of[pair], (a, b)
            checked += 1
        elif grouped.get(str(a), -1) != grouped.get(str(b), -2):
            assert verdict["kind"] is None, (a, b)
            checked += 1
    assert checked >= 2
    assert main(["--json", *options, "compare", str(photos[0]), str(copy)]) == 0
    assert json.loads(capsys.readouterr().out)["relation"] == "identical file"
    assert main([*options, "compare", str(photos[0]), str(outside)]) == 0
    assert "library photos only" in capsys.readouterr().out


def test_a_reader_closing_the_pipe_early_gets_no_traceback(
        indexed: tuple[list[str], list[Path]]) -> None:
    """`photosim --json similar - < list | head -1`: the pipe closes under the writer."""
    options, photos = indexed
    paths = "".join(f"{p}\n" for p in photos * 200).encode()
    proc = subprocess.Popen([sys.executable, "-m", "photosim", "--json", *options, "similar",
                             "-k", "4", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdout.close()  # before the command writes its first line
    _, err = proc.communicate(paths, timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
