"""The feature cut finds the pooled tensor in the graph itself, on a generated classifier and on
the real EfficientNet-Lite0 classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from photosim.core.errors import ModelError
from photosim.core.models.featurecut import (
    cut_to_pooled,
    find_pooled,
    logits_output_name,
    pooled_channels,
)
from tests.modelgen import TINY_DIM, TINY_SIZE, build_classifier, build_embedder


def _run(model: onnx.ModelProto | Path, batch: np.ndarray) -> np.ndarray:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: batch})[0])


def test_tiny_classifier_cut_equals_embedder(tmp_path: Path) -> None:
    classifier = onnx.load(str(build_classifier(tmp_path / "c.onnx")))
    embedder = build_embedder(tmp_path / "e.onnx")
    cut = cut_to_pooled(classifier)
    onnx.checker.check_model(cut)
    assert [o.name for o in cut.graph.output] == ["photosim_features"]
    assert not any(n.op_type == "Gemm" for n in cut.graph.node), "classifier must be pruned"
    assert "fc_w" not in {i.name for i in cut.graph.initializer}
    batch = np.random.default_rng(1).standard_normal((3, 3, TINY_SIZE, TINY_SIZE)).astype(
        np.float32)
    got, want = _run(cut, batch), _run(embedder, batch)
    assert got.shape == (3, TINY_DIM)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert pooled_channels(classifier) == TINY_DIM
    assert logits_output_name(classifier) == "logits"


def _graph_with_reduce_mean(keepdims: int, opset: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 5, 5])
    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    if opset >= 18:
        axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
        mean = helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=keepdims)
        inits = [w, axes]
    else:
        mean = helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=keepdims)
        inits = [w]
    nodes = [mean]
    feed = "m"
    if keepdims:
        nodes.append(helper.make_node("Flatten", ["m"], ["f"], axis=1))
        feed = "f"
    nodes.append(helper.make_node("Gemm", [feed, "w"], ["y"], transB=1))
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph(nodes, "g", [x], [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize(("keepdims", "opset"), [(1, 17), (0, 17), (1, 18)])
def test_reduce_mean_over_space_is_pooling(keepdims: int, opset: int) -> None:
    model = _graph_with_reduce_mean(keepdims, opset)
    model.ir_version = 8
    cut = cut_to_pooled(model)
    batch = np.random.default_rng(2).standard_normal((2, 4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(_run(cut, batch), batch.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)


def test_graph_without_pooling_is_refused() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                                [x], [y]))
    with pytest.raises(ModelError, match="no global pooling"):
        find_pooled(model)


@pytest.mark.realmodel
def test_efficientnet_logits_cut_equals_shared_embed_model(real_model_dir: Path) -> None:
    logits = onnx.load(str(real_model_dir / "efficientnet_lite0_logits.onnx"))
    cut = cut_to_pooled(logits)
    assert pooled_channels(logits) == 1280
    assert logits_output_name(logits) == "logits"
    batch = np.random.default_rng(3).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32)
    got = _run(cut, batch)
    want = _run(real_model_dir / "efficientnet_lite0_embed.onnx", batch)
    assert got.shape == want.shape == (2, 1280)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_int8_qoperator_classifier_is_cut_and_dequantized(tmp_path: Path) -> None:
    """The zoo's int8 ResNet-50 is in QOperator form: its pool is
    com.microsoft.QLinearGlobalAveragePool, whose uint8 output must be dequantized."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    rng = np.random.default_rng(4)
    samples = [rng.standard_normal((1, 3, TINY_SIZE, TINY_SIZE)).astype(np.float32)
               for _ in range(8)]

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter({"input": s} for s in samples)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    fp32 = build_classifier(tmp_path / "c.onnx")
    int8 = tmp_path / "c_int8.onnx"
    quantize_static(str(fp32), str(int8), Calibration(), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    quantized = onnx.load(str(int8))
    assert find_pooled(quantized).quantized
    cut = cut_to_pooled(quantized)
    batch = np.concatenate(samples[:3])
    got = _run(cut, batch)
    want = _run(build_embedder(tmp_path / "e.onnx"), batch)
    assert got.dtype == np.float32 and got.shape == want.shape
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() > 0.98, cosine


def test_imagenet_labels_are_complete() -> None:
    from photosim.core.labels import imagenet_labels

    labels = imagenet_labels()
    assert len(labels) == 1000 and all(labels)
    assert labels[0] == "tench" and labels[281] == "tabby cat" and labels[999] == "toilet paper"
    assert labels[967] == "espresso" and labels[985] == "daisy"


@pytest.mark.realmodel
def test_logits_output_and_labels_name_a_real_photo(real_model_dir: Path) -> None:
    from PIL import Image
    from skimage import data as skdata

    from photosim.core.labels import imagenet_labels

    path = real_model_dir / "efficientnet_lite0_logits.onnx"
    name = logits_output_name(onnx.load(str(path)))
    image = Image.fromarray(skdata.chelsea())
    side = int(0.875 * min(image.size))
    left, top = (image.width - side) // 2, (image.height - side) // 2
    crop = image.crop((left, top, left + side, top + side)).resize((224, 224),
                                                                   Image.Resampling.BICUBIC)
    batch = ((np.asarray(crop, np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run([name], {"input": np.ascontiguousarray(batch)})[0][0]
    top1 = imagenet_labels()[int(np.argmax(logits))]
    assert top1 in {"tabby cat", "tiger cat", "Egyptian Mau", "Persian cat"}
