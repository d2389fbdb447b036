"""Videos in the library: indexed by their frames, found at a time, shown with a poster,
kept current by moves and removal, recorded when broken. Clips are encoded in the test from
real photos (skimage's samples) with PyAV."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from photosim.cli.main import main
from photosim.core.cancel import CancelToken
from photosim.core.errors import DecodeError
from photosim.core.library import Library
from photosim.core.types import Progress, Stage
from photosim.core.video import frame_at, is_video, sample_video
from photosim.core.video_index import INTERVAL_S
from tests.videogen import encode, mark_rotated_clockwise, mean_difference, sample_photos

# coffee is on screen from 4.0 s to 9.0 s of the clip
SCENES = (("astronaut", 4.0), ("coffee", 5.0), ("chelsea", 3.0))
COFFEE_FROM, COFFEE_TO = 4.0, 9.0




def _clip(path: Path) -> Path:
    photos = sample_photos()
    return encode(path, [(photos[name], seconds) for name, seconds in SCENES])


def _photo_of(name: str, path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_photos(size)[name].save(path, quality=88)
    return path


@pytest.mark.realmodel
def test_find_similar_returns_the_video_once_at_the_matching_time(
        real_library: Library, tmp_path: Path, real_model_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    clip = _clip(tmp_path / "lib" / "clip.mp4")
    _photo_of("rocket", tmp_path / "lib" / "rocket.jpg")
    query = _photo_of("coffee", tmp_path / "elsewhere" / "coffee.jpg")
    real_library.add_folder(tmp_path / "lib")
    report = real_library.index()
    assert (report.added, report.failed) == (2, 0)

    matches = real_library.similar(query, k=10)
    assert matches[0].photo.path == clip  # the coffee moment beats a photo of a rocket
    assert [m.photo.path for m in matches].count(clip) == 1  # one result per video
    at = matches[0].time
    assert at is not None
    assert COFFEE_FROM - INTERVAL_S <= at <= COFFEE_TO  # within one sampling interval
    rocket = next(m for m in matches if m.photo.path.name == "rocket.jpg")
    assert rocket.time is None

    # its tile is the frame at that time: the coffee, not the poster (the astronaut)
    tile = Image.open(real_library.thumbnail(matches[0].photo, 128, at))
    coffee = sample_photos(tile.size)["coffee"]
    astronaut = sample_photos(tile.size)["astronaut"]
    assert mean_difference(tile, coffee) < 15 < mean_difference(tile, astronaut)

    cli = ["--data-dir", str(tmp_path / "data"), "--model",
           str(real_model_dir / "efficientnet_lite0_embed.onnx"), "--model-spec",
           "efficientnet-lite0"]
    assert main([*cli, "--json", "similar", str(query)]) == 0
    first = json.loads(capsys.readouterr().out)["results"][0]
    assert first["path"] == str(clip) and first["time"] == pytest.approx(at, abs=1e-3)
    assert main([*cli, "similar", str(query)]) == 0
    assert f"{clip} at 0:0{int(at)}" in capsys.readouterr().out


def test_a_video_has_a_poster_and_a_duration(tiny_library: Library, tmp_path: Path) -> None:
    photos = sample_photos()
    black = Image.new("RGB", (320, 240))
    clip = encode(tmp_path / "lib" / "fade-in.mov", [(black, 1.0), (photos["chelsea"], 3.0)])
    tiny_library.add_folder(tmp_path / "lib")
    tiny_library.index()
    video = tiny_library.photo(clip)
    assert video is not None and video.error is None
    assert (video.width, video.height, video.format) == (320, 240, "MOV")
    assert tiny_library.video_duration(video) == pytest.approx(4.0, abs=0.2)
    poster = Image.open(tiny_library.thumbnail(video, 320))
    assert mean_difference(poster, photos["chelsea"]) < 15  # not the black opening frame


def test_a_rotated_phone_clip_is_indexed_upright(tiny_library: Library, tmp_path: Path) -> None:
    portrait = sample_photos((240, 320))["astronaut"]
    stored_on_its_side = portrait.transpose(Image.Transpose.ROTATE_90)  # 320 x 240
    clip = mark_rotated_clockwise(encode(tmp_path / "lib" / "phone.mp4",
                                         [(stored_on_its_side, 2.0)]))
    tiny_library.add_folder(tmp_path / "lib")
    tiny_library.index()
    video = tiny_library.photo(clip)
    assert video is not None and (video.width, video.height) == (240, 320)
    poster = Image.open(tiny_library.thumbnail(video, 320))
    assert poster.size == (240, 320)
    assert mean_difference(poster, portrait) < 15 < mean_difference(
        poster, portrait.transpose(Image.Transpose.ROTATE_180))


def test_a_corrupt_video_is_recorded_with_a_reason(tiny_library: Library, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    good = _clip(tmp_path / "lib" / "good.mp4")
    broken = tmp_path / "lib" / "broken.mp4"
    broken.write_bytes(good.read_bytes()[:400])
    (tmp_path / "lib" / "notes.webm").write_text("not a video\n")
    tiny_library.add_folder(tmp_path / "lib")
    report = tiny_library.index()
    assert (report.added, report.failed) == (1, 2)
    errors = {p.path.name: p.error for p in tiny_library.errors()}
    assert set(errors) == {"broken.mp4", "notes.webm"}
    assert all(e and "not a readable video" in e for e in errors.values())
    tiny_library.close()
    assert main(["--data-dir", str(tmp_path / "data"), "status", "--errors"]) == 0
    out = capsys.readouterr().out
    assert "broken.mp4" in out and "not a readable video" in out


def test_move_change_and_removal_of_a_video(tiny_library: Library, tmp_path: Path) -> None:
    clip = _clip(tmp_path / "lib" / "clip.mp4")
    query = _photo_of("coffee", tmp_path / "elsewhere" / "coffee.jpg")
    tiny_library.add_folder(tmp_path / "lib")
    tiny_library.index()
    first = tiny_library.photo(clip)
    assert first is not None
    spec = tiny_library.spec
    assert spec is not None
    frames = tiny_library.catalog.videos.frame_vectors(spec.vector_key, spec.dim)
    assert len(frames.times) >= 3 and set(frames.photo_ids.tolist()) == {first.id}

    moved = clip.rename(tmp_path / "lib" / "renamed.mp4")
    report = tiny_library.index()
    assert (report.moved, report.embedded) == (1, 0)  # a move keeps its frames, no decoding
    assert [m.photo.path for m in tiny_library.similar(query)] == [moved]

    photos = sample_photos()
    encode(moved, [(photos["rocket"], 3.0)])  # changed in place: its frames are replaced
    report = tiny_library.index()
    assert report.updated == 1
    changed = tiny_library.photo(moved)
    assert changed is not None and changed.content_hash != first.content_hash
    hits = tiny_library.similar(query)
    assert len(hits) == 1 and hits[0].time is not None and hits[0].time < 3.0
    connection = tiny_library.catalog.db.connection()
    kept = connection.execute("SELECT DISTINCT content_hash FROM video_frames").fetchall()
    assert [row[0] for row in kept] == [changed.content_hash]

    moved.unlink()
    report = tiny_library.index()
    assert report.removed == 1 and tiny_library.similar(query) == []
    assert connection.execute("SELECT COUNT(*) FROM video_frames").fetchone()[0] == 0
    assert connection.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 0


def test_cancel_stops_inside_a_long_video(tiny_library: Library, tmp_path: Path) -> None:
    photos = sample_photos()
    clip = encode(tmp_path / "lib" / "long.mp4", [(photos[name], 8.0) for name in photos] * 5)
    started = time.monotonic()
    sample_video(clip)
    whole = time.monotonic() - started
    tiny_library.add_folder(tmp_path / "lib")
    token = CancelToken()
    threading.Timer(whole / 4, token.cancel).start()
    started = time.monotonic()
    report = tiny_library.index(cancel=token)
    assert report.cancelled and tiny_library.photos() == []
    assert time.monotonic() - started < whole * 0.75  # it stopped inside the video


def test_watcher_adds_and_removes_a_video(tiny_library: Library, tmp_path: Path) -> None:
    from tests.test_watcher import settle, wait_for

    folder = (tmp_path / "lib").resolve()
    folder.mkdir()
    tiny_library.add_folder(folder)
    query = _photo_of("coffee", tmp_path / "elsewhere" / "coffee.jpg")
    changes: list[tuple[str, list[Path]]] = []
    watcher = tiny_library.watcher(lambda kind, paths: changes.append((kind, paths)),
                                   on_error=lambda exc: changes.append(("error", [])))
    watcher.start()
    try:
        clip = shutil.copy2(_clip(tmp_path / "outside" / "clip.mp4"), folder / "clip.mp4")
        wait_for(lambda: tiny_library.photo(Path(clip)) is not None, timeout=60)
        settle(watcher)
        hits = tiny_library.similar(query)
        assert [m.photo.path for m in hits] == [Path(clip)] and hits[0].time is not None
        Path(clip).unlink()
        wait_for(lambda: tiny_library.photo(Path(clip)) is None, timeout=30)
        settle(watcher)
        assert tiny_library.similar(query) == []
    finally:
        watcher.stop()
    assert ("error", []) not in changes


@pytest.mark.realmodel
def test_copies_of_a_video_group_and_a_grabbed_still_is_related_not_deletable(
        real_library: Library, tmp_path: Path) -> None:
    photos = sample_photos()
    lib = tmp_path / "lib"
    scenes = [(photos[name], seconds) for name, seconds in SCENES]
    clip = encode(lib / "clip.mp4", scenes)
    reencoded = encode(lib / "copies" / "clip-small.mkv", scenes, codec="libx264",
                       size=(224, 168))
    trimmed = encode(lib / "copies" / "clip-trimmed.mp4", [(photos["astronaut"], 1.0),
                                                          *scenes[1:]])
    still = lib / "stills" / "coffee-grab.jpg"
    still.parent.mkdir(parents=True)
    frame_at(clip, 6.0).save(still, quality=92)  # a still grabbed from the clip
    _photo_of("rocket", lib / "rocket.jpg")
    real_library.add_folder(lib)
    real_library.index()

    groups = [g for g in real_library.duplicates() if clip in {m.path for m in g.members}]
    assert len(groups) == 1
    group = groups[0]
    assert {m.path for m in group.members} == {clip, reencoded, trimmed, still}
    assert is_video(group.keeper.path)
    suggestions = {m.path: group.suggestion_for(m) for m in group.members}
    assert suggestions[still] == "review"  # related to the video, never offered for deletion
    assert group.relation_of(next(m for m in group.members if m.path == still)).startswith(
        "a still from ")
    # the whole clip is kept; its re-encode is a copy to trash; a trimmed part is reviewed
    assert (suggestions[clip], suggestions[reencoded], suggestions[trimmed]) == \
        ("keep", "trash", "review")
    assert still not in {p.path for p in group.suggested_trash()}


def test_a_video_outside_the_library_can_be_the_query(tiny_library: Library,
                                                      tmp_path: Path) -> None:
    clip = _clip(tmp_path / "lib" / "clip.mp4")
    tiny_library.add_folder(tmp_path / "lib")
    tiny_library.index()
    outside = _clip(tmp_path / "elsewhere" / "same-clip.mp4")
    assert [m.photo.path for m in tiny_library.similar(outside)] == [clip]
    broken = tmp_path / "elsewhere" / "broken.mov"
    broken.write_bytes(outside.read_bytes()[:300])
    with pytest.raises(DecodeError, match=r"broken\.mov: not a readable video"):
        tiny_library.similar(broken)


def test_progress_says_how_far_into_a_long_video(tiny_library: Library, tmp_path: Path) -> None:
    _clip(tmp_path / "lib" / "clip.mp4")
    tiny_library.add_folder(tmp_path / "lib")
    heard: list[Progress] = []
    tiny_library.index(progress=heard.append)
    inside = [p for p in heard if p.message]
    assert [p.message for p in inside][-1] == "clip.mp4 at 0:11"  # the last sampled frame
    assert "clip.mp4 at 0:04" in [p.message for p in inside]  # the cut to the coffee
    assert all(p.stage == Stage.INDEXING and (p.done, p.total) == (0, 1) for p in inside)
