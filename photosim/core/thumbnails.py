"""The facade's thumbnail cache: small JPEGs of photos and of video frames, made on first
use and kept by content, so that a moved or copied file keeps its thumbnail."""

from __future__ import annotations

from pathlib import Path

from photosim.core import decode, video
from photosim.core.catalog.videos import VideoStore
from photosim.core.fsutil import atomic_writer
from photosim.core.types import Photo


def thumbnail_path(folder: Path, photo: Photo, size: int, time: float | None) -> Path:
    """Where the cached thumbnail of ``photo`` lives in ``folder`` (made or not). ``time``: a
    video's frame at that time."""
    key = photo.content_hash or f"id{photo.id}-{photo.mtime_ns}"
    at = "" if time is None else f"-t{round(time * 1000)}"
    return folder / key[:2] / f"{key}{at}-{size}.jpg"


def thumbnail(folder: Path, videos: VideoStore, photo: Photo, size: int,
              time: float | None) -> Path:
    """A photo's thumbnail; a video's poster frame, or its frame at ``time``."""
    if video.is_video(photo.path):  # the poster by its time: a new model may pick another
        time = _video_time(videos, photo, time)
    target = thumbnail_path(folder, photo, size, time)
    if not target.exists():
        image = (video.thumbnail(photo.path, time, size)
                 if video.is_video(photo.path) and time is not None
                 else decode.make_thumbnail(photo.path, size))
        with atomic_writer(target) as handle:
            image.save(handle, "JPEG", quality=85)
    return target


def _video_time(videos: VideoStore, photo: Photo, time: float | None) -> float:
    facts = videos.facts_of(photo.content_hash) if photo.content_hash else None
    return time if time is not None else facts.poster_time if facts else 0.0
