"""Pictures of library files for the facade: the thumbnail cache (small JPEGs of photos and
of video frames, made on first use and kept by content, so that a moved or copied file keeps
its thumbnail), a video's still, and the picture a file is embedded from."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from photosim.core import decode, video
from photosim.core.catalog.videos import VideoStore
from photosim.core.errors import DecodeError
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


def video_still(path: Path, size: int) -> Image.Image:
    """A picture of a video file for showing it large (a comparison card, a preview): its
    frame a third of the way in, which is past any opening black. ``DecodeError`` when it is
    not a readable video."""
    return video.thumbnail(path, video.duration_s(path) / 3, size)


def picture_to_embed(path: Path, resize_shorter: int) -> Image.Image:
    """The picture a photo or video file (library or not) is embedded from; ``DecodeError``
    naming the file when it cannot be read."""
    if not path.exists():  # decoding would call it "vanished while reading"
        raise DecodeError(f"{path}: no such file.")
    try:
        return (video_still(path, 1600) if video.is_video(path) else
                decode.load_rgb(path, resize_shorter).image)
    except DecodeError as exc:  # decode's reasons ("not an image") do not name the file
        raise DecodeError(f"{path}: {exc}") from exc
