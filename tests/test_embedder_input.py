"""The model input: resampling only the kept square must frame and filter as resizing the
whole picture and cropping it does."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photosim.core.embedder import resize_and_crop, to_input
from photosim.core.models.spec import Preprocess
from tests.imagegen import scene

_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def _resize_then_crop(image: Image.Image, pre: Preprocess) -> Image.Image:
    """The textbook order: scale the shorter side, then cut the centred square."""
    w, h = image.size
    scale = pre.resize_shorter / min(w, h)
    new_w, new_h = max(pre.size, round(w * scale)), max(pre.size, round(h * scale))
    resized = image.resize((new_w, new_h), _FILTERS[pre.interpolation])
    left, top = (new_w - pre.size) // 2, (new_h - pre.size) // 2
    return resized.crop((left, top, left + pre.size, top + pre.size))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(640, 480), (375, 500), (333, 257), (1001, 240), (224, 224),
                                  (180, 150)])
def test_cropping_before_resampling_gives_the_same_pixels(size: tuple[int, int],
                                                           interpolation: str) -> None:
    pre = Preprocess(interpolation=interpolation)
    picture = scene(sum(size), size)
    fast = np.asarray(resize_and_crop(picture, pre), np.int16)
    reference = np.asarray(_resize_then_crop(picture, pre), np.int16)
    assert fast.shape == reference.shape == (224, 224, 3)
    difference = np.abs(fast - reference)
    # Pillow rounds between its two passes; moving the window by a float's last bit can
    # flip that rounding on a few pixels, never more than a few levels.
    assert difference.mean() < 0.05
    assert difference.max() <= 8


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_the_input_is_normalised_float32_in_the_spec_layout(layout: str) -> None:
    pre = Preprocess(mean=(127.0, 100.0, 50.0), std=(128.0, 64.0, 32.0), layout=layout)
    picture = scene(3, (640, 480))
    tensor = to_input(picture, pre)
    pixels = np.asarray(resize_and_crop(picture, pre), np.float32)
    expected = (pixels - np.float32(pre.mean)) / np.float32(pre.std)
    if layout == "NCHW":
        expected = expected.transpose(2, 0, 1)
    assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-6)


def test_a_grey_picture_becomes_three_channels() -> None:
    pre = Preprocess(mean=(127.0,) * 3, std=(128.0,) * 3)
    tensor = to_input(scene(4, (300, 260)).convert("L"), pre)
    assert tensor.shape == (3, 224, 224)
    np.testing.assert_array_equal(tensor[0], tensor[1])
