"""Walking real folder trees: links, loops, hidden and system folders, unreadable folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.decode import load_rgb
from photosim.core.errors import DecodeError
from photosim.core.scanner import (
    FileStat,
    ScanProblem,
    content_hash,
    content_hash_and_bytes,
    is_photo_path,
    walk_photos,
)
from tests.imagegen import save, scene

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                    reason="needs POSIX symbolic links")


def photo(path: Path, seed: int = 0) -> Path:
    return save(scene(seed, (32, 24)), path, format="JPEG")


def walk(*roots: Path) -> tuple[list[FileStat], list[ScanProblem]]:
    problems: list[ScanProblem] = []
    found = list(walk_photos(list(roots), problems.append))
    return found, problems


def relative(found: list[FileStat], root: Path) -> list[str]:
    return [f.path.relative_to(root).as_posix() for f in found]


def test_is_photo_path() -> None:
    assert is_photo_path(Path("a/B.JPG")) and is_photo_path(Path("x.HeIc"))
    assert is_photo_path(Path("x.avif")) and is_photo_path(Path("x.tiff"))
    assert not is_photo_path(Path("x.txt")) and not is_photo_path(Path("jpg"))


def test_walk_finds_photos_recursively_in_stable_order(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.PNG", "sub/c.heic", "sub/deeper/d.webp", "sub/e.txt", "z/f.gif"):
        photo(tmp_path / name) if not name.endswith(".txt") else (tmp_path / name).write_text("x")

    found, problems = walk(tmp_path)

    assert relative(found, tmp_path) == ["a.PNG", "b.jpg", "sub/c.heic", "sub/deeper/d.webp",
                                         "z/f.gif"]
    assert problems == []
    first = found[0]
    st = os.stat(first.path)
    assert (first.size, first.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_hidden_and_system_folders_are_skipped(tmp_path: Path) -> None:
    photo(tmp_path / "keep.jpg")
    for skipped in (".hidden/a.jpg", ".dotfile.jpg", "@eaDir/b.jpg", "$RECYCLE.BIN/c.jpg",
                    "System Volume Information/d.jpg", ".thumbnails/e.jpg", "__MACOSX/f.jpg",
                    ".Trash-1000/g.jpg", "x/.trash-0/h.jpg"):
        photo(tmp_path / skipped)
    found, _ = walk(tmp_path)
    assert relative(found, tmp_path) == ["keep.jpg"]


def test_a_hidden_root_is_still_walked(tmp_path: Path) -> None:
    photo(tmp_path / ".pictures" / "a.jpg")
    found, _ = walk(tmp_path / ".pictures")
    assert [f.path.name for f in found] == ["a.jpg"]


@needs_symlinks
def test_symlink_loop_terminates_and_yields_each_photo_once(tmp_path: Path) -> None:
    photo(tmp_path / "a" / "one.jpg")
    photo(tmp_path / "a" / "b" / "two.jpg")
    os.symlink("..", tmp_path / "a" / "b" / "back-up")  # a/b/back-up → a
    os.symlink(tmp_path, tmp_path / "a" / "root-again")
    os.symlink("loop2", tmp_path / "loop1")  # a two-link cycle that stat() cannot resolve
    os.symlink("loop1", tmp_path / "loop2")

    found, problems = walk(tmp_path)

    assert sorted(relative(found, tmp_path)) == ["a/b/two.jpg", "a/one.jpg"]
    # Links back into the tree are silently not re-entered; a cycle that never resolves is
    # worth telling the user about.
    assert problems == [ScanProblem(tmp_path / "loop1", "symbolic link loop"),
                        ScanProblem(tmp_path / "loop2", "symbolic link loop")]


@needs_symlinks
def test_linked_folder_outside_the_root_is_followed_once(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    photo(outside / "x.jpg")
    library = tmp_path / "library"
    library.mkdir()
    os.symlink(outside, library / "link1")
    os.symlink(outside, library / "link2")
    found, _ = walk(library)
    assert relative(found, library) == ["link1/x.jpg"]


def test_overlapping_roots_yield_each_photo_once(tmp_path: Path) -> None:
    photo(tmp_path / "a" / "x.jpg")
    photo(tmp_path / "y.jpg")
    found, _ = walk(tmp_path, tmp_path / "a", tmp_path / "y.jpg")
    assert sorted(relative(found, tmp_path)) == ["a/x.jpg", "y.jpg"]


@needs_symlinks
def test_broken_link_and_looping_photo_link_are_reported(tmp_path: Path) -> None:
    photo(tmp_path / "ok.jpg")
    os.symlink("missing.jpg", tmp_path / "broken.jpg")
    os.symlink("self.jpg", tmp_path / "self.jpg")
    found, problems = walk(tmp_path)
    assert relative(found, tmp_path) == ["ok.jpg"]
    reasons = {p.path.name: p.reason for p in problems}
    assert reasons == {"broken.jpg": "not found (deleted, or a broken link)",
                       "self.jpg": "symbolic link loop"}


def test_missing_root_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    found, problems = walk(tmp_path / "nope")
    assert found == []
    assert problems == [ScanProblem(tmp_path / "nope", "not found (deleted, or a broken link)")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_pipe_named_like_a_photo_is_reported(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")
    found, problems = walk(tmp_path)
    assert found == [] and problems == [ScanProblem(tmp_path / "pipe.jpg", "not a regular file")]


def test_unicode_names(tmp_path: Path) -> None:
    path = photo(tmp_path / "été" / "写真 🎞.jpg")
    found, _ = walk(tmp_path)
    assert [f.path for f in found] == [path]
    assert load_rgb(found[0].path, 16).image.size == (32, 24)


def test_file_deleted_between_walk_and_decode(tmp_path: Path) -> None:
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg", seed=1)
    walker = walk_photos([tmp_path])
    first = next(walker)
    (tmp_path / "b.jpg").unlink()  # gone before the walk reaches it: simply not yielded
    assert list(walker) == []
    first.path.unlink()  # gone after it was yielded: the decoder says so
    with pytest.raises(DecodeError, match="file vanished while reading"):
        load_rgb(first.path, 64)
    with pytest.raises(FileNotFoundError):
        content_hash(first.path)


def test_cancel_stops_the_walk(tmp_path: Path) -> None:
    for i in range(3):
        photo(tmp_path / f"d{i}" / "x.jpg")
    token = CancelToken()
    walker = walk_photos([tmp_path], cancel=token)
    next(walker)
    token.cancel()
    with pytest.raises(Cancelled):
        list(walker)


def test_content_hash_is_blake2b_128_of_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.jpg"
    data = os.urandom(3 * (1 << 20) + 17)  # spans several read chunks
    path.write_bytes(data)
    assert content_hash(path) == hashlib.blake2b(data, digest_size=16).hexdigest()
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(path, copy)
    assert content_hash(copy) == content_hash(path)
    copy.write_bytes(data[:-1] + b"\x00")
    assert content_hash(copy) != content_hash(path)


def test_the_bytes_are_kept_with_their_hash_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "blob.jpg"
    data = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert content_hash_and_bytes(path) == (content_hash(path), data)
    assert content_hash_and_bytes(path, keep_up_to=len(data)) == (content_hash(path), data)
    assert content_hash_and_bytes(path, keep_up_to=len(data) - 1) == (content_hash(path), None)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        content_hash_and_bytes(path, token)


# -- unreadable folders ---------------------------------------------------------------------

@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """pytest's tmp_path is private to root; a lower-privileged walker must reach this one."""
    folder = Path(tempfile.mkdtemp(prefix="photosim-perm-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for sub in folder.rglob("*"):
            if sub.is_dir():
                sub.chmod(0o755)
        shutil.rmtree(folder)


def walk_as_nobody(root: Path) -> dict[str, list[object]]:
    """Walk ``root`` in a forked child demoted to 'nobody', so permission bits bite."""
    nobody = 65534
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            code = 3  # could not demote: the test is skipped, not passed
            os.setgid(nobody)
            os.setuid(nobody)
            code = 1  # the walk itself failed: the test fails
            found, problems = walk(root)
            report = {"found": [str(f.path) for f in found],
                      "problems": [[str(p.path), p.reason] for p in problems]}
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code == 3:
        pytest.skip("running as root and the walk could not be demoted to 'nobody'")
    assert exit_code == 0, "the walk crashed on an unreadable folder"
    return json.loads(output)  # type: ignore[no-any-return]


def walk_unprivileged(root: Path) -> dict[str, list[object]]:
    """Walk ``root`` as the current user, or as 'nobody' when that is root (who reads all)."""
    if os.geteuid() != 0:
        found, problems = walk(root)
        return {"found": [str(f.path) for f in found],
                "problems": [[str(p.path), p.reason] for p in problems]}
    return walk_as_nobody(root)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX permissions and fork")
def test_unreadable_folder_is_reported_and_the_walk_goes_on(world_readable_dir: Path) -> None:
    root = world_readable_dir
    for name in ("a/one.jpg", "locked/secret.jpg", "z/two.jpg"):
        photo(root / name)
        (root / name).chmod(0o644)
    for folder in ("a", "locked", "z"):
        (root / folder).chmod(0o755)
    (root / "locked").chmod(0o000)

    result = walk_unprivileged(root)

    assert [Path(p).relative_to(root).as_posix() for p in result["found"]] == ["a/one.jpg",
                                                                             "z/two.jpg"]
    assert result["problems"] == [[str(root / "locked"), "permission denied"]]
