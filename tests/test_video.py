"""Video frame sampling on real clips the test encodes from real photos with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from photosim.core.errors import DecodeError
from photosim.core.video import duration_s, sample_frames, sample_video

FPS = 10


def _photos() -> list[Image.Image]:
    from skimage import data

    return [Image.fromarray(p).convert("RGB").resize((320, 240))
            for p in (data.astronaut(), data.coffee(), data.chelsea())]


def _encode(path: Path, scenes: list[tuple[Image.Image, float]]) -> Path:
    """A clip showing each picture for its number of seconds."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for image, seconds in scenes:
            for _ in range(int(seconds * FPS)):
                container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))
    return path


def _diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


def test_scene_changes_are_sampled_at_their_time(tmp_path: Path) -> None:
    astronaut, coffee, cat = _photos()
    clip = _encode(tmp_path / "clip.mp4", [(astronaut, 1.5), (coffee, 3.3), (cat, 1.0)])
    frames = sample_frames(clip, interval_s=2.0)
    times = [round(f.time, 1) for f in frames]
    # The start, the cut to coffee at 1.5 s, a fill-in 2 s later, the cut to the cat at 4.8 s.
    assert times == [0.0, 1.5, 3.5, 4.8]
    assert _diff(frames[1].image, coffee) < 12 and _diff(frames[1].image, astronaut) > 30
    assert _diff(frames[3].image, cat) < 12
    assert duration_s(clip) == pytest.approx(5.8, abs=0.2)


def test_frame_cap_limits_a_long_clip(tmp_path: Path) -> None:
    clip = _encode(tmp_path / "long.mp4", [(_photos()[0], 12.0)])
    assert len(sample_frames(clip, interval_s=1.0, max_frames=4)) == 4


def test_a_corrupt_video_is_one_decode_error(tmp_path: Path) -> None:
    clip = _encode(tmp_path / "good.mp4", [(_photos()[0], 1.0)])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[:300])
    with pytest.raises(DecodeError, match=r"^not a readable video \(invalid data found"):
        sample_frames(broken)
    text = tmp_path / "notes.mov"
    text.write_text("not a video\n")
    with pytest.raises(DecodeError, match=r"^not a readable video"):
        sample_frames(text)


def test_kept_frames_are_scaled_down_and_the_size_is_the_videos(tmp_path: Path) -> None:
    """A 720p clip keeps 910x512 frames (memory), and says it is 1280x720."""
    picture = _photos()[1].resize((1280, 720))
    clip = tmp_path / "hd.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for _ in range(FPS):
            container.mux(stream.encode(av.VideoFrame.from_image(picture)))
        container.mux(stream.encode(None))
    video = sample_video(clip)
    assert video.size == (1280, 720)
    assert {f.image.size for f in video.frames} == {(910, 512)}
    assert _diff(video.frames[0].image, picture.resize((910, 512))) < 12
