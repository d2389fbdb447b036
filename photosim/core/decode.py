"""Image files → upright RGB pixels, fast, with every failure turned into a plain reason.

Speed matters because the indexer decodes every photo in a library only to shrink it to a
224 px model input. So the decoder asks each format for the smallest picture that is still big
enough: JPEG decodes at 1/2, 1/4 or 1/8 scale straight from the DCT coefficients ("draft"),
HEIC hands over its embedded thumbnail when that is large enough, and everything else is
box-reduced right after decoding. EXIF orientation is applied last, on the small picture,
where a rotation costs a fraction of a millisecond instead of tens of milliseconds.

Every failure leaves as :class:`~photosim.core.errors.DecodeError` whose message says what is
wrong with the file in words a user understands; anything else escaping is a bug.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import math
import os
import stat
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from photosim.core.cancel import CancelToken
from photosim.core.cancel import check as check_cancel
from photosim.core.errors import DecodeError
from photosim.core.types import ImageInfo

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif",
     ".avif"}
)

# Pillow refuses outright above twice its MAX_IMAGE_PIXELS default; using the same number keeps
# the two guards in agreement whatever a user has done to Pillow's global.
MAX_PIXELS: int = 178_956_970

# Only these readers are tried, whatever the file's name says (JPEG also yields MPO). Pillow
# knows formats (EPS, for one) whose reader runs external programs; photos never need them.
_ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF", "HEIF", "AVIF")

# Errors Pillow and its plugins raise on damaged data (fuzzing finds all of these).
_CORRUPT_DATA_ERRORS: tuple[type[BaseException], ...] = (
    SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
    ZeroDivisionError, OverflowError, RuntimeError, zlib.error,
)
_UNREADABLE_METADATA: tuple[type[BaseException], ...] = (*_CORRUPT_DATA_ERRORS, OSError)

_EXIF_ORIENTATION = 0x0112
_EXIF_MAKE = 0x010F
_EXIF_MODEL = 0x0110
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_DATETIME_DIGITIZED = 0x9004

# How to turn stored pixels upright for each EXIF orientation (the inverse of how they were
# stored); 5-8 swap width and height.
_UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_WHITE = (255, 255, 255)

_plugins_lock = threading.Lock()
_plugins_registered = False


@dataclass(frozen=True)
class DecodedImage:
    """Upright RGB pixels, possibly scaled down, and what the header says about the original."""

    image: Image.Image
    info: ImageInfo


def register_plugins() -> None:
    """Teach Pillow to open HEIC/HEIF (pillow-heif). Safe to call any number of times.

    AVIF is read by Pillow itself (11.3+, built with libavif); pillow-heif 1.x no longer reads it.
    """
    global _plugins_registered
    with _plugins_lock:
        if _plugins_registered:
            return
        from pillow_heif import register_heif_opener

        Image.init()  # Image.open(formats=...) needs every allowed reader loaded, not just some
        register_heif_opener()
        _plugins_registered = True


def read_info(path: Path) -> ImageInfo:
    """What the file's header says: size as displayed, format, EXIF date/camera/orientation.

    Reads the header only; no pixels are decoded.
    """
    with _open_image(path) as im, _reasons(path, im.format):
        return _info_of(im)


def load_rgb(path: Path, min_side: int, cancel: CancelToken | None = None,
             data: bytes | None = None) -> DecodedImage:
    """Decode ``path`` to upright RGB with the shorter side at least ``min_side`` pixels.

    The picture is decoded only as large as needed (never more than about twice ``min_side`` on
    its shorter side, unless the original is smaller); ``min_side <= 0`` means full size.
    ``info`` describes the original, full-size picture as displayed.

    ``cancel`` stops the decode with ``Cancelled`` at the decoder's next read of the file
    (every 64 KiB) or the next strip of the conversion: a 169 MP picture takes 10-15 s, and
    Ctrl-C must not wait for it. (A TIFF that libtiff decodes is read in one call: that part
    runs to its end.)

    ``data``: the file's bytes when the caller has read them already (to hash them); they are
    decoded instead of reading ``path`` again.
    """
    return _decode(path, lambda w, h: min_side, cancel, data)


def make_thumbnail(path: Path, size: int) -> Image.Image:
    """An upright RGB thumbnail that fits in ``size`` x ``size``, decoded as cheaply as possible."""
    if size <= 0:
        raise ValueError(f"thumbnail size must be positive, not {size}")

    def shorter_side_needed(width: int, height: int) -> int:
        return math.ceil(min(width, height) * size / max(width, height, 1))

    picture = _decode(path, shorter_side_needed).image
    picture.thumbnail((size, size), Image.Resampling.BICUBIC)
    return picture


# -- decoding -------------------------------------------------------------------------------


def _decode(path: Path, shorter_side_for: Callable[[int, int], int],
            cancel: CancelToken | None = None, data: bytes | None = None) -> DecodedImage:
    """Decode ``path`` (or its bytes, ``data``), asking ``shorter_side_for(width, height)``
    how small it may come out."""
    with _open_image(path, cancel, data) as im, _reasons(path, im.format):
        info = _info_of(im)
        wanted = shorter_side_for(im.width, im.height)
        _request_smaller_decode(im, wanted)
        im.load()
        still_to_turn = 1 if _decoder_uprights(im) else info.orientation
        picture = _small_rgb(im, wanted, cancel)
    return DecodedImage(_upright(picture, still_to_turn), info)


def _request_smaller_decode(im: Image.Image, min_side: int) -> None:
    """Let the format decode a smaller picture: JPEG DCT scaling, or a HEIC's own thumbnail.

    The requested size keeps the aspect ratio and has its shorter side at ``min_side``; both
    readers only ever pick a picture at least that large in both dimensions.
    """
    width, height = im.size
    shorter = min(width, height)
    if min_side <= 0 or shorter <= min_side:
        return
    scale = min_side / shorter
    requested = (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))
    im.draft(None, requested)


def _reduce_factor(size: tuple[int, int], min_side: int) -> int:
    """The whole box-shrink factor that keeps the shorter side at least ``min_side``."""
    return max(1, min(size) // min_side) if min_side > 0 else 1


def _small_rgb(im: Image.Image, min_side: int, cancel: CancelToken | None = None
               ) -> Image.Image:
    """The decoded picture as 8-bit RGB, box-reduced while its shorter side stays at least
    ``min_side``, converted and reduced a strip of rows at a time.

    Memory is bounded by the decoded picture itself (at most 4 bytes a pixel in Pillow, so
    ~720 MB at the pixel limit) plus one strip: converting the whole picture first made full
    size copies (float64 for 16-bit and float pictures, RGBA and a white canvas for a
    palette), 4-5 GB for a 356 KB PNG just under the limit."""
    factor = _reduce_factor(im.size, min_side)
    width, height = im.size
    if width * height <= _STRIP_PIXELS:
        picture = _to_rgb(im)
        return picture.reduce(factor) if factor >= 2 else picture
    grey_scale = _grey_scale(im, cancel) if _is_high_depth(im.mode) else None
    rows = max(factor, _STRIP_PIXELS // width // factor * factor)  # whole boxes per strip
    out = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    for top in range(0, height, rows):
        check_cancel(cancel)
        strip = im.crop((0, top, width, min(height, top + rows)))
        strip_rgb = _to_rgb(strip, grey_scale)
        del strip
        out.paste(strip_rgb.reduce(factor) if factor >= 2 else strip_rgb, (0, top // factor))
    return out


_STRIP_PIXELS = 1 << 22  # 4 MP a strip: at most ~32 MB of float64 working copies


def _upright(picture: Image.Image, orientation: int) -> Image.Image:
    transpose = _UPRIGHT.get(orientation)
    return picture.transpose(transpose) if transpose is not None else picture


# -- colour modes ---------------------------------------------------------------------------


def _to_rgb(im: Image.Image, grey_scale: float | None = None) -> Image.Image:
    """Any Pillow mode → 8-bit RGB: alpha onto white, palette expanded, 16-bit scaled down
    (by ``grey_scale`` when given: a strip must be scaled as the whole picture is)."""
    mode = im.mode
    if mode == "RGB":
        return im.copy() if isinstance(im, ImageFile.ImageFile) else im
    if mode == "P":
        rgba_palette = im.palette is not None and im.palette.mode == "RGBA"
        has_alpha = "transparency" in im.info or rgba_palette
        return _on_white(im.convert("RGBA")) if has_alpha else im.convert("RGB")
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        return _on_white(im.convert("RGBA"))
    if _is_high_depth(mode):
        return _high_depth_to_rgb(im, grey_scale if grey_scale is not None else _grey_scale(im))
    if mode in {"1", "L", "CMYK", "YCbCr", "LAB", "HSV"}:
        return im.convert("RGB")
    raise DecodeError(f"unsupported colour mode ({mode})")


def _on_white(rgba: Image.Image) -> Image.Image:
    """Composite transparent pixels onto white, as a viewer on a light background shows them."""
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _is_high_depth(mode: str) -> bool:
    return mode.startswith("I") or mode == "F"


def _grey_scale(im: Image.Image, cancel: CancelToken | None = None) -> float:
    """The factor that maps 16-bit and 32-bit grey (I;16, I, F) onto 0..255 by scaling, not
    clipping: floats in 0..1 are stretched, values beyond 8 bits divided by 257. Read a strip
    at a time: the picture's own extremes, without a full-size copy."""
    width, height = im.size
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    peak = -math.inf
    for top in range(0, height, rows):
        check_cancel(cancel)
        values = np.asarray(im.crop((0, top, width, min(height, top + rows))))
        if values.size:
            finite = values[~np.isnan(values)] if im.mode == "F" else values
            if finite.size:
                peak = max(peak, float(finite.max()))
    if im.mode == "F" and peak <= 1.0:
        return 255.0
    return 1 / 257.0 if peak > 255 else 1.0


