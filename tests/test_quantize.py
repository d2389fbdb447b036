"""Static int8 quantisation on the tiny generated model: real onnxruntime, real photos on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from photosim.core.errors import ModelError
from photosim.core.models.runtime import ModelSession
from photosim.core.models.spec import ModelSpec
from photosim.core.quantize import embedding_agreement, quantize_model
from tests.imagegen import save, scene
from tests.modelgen import TINY_DIM, build_embedder, tiny_spec_dict


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("calibration")
    return [save(scene(seed, (320, 240)), folder / f"p{seed}.jpg") for seed in range(24)]


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelSpec]:
    path = build_embedder(tmp_path_factory.mktemp("fp32") / "tiny.onnx")
    return path, ModelSpec.from_dict(tiny_spec_dict(output="features"))


def test_int8_model_is_qdq_and_agrees_with_fp32(fp32: tuple[Path, ModelSpec], photos: list[Path],
                                                tmp_path: Path) -> None:
    src, spec = fp32
    dst = quantize_model(src, tmp_path / "tiny_int8.onnx", photos[:16], spec)

    ops = {node.op_type for node in onnx.load(str(dst)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = {t.name: t.data_type for t in onnx.load(str(dst)).graph.initializer
               if len(t.dims) == 4}
    # The stem conv stays float (it sees raw pixels); the second one is stored as int8.
    assert weights["w1"] == onnx.TensorProto.FLOAT
    assert sorted(weights.values()).count(onnx.TensorProto.INT8) == 1
    out = ModelSession(dst, spec, "cpu").run(np.zeros((2, 3, 64, 64), np.float32))
    assert out.shape == (2, TINY_DIM)

    held_out = embedding_agreement(src, dst, photos[16:], spec)
    assert held_out.photos == 8
    assert held_out.mean_cosine > 0.98
    assert held_out.min_cosine > 0.95
    assert 0.0 <= held_out.top1_neighbour_agreement <= 1.0


def test_every_conv_quantised_on_request(fp32: tuple[Path, ModelSpec], photos: list[Path],
                                         tmp_path: Path) -> None:
    src, spec = fp32
    dst = quantize_model(src, tmp_path / "all.onnx", photos[:16], spec,
                         keep_first_conv_float=False)
    weights = [t.data_type for t in onnx.load(str(dst)).graph.initializer if len(t.dims) == 4]
    assert weights == [onnx.TensorProto.INT8] * 2


def test_agreement_notices_a_different_model(fp32: tuple[Path, ModelSpec], photos: list[Path],
                                             tmp_path: Path) -> None:
    src, spec = fp32
    other = build_embedder(tmp_path / "other.onnx", seed=99)
    assert embedding_agreement(src, other, photos[16:], spec).mean_cosine < 0.98


def test_unreadable_calibration_photos_are_skipped(fp32: tuple[Path, ModelSpec],
                                                  photos: list[Path], tmp_path: Path) -> None:
    src, spec = fp32
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg")
    dst = quantize_model(src, tmp_path / "q.onnx", [junk, *photos[:6]], spec)
    assert dst.is_file()


def test_too_few_calibration_photos_is_a_model_error(fp32: tuple[Path, ModelSpec],
                                                     photos: list[Path], tmp_path: Path) -> None:
    src, spec = fp32
    with pytest.raises(ModelError, match="calibration"):
        quantize_model(src, tmp_path / "q.onnx", photos[:1], spec)
