"""Video frames for indexing: decode with PyAV (its wheels bundle ffmpeg) and pick frames.

A frame is kept at each scene change and at least every ``interval_s`` seconds, up to
``max_frames`` per video, so a long static clip costs little and a busy one is still covered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from photosim.core.cancel import CancelToken, check
from photosim.core.errors import DecodeError

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".3gp"})
# Mean absolute difference (0..255) of 32x32 greyscale thumbnails that counts as a new scene.
SCENE_CHANGE = 18.0
# Greyscale standard deviation below which a frame counts as blank (black, a fade) for a poster.
POSTER_MIN_STD = 8.0
# Kept frames are scaled to at most this on their shorter side: the model wants 224-256 px and
# fingerprints 256, and 120 full 4K frames would hold 3 GB.
KEPT_SIDE = 512


@dataclass(frozen=True)
class VideoFrame:
    time: float  # seconds from the start
    image: Image.Image


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _upright(image: Image.Image, rotation: int) -> Image.Image:
    """Phone clips store rotation as metadata; turn the pixels so the frame shows upright."""
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_270}
    transpose = turns.get(rotation % 360)
    return image.transpose(transpose) if transpose is not None else image


@dataclass(frozen=True)
class SampledVideo:
    """What indexing keeps of a video: its sampled frames (upright) and what its header says."""

    frames: list[VideoFrame]  # at most KEPT_SIDE on their shorter side
    duration: float  # seconds
    created: str | None  # ISO 8601 creation time from the container's metadata, if any
    size: tuple[int, int]  # (width, height) of the video as shown, i.e. upright

    @property
    def poster(self) -> VideoFrame:
        """The frame that stands for the video when nothing better is known: the first that
        is not nearly uniform (clips often open on black)."""
        return next((f for f in self.frames if not is_blank(f.image)), self.frames[0])


def is_blank(image: Image.Image) -> bool:
    """Nearly uniform (black, a fade): no use as a poster."""
    return float(np.asarray(image.convert("L"), np.float32).std()) <= POSTER_MIN_STD


def sample_frames(path: Path, interval_s: float = 2.0, max_frames: int = 120,
                  cancel: CancelToken | None = None) -> list[VideoFrame]:
    """Frames at scene changes and at least every ``interval_s``; ``DecodeError`` when the file
    is not a readable video (its reason, like a bad image's, does not name the file: the
    caller shows the path with it)."""
    return sample_video(path, interval_s, max_frames, cancel).frames


def sample_video(path: Path, interval_s: float = 2.0, max_frames: int = 120,
                 cancel: CancelToken | None = None,
                 on_frame: Callable[[float], None] | None = None) -> SampledVideo:
    """:func:`sample_frames` with the duration and creation time, from one opening;
    ``on_frame`` hears the time of each frame kept (progress through a long clip)."""
    import av  # imported here: only indexing needs ffmpeg loaded

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError("not a readable video (it has no video stream)")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames, size = _pick(container.decode(stream), interval_s, max_frames, cancel,
                                 on_frame)
            duration = float(container.duration or 0) / 1_000_000  # av.time_base: microseconds
            created = _iso_time(container.metadata.get("creation_time"))
    except av.error.FFmpegError as exc:
        raise DecodeError(_unreadable(exc)) from exc
    if not frames:
        raise DecodeError("not a readable video (no frame could be decoded)")
    return SampledVideo(frames, max(duration, frames[-1].time), created, size)


def frame_at(path: Path, time: float) -> Image.Image:
    """The upright frame shown at ``time`` seconds (a thumbnail for a search hit or a poster):
    seeks to the key frame before it and decodes forward."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError("not a readable video (it has no video stream)")
            stream = container.streams.video[0]
            if time > 0 and stream.time_base:
                container.seek(int(time / stream.time_base), stream=stream)
            image: Image.Image | None = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                image = _upright(frame.to_image(), int(getattr(frame, "rotation", 0) or 0))  # type: ignore[no-untyped-call]
                if frame.time >= time - 1e-3:
                    break
    except av.error.FFmpegError as exc:
        raise DecodeError(_unreadable(exc)) from exc
    if image is None:
        raise DecodeError("not a readable video (no frame could be decoded)")
    return image


def thumbnail(path: Path, time: float, size: int) -> Image.Image:
    """The frame at ``time`` fitted into ``size`` x ``size`` (a video's grid or result tile)."""
    if size <= 0:
        raise ValueError(f"thumbnail size must be positive, not {size}")
    picture = frame_at(path, time)
    picture.thumbnail((size, size), Image.Resampling.BICUBIC)
    return picture


def _unreadable(exc: Exception) -> str:
    """ffmpeg's reason in words, without its error number and the path (the caller shows
    the path, as for a bad image)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"not a readable video ({str(reason).rstrip('.').lower()})"


def _iso_time(value: str | None) -> str | None:
    """"2024-05-01T12:00:00.000000Z" → "2024-05-01T12:00:00" (the catalog's date_taken form)."""
    if not value or len(value) < 19 or value[4] != "-" or value[10] not in "T ":
        return None
    return value[:10] + "T" + value[11:19]


def _pick(frames: object, interval_s: float, max_frames: int, cancel: CancelToken | None,
          on_frame: Callable[[float], None] | None = None
          ) -> tuple[list[VideoFrame], tuple[int, int]]:
    """The frames to keep, and the video's upright size."""
    kept: list[VideoFrame] = []
    size = (0, 0)
    last_time = -interval_s
    last_signature: np.ndarray | None = None
    for frame in frames:  # type: ignore[attr-defined]
        if frame.time is None:
            continue
        check(cancel)
        signature = _signature(frame)
        changed = (last_signature is not None
                   and float(np.abs(signature - last_signature).mean()) > SCENE_CHANGE)
        if changed or frame.time - last_time >= interval_s:
            rotation = int(getattr(frame, "rotation", 0) or 0)
            size = (frame.height, frame.width) if rotation % 180 else (frame.width, frame.height)
            kept.append(VideoFrame(float(frame.time), _upright(_kept_image(frame), rotation)))
            last_time = float(frame.time)
            if on_frame is not None:
                on_frame(last_time)
            if len(kept) >= max_frames:
                break
        last_signature = signature
    return kept, size


def _kept_image(frame: object) -> Image.Image:
    """The frame as RGB, scaled by ffmpeg to at most KEPT_SIDE on its shorter side."""
    width, height = frame.width, frame.height  # type: ignore[attr-defined]
    scale = min(1.0, KEPT_SIDE / max(1, min(width, height)))
    if scale < 1.0:
        frame = frame.reformat(width=max(2, round(width * scale)),  # type: ignore[attr-defined]
                               height=max(2, round(height * scale)), format="rgb24")
    image: Image.Image = frame.to_image()  # type: ignore[attr-defined]
    return image


def _signature(frame: object) -> np.ndarray:
    """A 32x32 greyscale thumbnail of a decoded frame, scaled by ffmpeg: every frame of a
    clip needs one, and making an RGB picture of each first cost 20x more (1080p)."""
    small = frame.reformat(width=32, height=32, format="gray")  # type: ignore[attr-defined]
    return np.asarray(small.to_ndarray(), dtype=np.float32)


def duration_s(path: Path) -> float:
    import av

    try:
        with av.open(str(path)) as container:
            return float(container.duration or 0) / 1_000_000  # av.time_base: microseconds
    except av.error.FFmpegError as exc:
        raise DecodeError(_unreadable(exc)) from exc
