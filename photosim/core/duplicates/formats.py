"""What a file's format says of its origin: a camera's original, an export, a screenshot."""

from __future__ import annotations

from photosim.core.types import Photo

RAW_FORMATS = frozenset({"DNG", "CR2", "CR3", "NEF", "ARW", "ORF", "RW2", "RAF", "PEF", "SRW"})
HEIF_FORMATS = frozenset({"HEIF", "HEIC", "AVIF"})
# A camera writes RAW, HEIC or JPEG; TIFF comes from scanners and editors; PNG, WebP and GIF
# copies of a photo are almost always exports, screenshots or downloads.
_FORMAT_RANK = {"JPEG": 3, "MPO": 3, "TIFF": 2, "PNG": 1, "WEBP": 1, "GIF": 0, "BMP": 0}


def format_rank(photo: Photo) -> int:
    """How likely a format is a camera's original: RAW 5, JPEG or a HEIC with camera metadata
    3, TIFF or a HEIC without camera metadata (an export) 2, PNG/WebP 1, others 0."""
    fmt = (photo.format or photo.path.suffix.lstrip(".")).upper()
    if fmt in RAW_FORMATS or photo.path.suffix.lstrip(".").upper() in RAW_FORMATS:
        return 5
    if fmt in HEIF_FORMATS:  # a camera's HEIC is as original as its JPEG; else an export
        return 3 if has_camera_metadata(photo) else 2
    return _FORMAT_RANK.get(fmt, 0)


def has_camera_metadata(photo: Photo) -> bool:
    return bool(photo.date_taken or photo.camera)


_SCREENSHOT_BELOW = 2  # format ranks of screenshot formats (PNG, WebP, GIF, BMP)


def is_screenshot_pair(crop: Photo, frame: Photo) -> bool:
    """Whether ``frame`` may be a screenshot holding ``crop``: a screenshot format around a
    camera format."""
    return format_rank(frame) < _SCREENSHOT_BELOW <= format_rank(crop)
