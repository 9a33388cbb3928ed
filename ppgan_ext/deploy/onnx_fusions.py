"""Rewrites of converted ONNX graphs into single ops that runtimes fuse.

paddle2onnx cannot write Paddle 3's ``leaky_relu`` (its float attribute), so
:mod:`ppgan_ext.deploy.graph_rewrites` traces it as
``where(x > 0, x, x * slope)``. OpenVINO runs that as three element-wise
kernels (Greater, Multiply, Select) over every activation map, outside the
convolutions; an ONNX ``LeakyRelu`` is fused into the preceding convolution
by OpenVINO and ONNX Runtime alike. :func:`fuse_leaky_relu` turns each such
``Where`` back into ``LeakyRelu(x, alpha=slope)`` (same values: for
``0 <= slope``, ``x > 0 ? x : slope * x``).

The functions work on an ``onnx.ModelProto`` in place and return how many
patterns they replaced.
"""
from typing import Dict, Optional

import numpy as np

__all__ = ['fuse_leaky_relu', 'fuse_onnx_bytes']


def _constants(graph) -> Dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == 'Constant':
            for attr in node.attribute:
                if attr.name == 'value':
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def fuse_leaky_relu(model) -> int:
    """``Where(Greater(x, 0), x, Mul(x, s))`` (through ``Identity`` nodes) -> ``LeakyRelu``.

    Args:
        model (onnx.ModelProto): Changed in place.

    Returns:
        int: Patterns replaced.
    """
    from onnx import helper

    graph = model.graph
    consts = _constants(graph)
    producer = {o: n for n in graph.node for o in n.output}

    def source(name: str) -> str:   # through Identity chains
        while name in producer and producer[name].op_type == 'Identity':
            name = producer[name].input[0]
        return name

    def scalar(name: str) -> Optional[float]:
        value = consts.get(source(name))
        if value is None or value.size != 1:
            return None
        return float(value.reshape(()))

    replaced = 0
    for i, node in enumerate(list(graph.node)):
        if node.op_type != 'Where' or len(node.input) != 3:
            continue
        cond, x, other = (producer.get(source(n)) for n in node.input)
        x_name = source(node.input[1])
        if cond is None or cond.op_type != 'Greater' or other is None \
                or other.op_type != 'Mul':
            continue
        if source(cond.input[0]) != x_name or scalar(cond.input[1]) != 0.0:
            continue
        mul_in = [source(n) for n in other.input]
        if x_name not in mul_in:
            continue
        slope = scalar(other.input[1 - mul_in.index(x_name)])
        if slope is None or not 0.0 <= slope <= 1.0:
            continue
        fused = helper.make_node('LeakyRelu', [x_name], list(node.output), alpha=slope,
                                 name=(node.name or node.output[0]) + '_leaky_relu')
        index = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(index, fused)
        replaced += 1
    if replaced:
        _drop_unused(graph)
    return replaced


def _drop_unused(graph) -> None:
    """Remove nodes whose outputs nothing reads (repeated until none is left)."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def fuse_onnx_bytes(data: bytes) -> bytes:
    """Serialized ONNX in, serialized ONNX with :func:`fuse_leaky_relu` applied out."""
    import onnx

    model = onnx.load_from_string(data)
    if fuse_leaky_relu(model):
        onnx.checker.check_model(model)
        return model.SerializeToString()
    return data
