"""Duplicate review told by a video's frames, not only its poster: a still grabbed from any
moment of a clip is related to it and never offered for deletion; a copy trimmed so that its
poster scene is gone still groups with the whole clip, which is kept; a library without videos
groups as before. Clips are encoded in the test from real photos (skimage's samples) with
PyAV, and embedded by the real model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from photosim.core.duplicates.policy import bulk_trash
from photosim.core.library import Library
from photosim.core.types import DuplicateGroup, DuplicateKind
from photosim.core.video import frame_at
from photosim.core.video_index import INTERVAL_S
from tests.videogen import encode, sample_photos

# The clip: astronaut 0-4 s, coffee 4-9 s (its poster: the longest scene is the most
# typical), chelsea 9-12 s, rocket 12-15 s.
SCENES = (("astronaut", 4.0), ("coffee", 5.0), ("chelsea", 3.0), ("rocket", 3.0))
GRAB_AT = 10.5  # the still is grabbed in the chelsea scene, not the poster's



def _scenes(names: tuple[tuple[str, float], ...] = SCENES) -> list[tuple[Image.Image, float]]:
    photos = sample_photos()
    return [(photos[name], seconds) for name, seconds in names]


def _hubble() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.hubble_deep_field()).convert("RGB").resize((320, 240))


def _group_of(groups: list[DuplicateGroup], path: Path) -> DuplicateGroup:
    found = [g for g in groups if path in {m.path for m in g.members}]
    assert len(found) == 1, [[m.path.name for m in g.members] for g in groups]
    return found[0]


def _seconds(clock: str) -> int:
    minutes, seconds = clock.split(":")
    return int(minutes) * 60 + int(seconds)


@pytest.mark.realmodel
def test_a_still_from_the_middle_of_a_clip_is_related_at_its_time_and_never_trashed(
        real_library: Library, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    clip = encode(lib / "clip.mp4", _scenes())
    still = lib / "stills" / "chelsea-grab.jpg"
    still.parent.mkdir(parents=True)
    frame_at(clip, GRAB_AT).save(still, quality=90)
    _hubble().save(lib / "hubble.jpg", quality=88)
    real_library.add_folder(lib)
    real_library.index()

    group = _group_of(real_library.duplicates(), clip)
    assert {m.path for m in group.members} == {clip, still}
    assert group.keeper.path == clip
    member = next(m for m in group.members if m.path == still)
    assert group.suggestion_for(member) == "review"
    relation = re.fullmatch(r"a still from clip\.mp4 at (\d+:\d\d)", group.relation_of(member))
    assert relation is not None, group.relation_of(member)
    assert abs(_seconds(relation[1]) - GRAB_AT) <= INTERVAL_S  # within one sampling interval
    assert bulk_trash([group], []) == [] and group.reclaimable_bytes == 0
    # a still of another moment, kept in a reference folder, is the keeper: neither the video
    # nor the first still is a copy of it
    reference = tmp_path / "reference"
    reference.mkdir()
    frame_at(clip, 1.0).save(reference / "astronaut-grab.jpg", quality=90)
    real_library.add_folder(reference, reference=True)
    real_library.index()
    groups = real_library.duplicates()
    group = _group_of(groups, clip)
    assert group.keeper.path == reference / "astronaut-grab.jpg"
    assert group.suggestion_for(member) == "review"
    assert bulk_trash(groups, [reference]) == []


@pytest.mark.realmodel
def test_a_trimmed_copy_without_the_poster_scene_groups_and_the_whole_clip_is_kept(
        real_library: Library, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    clip = encode(lib / "clip.mp4", _scenes())
    # the first nine seconds, the poster scene with them, are cut away
    trimmed = encode(lib / "cuts" / "clip-cut.mp4", _scenes(SCENES[2:]))
    smaller = encode(lib / "copies" / "clip-small.mkv", _scenes(),
                     codec="libx264", size=(224, 168))
    other = encode(lib / "other.mp4", [(_hubble(), 3.0)])
    real_library.add_folder(lib)
    real_library.index()

    groups = real_library.duplicates()
    group = _group_of(groups, clip)
    assert {m.path for m in group.members} == {clip, trimmed, smaller}
    assert group.keeper.path == clip
    assert all(other not in {m.path for m in g.members} for g in groups)
    by_path = {m.path: m for m in group.members}
    # the re-encoded, resized copy is the same video: a copy to trash
    assert group.suggestion_for(by_path[smaller]) == "trash"
    assert group.relation_of(by_path[smaller]).startswith("same video, smaller (224×168)")
    # the trimmed one is a part of it: the user decides
    assert group.suggestion_for(by_path[trimmed]) == "review"
    assert group.relation_of(by_path[trimmed]) == "a trimmed part of clip.mp4 (0:06 of 0:15)"
    assert [p.path for p in bulk_trash(groups, [])] == [smaller]


@pytest.mark.realmodel
def test_a_trimmed_copy_alone_keeps_the_whole_clip(real_library: Library,
                                                  tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    clip = encode(lib / "b-clip.mp4", _scenes())
    # named and dated to be kept by every later rule: only the length speaks for the clip
    encode(lib / "a-clip.mp4", _scenes(SCENES[2:]))
    real_library.add_folder(lib)
    real_library.index()

    group = _group_of(real_library.duplicates(), clip)
    assert group.keeper.path == clip
    assert group.keep_reason == "The whole video (the others are cut from it)"
    assert group.kinds() == {DuplicateKind.SIMILAR}
    assert bulk_trash([group], []) == []


@pytest.mark.realmodel
def test_a_library_without_videos_groups_as_before(real_library: Library,
                                                   tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    photos = sample_photos((640, 480))
    for name in ("astronaut", "coffee"):
        (lib / "copies").mkdir(parents=True, exist_ok=True)
        photos[name].save(lib / f"{name}.jpg", quality=92)
        photos[name].resize((320, 240)).save(lib / "copies" / f"{name}-small.jpg", quality=80)
    real_library.add_folder(lib)
    real_library.index()
    before = real_library.duplicates()
    assert len(before) == 2

    # a video of other scenes changes nothing for the photos
    encode(lib / "clips" / "other.mp4", _scenes((("chelsea", 2.0), ("rocket", 2.0))))
    real_library.index()
    after = real_library.duplicates()
    assert after == before
