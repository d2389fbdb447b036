"""Decoding real files: orientation, colour modes, fast paths, and every kind of bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosim.core import decode
from photosim.core.decode import load_rgb, make_thumbnail, read_info
from photosim.core.errors import DecodeError
from tests.imagegen import save, scene, truncated_jpeg, with_exif_orientation


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, (a.size, b.size)
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


def exif_bytes(orientation: int = 1, make: str | None = None, model: str | None = None,
               taken: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    return exif.tobytes()


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A tiny, valid-looking PNG whose header claims ``width`` x ``height`` (a bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


# -- orientation ----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path, orientation: int) -> None:
    upright = scene(1, (320, 240))
    path = with_exif_orientation(upright, tmp_path / f"r{orientation}.jpg", orientation)

    decoded = load_rgb(path, 0)

    assert decoded.image.size == upright.size
    assert mean_abs_diff(decoded.image, upright) < 6
    assert decoded.info.orientation == orientation
    assert (decoded.info.width, decoded.info.height) == (320, 240)


def test_rotated_jpeg_downscaled_is_still_upright(tmp_path: Path) -> None:
    upright = scene(2, (1600, 1200))
    path = with_exif_orientation(upright, tmp_path / "r6.jpg", 6)

    decoded = load_rgb(path, 150)

    assert decoded.image.width > decoded.image.height  # landscape, as displayed
    reference = upright.resize(decoded.image.size, Image.Resampling.BOX)
    assert mean_abs_diff(decoded.image, reference) < 10


def test_read_info_swaps_dimensions_for_quarter_turns(tmp_path: Path) -> None:
    path = with_exif_orientation(scene(3, (400, 300)), tmp_path / "r8.jpg", 8)
    info = read_info(path)
    assert (info.width, info.height, info.orientation, info.format) == (400, 300, 8, "JPEG")


def test_read_info_exif_fields(tmp_path: Path) -> None:
    path = save(scene(4, (64, 48)), tmp_path / "cam.jpg",
                exif=exif_bytes(1, "Canon", "Canon EOS 5D", "2021:07:04 13:45:10"))
    info = read_info(path)
    assert info.date_taken == "2021-07-04T13:45:10"
    assert info.camera == "Canon EOS 5D"
    assert info.exif_fields >= 4

    other = save(scene(4, (64, 48)), tmp_path / "cam2.jpg", exif=exif_bytes(1, "FUJIFILM", "X-T3"))
    assert read_info(other).camera == "FUJIFILM X-T3"
    assert read_info(other).date_taken is None


def test_read_info_ignores_junk_dates(tmp_path: Path) -> None:
    path = save(scene(5, (64, 48)), tmp_path / "d.jpg",
                exif=exif_bytes(1, taken="0000:00:00 00:00:00"))
    assert read_info(path).date_taken is None


def test_read_info_does_not_decode_pixels(tmp_path: Path) -> None:
    """A truncated file still has a readable header; only a pixel decode would notice."""
    path = truncated_jpeg(scene(6, (800, 600)), tmp_path / "t.jpg", keep=0.3)
    assert (read_info(path).width, read_info(path).height) == (800, 600)
    with pytest.raises(DecodeError):
        load_rgb(path, 0)


# -- the fast paths -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twelve_mp_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "12mp.jpg"
    return save(scene(7, (4000, 3000)), path, quality=90)


def test_twelve_mp_jpeg_uses_dct_scaling(twelve_mp_jpeg: Path) -> None:
    decoded = load_rgb(twelve_mp_jpeg, 256)
    # 1/8 DCT scaling gives 500x375: small, but never below the requested shorter side.
    assert decoded.image.size == (500, 375)
    assert decoded.image.mode == "RGB"
    assert (decoded.info.width, decoded.info.height) == (4000, 3000)


@pytest.mark.parametrize("min_side", [64, 100, 256, 700, 1500])
def test_decoded_size_is_enough_but_never_more_than_twice(twelve_mp_jpeg: Path,
                                                          min_side: int) -> None:
    shorter = min(load_rgb(twelve_mp_jpeg, min_side).image.size)
    assert min_side <= shorter < 2 * min_side


def test_draft_decode_matches_a_full_decode_downscaled(twelve_mp_jpeg: Path) -> None:
    small = load_rgb(twelve_mp_jpeg, 256).image
    full = load_rgb(twelve_mp_jpeg, 0).image
    assert full.size == (4000, 3000)
    assert mean_abs_diff(small, full.resize(small.size, Image.Resampling.BOX)) < 4


def test_progressive_jpeg_draft(tmp_path: Path) -> None:
    path = save(scene(8, (2400, 1600)), tmp_path / "p.jpg", progressive=True, quality=85)
    assert load_rgb(path, 200).image.size == (300, 200)


def test_non_jpeg_is_reduced_after_decoding(tmp_path: Path) -> None:
    path = save(scene(9, (1200, 900)), tmp_path / "big.png")
    image = load_rgb(path, 200).image
    assert 200 <= min(image.size) < 400


def test_small_image_is_never_upscaled(tmp_path: Path) -> None:
    path = save(scene(10, (120, 90)), tmp_path / "small.jpg")
    assert load_rgb(path, 256).image.size == (120, 90)


@pytest.mark.parametrize(("source", "expected"), [((400, 300), (64, 48)), ((300, 400), (48, 64))])
def test_thumbnail_fits_the_box(tmp_path: Path, source: tuple[int, int],
                                expected: tuple[int, int]) -> None:
    path = save(scene(11, source), tmp_path / "t.jpg")
    thumb = make_thumbnail(path, 64)
    assert thumb.size == expected and thumb.mode == "RGB"


def test_thumbnail_is_oriented(tmp_path: Path) -> None:
    upright = scene(12, (400, 300))
    path = with_exif_orientation(upright, tmp_path / "r6.jpg", 6)
    thumb = make_thumbnail(path, 100)
    assert thumb.size == (100, 75)
    assert mean_abs_diff(thumb, upright.resize((100, 75), Image.Resampling.BOX)) < 12


# -- HEIC / AVIF ----------------------------------------------------------------------------


def test_heic_round_trip(tmp_path: Path) -> None:
    decode.register_plugins()
    original = scene(13, (320, 240))
    path = save(original, tmp_path / "photo.heic", quality=90)

    decoded = load_rgb(path, 0)

    assert decoded.info.format == "HEIF"
    assert decoded.image.size == (320, 240)
    assert mean_abs_diff(decoded.image, original) < 8


def test_heic_with_orientation_is_not_turned_twice(tmp_path: Path) -> None:
    decode.register_plugins()
    upright = scene(14, (320, 240))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    path = save(stored, tmp_path / "r6.heic", exif=exif_bytes(6), quality=90)

    decoded = load_rgb(path, 0)

    assert decoded.info.orientation == 6
    assert (decoded.info.width, decoded.info.height) == (320, 240)
    assert mean_abs_diff(decoded.image, upright) < 8


def test_heic_uses_its_embedded_thumbnail_when_large_enough(tmp_path: Path) -> None:
    decode.register_plugins()
    path = save(scene(15, (1600, 1200)), tmp_path / "thumb.heic", quality=60, thumbnails=[400])

    small = load_rgb(path, 200)
    large = load_rgb(path, 500)

    assert small.image.size == (400, 300)  # the thumbnail itself, no full decode
    assert (small.info.width, small.info.height) == (1600, 1200)
    assert 500 <= min(large.image.size) < 1000  # thumbnail too small: full decode, reduced


def test_avif_round_trip(tmp_path: Path) -> None:
    decode.register_plugins()
    if "AVIF" not in Image.SAVE:
        pytest.skip("this Pillow cannot write AVIF")
    upright = scene(16, (320, 240))
    path = save(upright.transpose(Image.Transpose.ROTATE_90), tmp_path / "r6.avif",
                exif=exif_bytes(6), quality=90)
    decoded = load_rgb(path, 0)
    assert decoded.info.format == "AVIF"
    assert mean_abs_diff(decoded.image, upright) < 8


# -- colour modes ---------------------------------------------------------------------------


def test_png_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (0, 0, 20, 30))  # left half fully transparent
    image = load_rgb(save(rgba, tmp_path / "a.png"), 0).image
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 255, 255)
    assert image.getpixel((30, 5)) == (255, 0, 0)


def test_palette_gif_with_transparency(tmp_path: Path) -> None:
    pal = Image.new("P", (20, 20), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    pal.paste(0, (0, 0, 10, 20))
    image = load_rgb(save(pal, tmp_path / "p.gif", transparency=0), 0).image
    assert image.getpixel((2, 2)) == (255, 255, 255)
    assert image.getpixel((15, 2)) == (0, 200, 0)


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (30, 20), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = load_rgb(path, 0).image
    red, _, blue = image.getpixel((10, 10))  # type: ignore[misc]
    assert red > 200 and blue < 50


def test_cmyk_jpeg(tmp_path: Path) -> None:
    original = scene(17, (200, 150))
    path = save(original.convert("CMYK"), tmp_path / "cmyk.jpg", quality=95)
    decoded = load_rgb(path, 0)
    assert decoded.image.mode == "RGB"
    assert mean_abs_diff(decoded.image, original) < 10


def test_sixteen_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = (np.linspace(0, 65535, 256, dtype=np.uint32).reshape(1, 256).repeat(10, 0))
    path = save(Image.fromarray(ramp.astype(np.uint16)), tmp_path / "g16.png")
    image = load_rgb(path, 0).image
    row = np.asarray(image)[0, :, 0].astype(int)
    assert image.mode == "RGB"
    assert row[0] == 0 and row[-1] == 255 and abs(row[128] - 128) <= 2


def test_sixteen_bit_tiff(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 100, dtype=np.uint16).reshape(1, 100).repeat(5, 0)
    path = save(Image.fromarray(ramp), tmp_path / "g16.tif")
    row = np.asarray(load_rgb(path, 0).image)[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and 120 <= row[50] <= 135


def test_sixteen_bit_rgb_png(tmp_path: Path) -> None:
    """Pillow reads 48-bit RGB PNGs as 8-bit RGB; make sure nothing clips on the way."""
    rgb = np.zeros((4, 4, 3), np.uint16)
    rgb[..., 0] = 65535
    rgb[..., 2] = 32768
    raw = b"".join(b"\x00" + rgb[y].byteswap().tobytes() for y in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    path = tmp_path / "rgb48.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 2,
                     0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    red, green, blue = load_rgb(path, 0).image.getpixel((1, 1))  # type: ignore[misc]
    assert red == 255 and green == 0 and 126 <= blue <= 129


def test_la_and_bilevel_images(tmp_path: Path) -> None:
    la = Image.new("LA", (10, 10), (100, 255))
    bilevel = Image.new("1", (10, 10), 1)
    assert load_rgb(save(la, tmp_path / "la.png"), 0).image.getpixel((1, 1)) == (100, 100, 100)
    assert load_rgb(save(bilevel, tmp_path / "b.tif"), 0).image.getpixel((1, 1)) == (255,) * 3


def test_wrong_extension_is_decoded_by_content(tmp_path: Path) -> None:
    path = save(scene(18, (64, 48)), tmp_path / "really-a-png.jpg", format="PNG")
    decoded = load_rgb(path, 0)
    assert decoded.info.format == "PNG" and decoded.image.size == (64, 48)


def test_unicode_path(tmp_path: Path) -> None:
    path = save(scene(19, (64, 48)), tmp_path / "été" / "写真 🎞.jpg")
    assert load_rgb(path, 0).image.size == (64, 48)
    assert read_info(path).width == 64


# -- bad inputs: each a DecodeError with a reason -------------------------------------------


def reason_for(path: Path) -> str:
    with pytest.raises(DecodeError) as caught:
        load_rgb(path, 224)
    return str(caught.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert reason_for(path) == "empty file (0 bytes)"


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: milk, eggs\n")
    assert reason_for(path) == "not an image (unrecognised format)"


def test_truncated_jpeg(tmp_path: Path) -> None:
    path = truncated_jpeg(scene(20, (640, 480)), tmp_path / "cut.jpg")
    assert reason_for(path) == "truncated or corrupt JPEG data"


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    scene(21, (300, 200)).save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert reason_for(path) == "truncated or corrupt PNG data"


def test_truncation_is_not_silently_accepted() -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(("width", "height"), [(40000, 40000), (100_000, 100_000), (14000, 13000)])
def test_decompression_bomb_is_refused(tmp_path: Path, width: int, height: int) -> None:
    path = png_claiming_size(tmp_path / "bomb.png", width, height)
    assert "too large" in reason_for(path)
    with pytest.raises(DecodeError, match="too large"):
        read_info(path)


def test_bomb_message_names_the_dimensions_when_known(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # as if someone lifted Pillow's guard
    path = png_claiming_size(tmp_path / "bomb.png", 40000, 40000)
    assert reason_for(path) == "image too large (40000x40000 pixels)"


def test_bomb_warning_escalated_to_error_is_still_a_decode_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = save(scene(22, (40, 30)), tmp_path / "fine.png")
    with pytest.warns(Image.DecompressionBombWarning):
        load_rgb(path, 0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert "too large" in reason_for(path)


def test_vanished_file(tmp_path: Path) -> None:
    path = save(scene(23, (64, 48)), tmp_path / "gone.jpg")
    path.unlink()
    assert reason_for(path) == "file vanished while reading"
    with pytest.raises(DecodeError, match="vanished"):
        read_info(path)


def test_folder_and_pipe_are_refused(tmp_path: Path) -> None:
    import os

    assert reason_for(tmp_path) == "not a regular file"
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.jpg"
        os.mkfifo(fifo)
        assert reason_for(fifo) == "not a regular file"  # and, above all, no hang


def test_unsupported_format_is_not_opened(tmp_path: Path) -> None:
    """EPS and friends are outside the allowed readers even when Pillow knows them."""
    path = tmp_path / "drawing.jpg"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert reason_for(path) == "not an image (unrecognised format)"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_does_not_reject_the_photo(tmp_path: Path) -> None:
    path = save(scene(24, (64, 48)), tmp_path / "badexif.jpg",
                exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x01" * 10)
    decoded = load_rgb(path, 0)
    assert decoded.image.size == (64, 48) and decoded.info.orientation == 1


def test_supported_suffixes_are_lower_case_with_dot() -> None:
    assert ".heic" in decode.SUPPORTED_SUFFIXES and ".jpg" in decode.SUPPORTED_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in decode.SUPPORTED_SUFFIXES)


def test_register_plugins_is_idempotent() -> None:
    decode.register_plugins()
    decode.register_plugins()
    assert "HEIF" in Image.OPEN


def test_bytes_already_read_are_decoded_instead_of_the_file(tmp_path: Path) -> None:
    """The indexer hands over the bytes it hashed: those are what is decoded, with the same
    checks as a file's."""
    path = save(scene(1), tmp_path / "a.jpg", quality=90)
    other = save(scene(2), tmp_path / "b.jpg", quality=90)
    from_file = load_rgb(path, 256)
    from_bytes = load_rgb(path, 256, data=path.read_bytes())
    assert from_bytes.info == from_file.info
    assert mean_abs_diff(from_bytes.image, from_file.image) == 0
    assert mean_abs_diff(load_rgb(path, 256, data=other.read_bytes()).image,
                         load_rgb(other, 256).image) == 0
    with pytest.raises(DecodeError, match="empty"):
        load_rgb(path, 256, data=b"")
    with pytest.raises(DecodeError, match="frame header"):
        load_rgb(path, 256, data=b"\xff\xd8" + b"\x00" * (2 << 20))
