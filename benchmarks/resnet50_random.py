"""A ResNet-50-shaped ONNX classifier with random weights: the same compute as the real one.

The zoo's weights cannot be fetched on build machines, so speed is measured on this stand-in
(conv/BN folded into conv+bias, as an exported inference graph has them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Graph:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> str:
        w = self.rng.standard_normal((cout, cin, k, k)).astype(np.float32)
        w *= np.sqrt(2.0 / (cin * k * k))
        wn, bn, out = self.name("w"), self.name("b"), self.name("conv")
        self.inits += [numpy_helper.from_array(w, wn),
                       numpy_helper.from_array(np.zeros(cout, np.float32), bn)]
        pad = k // 2
        self.nodes.append(helper.make_node("Conv", [x, wn, bn], [out], strides=[stride, stride],
                                           pads=[pad] * 4))
        return self.relu(out) if relu else out

    def relu(self, x: str) -> str:
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [out]))
        return out

    def bottleneck(self, x: str, cin: int, width: int, stride: int) -> str:
        cout = width * 4
        y = self.conv(x, cin, width, 1)
        y = self.conv(y, width, width, 3, stride)
        y = self.conv(y, width, cout, 1, relu=False)
        shortcut = x if (cin == cout and stride == 1) else self.conv(x, cin, cout, 1, stride,
                                                                       relu=False)
        out = self.name("add")
        self.nodes.append(helper.make_node("Add", [y, shortcut], [out]))
        return self.relu(out)


def build_resnet50(path: Path, seed: int = 0) -> Path:
    g = _Graph(seed)
    x = g.conv("data", 3, 64, 7, 2)
    pooled = g.name("maxpool")
    g.nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3],
                                    strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = pooled, 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            x = g.bottleneck(x, cin, width, stride if i == 0 else 1)
            cin = width * 4
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    g.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
    fc = g.rng.standard_normal((1000, 2048)).astype(np.float32) * 0.01
    g.inits += [numpy_helper.from_array(fc, "fc_w"),
                numpy_helper.from_array(np.zeros(1000, np.float32), "fc_b")]
    g.nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1))
    graph = helper.make_graph(
        g.nodes, "resnet50_random",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
