"""Small ONNX models the tests build themselves (no downloads).

``build_classifier`` mimics a zoo classifier: conv -> relu -> conv -> relu -> GlobalAveragePool
-> Flatten -> Gemm (logits). ``build_embedder`` stops at the pooled features. Weights come from
a fixed seed so vectors are reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TINY_SIZE = 64
TINY_DIM = 32
TINY_CLASSES = 10


def _conv_stack(rng: np.random.Generator) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    w1 = rng.standard_normal((16, 3, 3, 3)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((TINY_DIM, 16, 3, 3)).astype(np.float32) * 0.2
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
    ]
    return nodes, inits


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _input() -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, TINY_SIZE, TINY_SIZE])


def build_classifier(path: Path, seed: int = 7) -> Path:
    """A classifier-shaped model whose only output is ``logits`` [N, 10]."""
    rng = np.random.default_rng(seed)
    nodes, inits = _conv_stack(rng)
    fc = rng.standard_normal((TINY_CLASSES, TINY_DIM)).astype(np.float32)
    inits += [numpy_helper.from_array(fc, "fc_w"),
              numpy_helper.from_array(np.zeros(TINY_CLASSES, np.float32), "fc_b")]
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1))
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", TINY_CLASSES])
    return _save(helper.make_graph(nodes, "tiny_classifier", [_input()], [out], inits), path)


def build_embedder(path: Path, seed: int = 7) -> Path:
    """The same network without its classifier: output ``features`` [N, 32]."""
    rng = np.random.default_rng(seed)
    nodes, inits = _conv_stack(rng)
    out = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", TINY_DIM])
    return _save(helper.make_graph(nodes, "tiny_embedder", [_input()], [out], inits), path)


def tiny_spec_dict(model_id: str = "tiny-test", output: str = "pooled") -> dict[str, object]:
    return {
        "id": model_id,
        "name": "Tiny test model",
        "dim": TINY_DIM,
        "output": output,
        "input_name": "input",
        "licence": "test",
        "preprocess": {"size": TINY_SIZE, "resize_shorter": 73, "interpolation": "bilinear",
                       "mean": [127.0, 127.0, 127.0], "std": [64.0, 64.0, 64.0]},
    }


def write_tiny_model_with_spec(folder: Path, classifier: bool = True) -> tuple[Path, Path]:
    """A tiny model file plus its spec JSON beside it (``<model>.json``)."""
    model = folder / ("tiny_classifier.onnx" if classifier else "tiny_embedder.onnx")
    (build_classifier if classifier else build_embedder)(model)
    spec = model.with_suffix(".json")
    spec.write_text(json.dumps(tiny_spec_dict(output="pooled" if classifier else "features")))
    return model, spec
