"""Cut an image classifier at its pooled features, found in the graph itself.

Zoo classifiers end in ``... -> GlobalAveragePool -> Flatten/Reshape -> Gemm (logits)``. The
tensor we want is the pooled one: the output of the *last* global pooling, which may be a
``GlobalAveragePool``, a ``ReduceMean`` over the spatial axes, or (in int8 QOperator graphs)
``com.microsoft.QLinearGlobalAveragePool``, which needs a ``DequantizeLinear`` after it. Node
names differ between exporters, so nothing here looks at names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx
from onnx import TensorProto, helper

from photosim.core.errors import ModelError

FEATURES_OUTPUT = "photosim_features"
SPATIAL_AXES_NCHW = (2, 3)
SPATIAL_AXES_NHWC = (1, 2)


@dataclass(frozen=True)
class PooledTensor:
    """Where the pooled features are: a tensor name, how to get floats from it, its rank."""

    name: str
    node_index: int  # position of the pooling node in the graph
    quantized: bool  # the pooling node's output is uint8/int8 and must be dequantized
    rank: int  # 4 for keepdims pooling ([N,C,1,1]), 2 for a ReduceMean without keepdims


def find_pooled(model: onnx.ModelProto) -> PooledTensor:
    """The last global pooling node's output, or ``ModelError`` when the graph has none."""
    nodes = list(model.graph.node)
    for index in range(len(nodes) - 1, -1, -1):
        pooled = _as_pooling(model, nodes[index], index)
        if pooled is not None:
            return pooled
    raise ModelError("This model has no global pooling layer (GlobalAveragePool or a ReduceMean "
                     "over height and width), so its features cannot be found automatically. "
                     "Give the name of its embedding output in the spec's \"output\" field.")


def cut_to_pooled(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose sole output is the pooled feature vector, ``[N, C]`` float.

    Nodes that only fed the classifier are pruned, so the cut graph does no wasted work.
    """
    pooled = find_pooled(model)
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    graph = cut.graph
    source = pooled.name
    if pooled.quantized:
        source = _append_dequantize(graph, pooled)
    if pooled.rank == 4:
        graph.node.append(helper.make_node("Flatten", [source], [FEATURES_OUTPUT], axis=1,
                                           name="photosim_flatten"))
    else:
        graph.node.append(helper.make_node("Identity", [source], [FEATURES_OUTPUT],
                                           name="photosim_features"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(
        FEATURES_OUTPUT, TensorProto.FLOAT, [_batch_dim(model), pooled_channels(model)]))
    _prune(graph)
    return cut


def logits_output_name(model: onnx.ModelProto) -> str:
    """The classifier's output (ImageNet logits in zoo models): the first graph output that is
    computed from the pooled features."""
    pooled = find_pooled(model).name
    for output in model.graph.output:
        if pooled in _ancestors(model.graph, output.name):
            return str(output.name)
    raise ModelError("No output of this model depends on its pooled features.")


def pooled_channels(model: onnx.ModelProto) -> int | None:
    """The feature length, when shape inference can tell: the pooled tensor's size per item
    (its spatial dims are 1, whichever axis holds the channels)."""
    dims = _inferred_shapes(model).get(find_pooled(model).name)
    if not dims or len(dims) < 2 or any(d <= 0 for d in dims[1:]):
        return None
    return math.prod(dims[1:])


# -- recognising pooling -------------------------------------------------------------------

def _as_pooling(model: onnx.ModelProto, node: onnx.NodeProto, index: int) -> PooledTensor | None:
    if node.op_type == "GlobalAveragePool" and node.domain in ("", "ai.onnx"):
        return PooledTensor(node.output[0], index, quantized=False, rank=4)
    if node.op_type == "QLinearGlobalAveragePool" and node.domain == "com.microsoft":
        return PooledTensor(node.output[0], index, quantized=True, rank=4)
    if node.op_type == "ReduceMean":
        axes = _reduce_axes(model, node)
        if axes is not None and _is_spatial(axes):
            keepdims = _int_attr(node, "keepdims", 1)
            return PooledTensor(node.output[0], index, quantized=False,
                                rank=4 if keepdims else 2)
    return None


def _is_spatial(axes: list[int]) -> bool:
    normalised = sorted(a % 4 for a in axes)
    return tuple(normalised) in (SPATIAL_AXES_NCHW, SPATIAL_AXES_NHWC)


def _reduce_axes(model: onnx.ModelProto, node: onnx.NodeProto) -> list[int] | None:
    """Axes from the attribute (opset < 18) or from the constant second input (opset 18+)."""
    for attr in node.attribute:
        if attr.name == "axes":
            return list(attr.ints)
    if len(node.input) > 1 and node.input[1]:
        for init in model.graph.initializer:
            if init.name == node.input[1]:
                return [int(v) for v in onnx.numpy_helper.to_array(init).ravel()]
        for producer in model.graph.node:
            if producer.op_type == "Constant" and producer.output[0] == node.input[1]:
                tensor = helper.get_attribute_value(producer.attribute[0])
                return [int(v) for v in onnx.numpy_helper.to_array(tensor).ravel()]
    return None


def _int_attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for attr in node.attribute:
        if attr.name == name:
            return int(attr.i)
    return default


# -- rewriting the graph ---------------------------------------------------------------------

def _append_dequantize(graph: onnx.GraphProto, pooled: PooledTensor) -> str:
    """QLinearGlobalAveragePool(X, x_scale, x_zp, y_scale, y_zp): dequantize Y with its own
    scale and zero point."""
    pool = graph.node[pooled.node_index]
    if len(pool.input) < 5:
        raise ModelError("The quantized pooling layer lacks its output scale and zero point.")
    name = pooled.name + "_dequantized"
    graph.node.append(helper.make_node("DequantizeLinear", [pooled.name, pool.input[3],
                                                            pool.input[4]], [name],
                                       name="photosim_dequantize"))
    return name


def _prune(graph: onnx.GraphProto) -> None:
    """Drop nodes, initializers and value infos that no longer lead to an output."""
    needed = set().union(*(_ancestors(graph, out.name) for out in graph.output))
    kept = [n for n in graph.node if any(o in needed for o in n.output)]
    del graph.node[:]
    graph.node.extend(kept)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    infos = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(infos)


def _ancestors(graph: onnx.GraphProto, tensor: str) -> set[str]:
    """Every tensor name ``tensor`` is computed from (itself included), subgraphs included."""
    producer = {out: node for node in graph.node for out in node.output}
    seen: set[str] = set()
    stack = [tensor]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        node = producer.get(name)
        if node is not None:
            stack.extend(i for i in node.input if i)
            stack.extend(_subgraph_inputs(node))
    return seen


def _subgraph_inputs(node: onnx.NodeProto) -> list[str]:
    """Outer-scope names that an If/Loop/Scan body reads (rare in classifiers, but legal)."""
    names: list[str] = []
    for attr in node.attribute:
        graphs = [attr.g] if attr.HasField("g") else list(attr.graphs)
        for sub in graphs:
            for inner in sub.node:
                names.extend(i for i in inner.input if i)
                names.extend(_subgraph_inputs(inner))
    return names


def _batch_dim(model: onnx.ModelProto) -> str | int:
    """The batch dimension of the first input, so the output keeps a dynamic batch."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if dims and dims[0].HasField("dim_value"):
        return int(dims[0].dim_value)
    return dims[0].dim_param if dims and dims[0].dim_param else "N"


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Static dims of every tensor that shape inference can resolve (unknown dims are -1)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except (onnx.shape_inference.InferenceError, ValueError):
        return {}
    shapes: dict[str, list[int]] = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    return shapes