def _high_depth_to_rgb(im: Image.Image, scale: float) -> Image.Image:
    values = np.asarray(im).astype(np.float32)
    values *= scale
    grey = np.clip(np.nan_to_num(values), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


# -- header information ---------------------------------------------------------------------


def _info_of(im: Image.Image) -> ImageInfo:
    """ImageInfo for an opened, not yet decoded image."""
    exif = _exif_of(im)
    orientation = _stored_orientation(im, exif)
    width, height = im.size
    if orientation in {5, 6, 7, 8} and not _decoder_uprights(im):
        width, height = height, width
    return ImageInfo(
        width=width,
        height=height,
        format=im.format or "unknown",
        date_taken=_date_taken(exif),
        orientation=orientation,
        camera=_camera(exif),
        exif_fields=_count_fields(exif),
    )


def _decoder_uprights(im: Image.Image) -> bool:
    """HEIF pixels come out of libheif already upright; pillow-heif keeps the old orientation."""
    return im.format == "HEIF"


def _exif_of(im: Image.Image) -> Image.Exif:
    """The EXIF block, or an empty one; damaged EXIF is not a reason to refuse a picture."""
    if im.format == "PNG" and "exif" not in im.info:
        return Image.Exif()  # PNG's getexif() would decode all pixels to look after them
    try:
        return im.getexif()
    except _UNREADABLE_METADATA as error:
        log.debug("ignoring unreadable EXIF in %s: %r", getattr(im, "filename", "?"), error)
        return Image.Exif()


def _stored_orientation(im: Image.Image, exif: Image.Exif | None = None) -> int:
    """EXIF orientation 1..8 as the file states it (pillow-heif moves it to info)."""
    original = im.info.get("original_orientation")
    if isinstance(original, int) and 1 <= original <= 8:
        return original
    value = (exif if exif is not None else _exif_of(im)).get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _date_taken(exif: Image.Exif) -> str | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" → ISO 8601 "YYYY-MM-DDTHH:MM:SS"; None when absent or junk."""
    sub = _sub_ifd(exif, _EXIF_IFD)
    for tag in (_EXIF_DATETIME_ORIGINAL, _EXIF_DATETIME_DIGITIZED):
        iso = _exif_datetime_to_iso(sub.get(tag))
        if iso is not None:
            return iso
    return None


def _exif_datetime_to_iso(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    if len(text) < 19 or text[4] != ":" or text[7] != ":" or text[10] not in " T":
        return None
    date, time = text[:10].replace(":", "-"), text[11:19]
    digits = date.replace("-", "") + time.replace(":", "")
    if not digits.isdigit() or date.startswith("0000") or date[5:7] == "00":
        return None
    return f"{date}T{time}"


def _camera(exif: Image.Exif) -> str | None:
    """ "Make Model", without repeating a make that the model name already starts with."""
    make, model = _exif_text(exif.get(_EXIF_MAKE)), _exif_text(exif.get(_EXIF_MODEL))
    if make and model and model.lower().startswith(make.lower()):
        return model
    camera = " ".join(part for part in (make, model) if part)
    return camera or None


def _exif_text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00 ").strip() if isinstance(value, str) else ""


def _count_fields(exif: Image.Exif) -> int:
    """Tags in the main, Exif and GPS directories (the pointer tags themselves not counted)."""
    pointers = {_EXIF_IFD, _GPS_IFD}
    count = sum(1 for tag in exif if tag not in pointers)
    return count + len(_sub_ifd(exif, _EXIF_IFD)) + len(_sub_ifd(exif, _GPS_IFD))


def _sub_ifd(exif: Image.Exif, tag: int) -> dict[int, object]:
    try:
        return dict(exif.get_ifd(tag))
    except _UNREADABLE_METADATA as error:
        log.debug("ignoring unreadable EXIF directory %#x: %r", tag, error)
        return {}


# -- opening and failure reasons ------------------------------------------------------------


@contextlib.contextmanager
def _open_image(path: Path, cancel: CancelToken | None = None, data: bytes | None = None
                ) -> Iterator[Image.Image]:
    """Open ``path`` (or its bytes, ``data``) lazily (header only) among the allowed formats;
    close it afterwards. With ``cancel``, every read the decoder makes first checks it
    (``_CancellableFile``)."""
    register_plugins()
    with contextlib.ExitStack() as stack:
        with _reasons(path, None):
            if data is None:
                _check_file(path)
            elif not data:
                raise DecodeError("empty file (0 bytes)")
            handle: io.BufferedIOBase = stack.enter_context(
                open(path, "rb") if data is None else io.BytesIO(data))  # noqa: SIM115
            _check_jpeg_frame_header(handle)
            handle.seek(0)
            source: Path | IO[bytes] = path if data is None else cast("IO[bytes]", handle)
            if cancel is not None:  # a file in all that Pillow asks of one
                source = cast("IO[bytes]", _CancellableFile(handle, cancel))
            im = Image.open(source, formats=_ALLOWED_FORMATS)
            if cancel is not None and im.format == "PNG" and isinstance(im, ImageFile.ImageFile):
                # Each read is decoded in one call: 64 KiB of a well-compressed PNG inflate to
                # ~60 MB, a second of work before the next check; 8 KiB keeps it near 0.1 s.
                # (JPEG inflates ~10x: its default blocks decode in milliseconds, and smaller
                # ones cost it 25 % more time.)
                im.decodermaxblock = _CANCELLABLE_BLOCK
        with im:
            _check_pixels(im.size)
            yield im


_CANCELLABLE_BLOCK = 8192


def _check_file(path: Path) -> None:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):  # opening a pipe would block, a device never ends
        raise DecodeError("not a regular file")
    if st.st_size == 0:
        raise DecodeError("empty file (0 bytes)")


class _CancellableFile:
    """A file whose reads raise ``Cancelled`` once the token is cancelled. Pillow's decoders
    pull their input a block at a time through ``read``, so a cancel lands within one block
    of decoding; everything else is the file's own."""

    def __init__(self, handle: io.BufferedIOBase, cancel: CancelToken) -> None:
        self._handle = handle
        self._cancel = cancel

    def read(self, size: int = -1) -> bytes:
        check_cancel(self._cancel)
        return self._handle.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        check_cancel(self._cancel)
        return self._handle.readinto(buffer)

    def __getattr__(self, name: str) -> object:  # seek, tell, fileno, name ...
        return getattr(self._handle, name)


_JPEG_SOI = b"\xff\xd8"
_JPEG_MAX_JUNK = 1 << 20  # stray bytes between markers a damaged-but-readable file may have
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field
_JPEG_NOT_FRAMES = frozenset({0xC4, 0xC8, 0xCC})  # DHT, JPG, DAC share the SOFn range


def _check_jpeg_frame_header(handle: io.BufferedIOBase) -> None:
    """A JPEG must reach its frame header (SOFn) by hopping over length-prefixed segments.

    Pillow looks for it one byte at a time through whatever follows: a 3 GB sparse file that
    starts like a JPEG took 259 s to refuse, deaf to Ctrl-C. Hopping over segments and
    allowing at most 1 MiB of stray bytes refuses such a file in milliseconds. Reads
    ``handle`` from its start and leaves it wherever the check stopped."""
    if handle.read(2) != _JPEG_SOI:
        return  # not a JPEG: Pillow's other readers parse by lengths already
    junk = 0
    while True:
        junk += _skip_to_marker(handle, _JPEG_MAX_JUNK - junk)
        marker = _read_exact(handle, 1)[0]
        if marker == 0xFF:  # a fill byte: the marker follows
            handle.seek(-1, os.SEEK_CUR)
            continue
        if marker == 0x00 or marker in _JPEG_STANDALONE:
            continue
        if 0xC0 <= marker <= 0xCF and marker not in _JPEG_NOT_FRAMES:
            return
        if marker in (0xD9, 0xDA):  # EOI or scan data before any frame header
            raise DecodeError("corrupt JPEG data (no frame header)")
        length = int.from_bytes(_read_exact(handle, 2), "big")
        if length < 2:
            raise DecodeError("corrupt JPEG data (bad segment length)")
        handle.seek(length - 2, os.SEEK_CUR)


def _skip_to_marker(handle: io.BufferedIOBase, allowed: int) -> int:
    """Read up to the next 0xFF (consumed); returns how many other bytes came first."""
    skipped = 0
    while True:
        chunk = handle.read(min(4096, allowed - skipped + 1))
        if not chunk:
            raise DecodeError("truncated JPEG data (no frame header)")
        found = chunk.find(0xFF)
        if found >= 0:
            handle.seek(found + 1 - len(chunk), os.SEEK_CUR)
            return skipped + found
        skipped += len(chunk)
        if skipped > allowed:
            raise DecodeError("corrupt JPEG data (no frame header where one belongs)")


def _read_exact(handle: io.BufferedIOBase, count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise DecodeError("truncated JPEG data (no frame header)")
    return data


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise DecodeError(f"image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise DecodeError(f"image too large ({width}x{height} pixels)")


@contextlib.contextmanager
def _reasons(path: Path, format_name: str | None) -> Iterator[None]:
    """Turn whatever reading ``path`` raises into a DecodeError that says why in plain words."""
    try:
        yield
    except DecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DecodeError(f"image too large ({_pixels_in(error)})") from error
    except UnidentifiedImageError as error:
        raise DecodeError("not an image (unrecognised format)") from error
    except FileNotFoundError as error:
        raise DecodeError("file vanished while reading") from error
    except PermissionError as error:
        raise DecodeError("permission denied") from error
    except IsADirectoryError as error:
        raise DecodeError("is a folder, not a file") from error
    except MemoryError as error:
        raise DecodeError("not enough memory to decode this image") from error
    except OSError as error:
        raise DecodeError(_os_error_reason(error, path, format_name)) from error
    except _CORRUPT_DATA_ERRORS as error:
        log.debug("decoding %s failed: %r", path, error)
        raise DecodeError(_corrupt(path, format_name)) from error


def _os_error_reason(error: OSError, path: Path, format_name: str | None) -> str:
    """An OSError is either the disk's fault (it has an errno) or Pillow's word for bad data."""
    if error.errno is not None:
        detail = error.strerror or errno.errorcode.get(error.errno, str(error.errno))
        return f"could not read the file ({detail})"
    log.debug("decoding %s failed: %r", path, error)
    return _corrupt(path, format_name)


def _corrupt(path: Path, format_name: str | None) -> str:
    kind = format_name or path.suffix.lstrip(".").upper() or "image"
    return f"truncated or corrupt {kind} data"


def _pixels_in(error: BaseException) -> str:
    """Pillow's bomb message names the pixel count but not the dimensions."""
    words = str(error).split("(", 1)[-1].split(")", 1)[0]
    return words if "pixels" in words else "too many pixels"
