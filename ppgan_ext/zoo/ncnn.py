"""Read ncnn model files (``.param`` text + ``.bin`` weights) into numpy arrays.

ncnn stores a net as a text ``.param`` file (magic ``7767517``, then
``layer_count blob_count``, then one line per layer:
``Type name n_in n_out in_blobs... out_blobs... key=value...``) and a binary
``.bin`` file holding the layers' weights back to back, in layer order.

Inside the ``.bin``, a *tagged* blob starts with a 4-byte little-endian tag:

* ``0x01306B47`` — fp16 values follow, the blob padded to a multiple of 4 bytes;
* ``0x00000000`` — raw fp32 values follow;
* ``0x000D4B38`` — int8 values follow (padded to 4 bytes);
* anything else — a 256-entry fp32 lookup table then uint8 indices (padded).

Biases, PReLU slopes and BatchNorm statistics are stored untagged as raw fp32.
This reader knows the weight layout of the layer types Real-ESRGAN's ncnn
files (and most converted CNNs) use; a layer type it does not know that would
carry weights is an error naming the layer, never a silent misread.

Pure numpy: no Paddle, no ncnn.
"""
import os
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Tuple, Union

import numpy as np

__all__ = ['NcnnLayer', 'NcnnFormatError', 'read_param', 'read_ncnn', 'weighted_layers', 'shapes',
           'FP16_TAG']

FP16_TAG = 0x01306B47
INT8_TAG = 0x000D4B38
MAGIC = 7767517

# Layer types that carry no weights in the .bin.
_NO_WEIGHTS = frozenset((
    'Input', 'Split', 'Concat', 'Eltwise', 'BinaryOp', 'UnaryOp', 'Interp', 'PixelShuffle',
    'ReLU', 'Sigmoid', 'TanH', 'Clip', 'Swish', 'HardSigmoid', 'HardSwish', 'Mish', 'ELU',
    'Pooling', 'Padding', 'Crop', 'Reshape', 'Permute', 'Flatten', 'Softmax', 'Slice',
    'Dropout', 'Noop', 'Reorg', 'ShuffleChannel', 'Dequantize', 'Quantize', 'Requantize',
    'Bias', 'Exp', 'Log', 'Power', 'AbsVal', 'DeepCopy', 'Squeeze', 'ExpandDims',
    'Normalize', 'LRN', 'MVN', 'Threshold', 'Tile', 'Cast', 'GELU'))

ParamValue = Union[int, float, List[Union[int, float]]]


class NcnnFormatError(ValueError):
    """A ``.param`` / ``.bin`` pair that cannot be read; the message names the file."""


@dataclass
class NcnnLayer:
    """One layer of an ncnn net.

    Args:
        type (str): ncnn layer type (``Convolution``, ``PReLU``, ...).
        name (str): Layer name in the ``.param`` file.
        inputs (list[str]): Input blob names.
        outputs (list[str]): Output blob names.
        params (dict): ``{key: value}``; array params (negative keys
            ``-23300 - k`` in the file) are stored under ``k`` as lists.
        weights (dict): ``{'weight': ndarray, 'bias': ndarray, ...}`` as
            float32; e.g. a Convolution's ``weight`` has shape
            ``(out, in / group, kh, kw)``.
    """
    type: str
    name: str
    inputs: List[str]
    outputs: List[str]
    params: Dict[int, ParamValue]
    weights: Dict[str, np.ndarray] = field(default_factory=dict)


def _value(text: str) -> Union[int, float]:
    return float(text) if any(c in text for c in '.eE') else int(text)


def _parse_params(tokens: List[str], path: str, lineno: int) -> Dict[int, ParamValue]:
    params: Dict[int, ParamValue] = {}
    for token in tokens:
        key, sep, value = token.partition('=')
        try:
            k = int(key)
            if not sep:
                raise ValueError
            if k <= -23300:
                items = value.split(',')
                count = int(items[0])
                params[-k - 23300] = [_value(v) for v in items[1:1 + count]]
            else:
                params[k] = _value(value)
        except ValueError:
            raise NcnnFormatError(f'{path}: line {lineno}: bad layer parameter {token!r}') from None
    return params


def read_param(path: str) -> List[NcnnLayer]:
    """Parse a text ncnn ``.param`` file.

    Args:
        path (str): The ``.param`` file.

    Returns:
        list[NcnnLayer]: The layers in file order, without weights.

    Raises:
        NcnnFormatError: not a text ncnn param file, or a malformed line.
    """
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line.split() for line in f]
    except UnicodeDecodeError:
        raise NcnnFormatError(f'{path}: not a text ncnn .param file') from None
    lines = [(i + 1, t) for i, t in enumerate(lines) if t]
    if not lines or lines[0][1] != [str(MAGIC)]:
        raise NcnnFormatError(f'{path}: not a text ncnn .param file (first line must be {MAGIC})')
    if len(lines) < 2 or len(lines[1][1]) != 2:
        raise NcnnFormatError(f'{path}: line 2 must be "layer_count blob_count"')
    layer_count = int(lines[1][1][0])
    layers = []
    for lineno, tokens in lines[2:]:
        try:
            type_, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        except (IndexError, ValueError):
            raise NcnnFormatError(f'{path}: line {lineno}: malformed layer line') from None
        blobs = tokens[4:4 + n_in + n_out]
        if len(blobs) != n_in + n_out:
            raise NcnnFormatError(f'{path}: line {lineno}: layer {name!r} lists fewer blobs '
                                  f'than its {n_in} inputs + {n_out} outputs')
        params = _parse_params(tokens[4 + n_in + n_out:], path, lineno)
        layers.append(NcnnLayer(type_, name, blobs[:n_in], blobs[n_in:], params))
    if len(layers) != layer_count:
        raise NcnnFormatError(f'{path}: header says {layer_count} layers, file has {len(layers)}')
    return layers


class _BinReader:
    """Sequential reader of an ncnn ``.bin`` buffer."""

    def __init__(self, data: bytes, path: str):
        self.data = data
        self.path = path
        self.pos = 0

    def _take(self, nbytes: int, what: str) -> bytes:
        if self.pos + nbytes > len(self.data):
            raise NcnnFormatError(
                f'{self.path}: truncated or does not match its .param: {what} needs {nbytes} '
                f'bytes at offset {self.pos}, file has {len(self.data)}')
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw(self, count: int, what: str) -> np.ndarray:
        """``count`` untagged fp32 values."""
        return np.frombuffer(self._take(4 * count, what), dtype='<f4').astype(np.float32)

    def tagged(self, count: int, what: str) -> np.ndarray:
        """``count`` values preceded by a storage tag (fp16 / fp32 / int8 / table)."""
        (tag,) = struct.unpack('<I', self._take(4, what))
        if tag == FP16_TAG:
            nbytes = (2 * count + 3) // 4 * 4
            return np.frombuffer(self._take(nbytes, what)[:2 * count], '<f2').astype(np.float32)
        if tag == 0:
            return self.raw(count, what)
        if tag == INT8_TAG:
            nbytes = (count + 3) // 4 * 4
            return np.frombuffer(self._take(nbytes, what)[:count], np.int8).astype(np.float32)
        # quantised: the 4 tag bytes were the first value of a 256-entry fp32 table
        self.pos -= 4
        table = self.raw(256, what)
        nbytes = (count + 3) // 4 * 4
        index = np.frombuffer(self._take(nbytes, what)[:count], np.uint8)
        return table[index]


def _int(layer: NcnnLayer, key: int, default: int) -> int:
    return int(layer.params.get(key, default))


def _conv_weights(layer: NcnnLayer, reader: _BinReader) -> None:
    out_ch = _int(layer, 0, 0)
    kw = _int(layer, 1, 0)
    kh = _int(layer, 11, kw)
    size = _int(layer, 6, 0)
    group = _int(layer, 7, 1) if layer.type.endswith('DepthWise') else 1
    if out_ch <= 0 or kw <= 0 or size % (out_ch * kw * kh):
        raise NcnnFormatError(f'{reader.path}: layer {layer.name!r}: weight_data_size {size} does '
                              f'not fit {out_ch} outputs of {kh}x{kw}')
    in_per_group = size // (out_ch * kw * kh)
    w = reader.tagged(size, f'layer {layer.name!r} weight')
    # Convolution: (out, in / group, kh, kw), as Paddle's Conv2D. Deconvolution: ncnn stores
    # (out, in / group, kh, kw) too; Paddle's Conv2DTranspose wants (in, out / group, kh, kw),
    # the caller transposes (and regroups) for its framework.
    layer.weights['weight'] = w.reshape(out_ch, in_per_group, kh, kw)
    if _int(layer, 5, 0):
        layer.weights['bias'] = reader.raw(out_ch, f'layer {layer.name!r} bias')


def _load_weights(layer: NcnnLayer, reader: _BinReader) -> None:
    t = layer.type
    if t in ('Convolution', 'ConvolutionDepthWise'):
        _conv_weights(layer, reader)
    elif t in ('Deconvolution', 'DeconvolutionDepthWise'):
        _conv_weights(layer, reader)
    elif t == 'PReLU':
        layer.weights['slope'] = reader.raw(_int(layer, 0, 1), f'layer {layer.name!r} slope')
    elif t == 'InnerProduct':
        out_ch, size = _int(layer, 0, 0), _int(layer, 2, 0)
        if out_ch <= 0 or size % out_ch:
            raise NcnnFormatError(f'{reader.path}: layer {layer.name!r}: weight_data_size {size} '
                                  f'does not fit {out_ch} outputs')
        w = reader.tagged(size, f'layer {layer.name!r} weight')
        layer.weights['weight'] = w.reshape(out_ch, size // out_ch)
        if _int(layer, 1, 0):
            layer.weights['bias'] = reader.raw(out_ch, f'layer {layer.name!r} bias')
    elif t == 'BatchNorm':
        c = _int(layer, 0, 0)
        for key in ('slope', 'mean', 'variance', 'bias'):
            layer.weights[key] = reader.raw(c, f'layer {layer.name!r} {key}')
    elif t == 'Scale':
        c = _int(layer, 0, 0)
        if c == -233:
            return
        layer.weights['scale'] = reader.raw(c, f'layer {layer.name!r} scale')
        if _int(layer, 1, 0):
            layer.weights['bias'] = reader.raw(c, f'layer {layer.name!r} bias')
    elif t == 'MemoryData':
        w, h, c = _int(layer, 0, 0), _int(layer, 1, 0), _int(layer, 2, 0)
        n = max(w, 1) * max(h, 1) * max(c, 1)
        layer.weights['data'] = reader.raw(n, f'layer {layer.name!r} data')
    elif t not in _NO_WEIGHTS:
        raise NcnnFormatError(f'{reader.path}: layer {layer.name!r} has type {t!r}, whose weight '
                              'layout this reader does not know')


def read_ncnn(param_path: str, bin_path: str) -> List[NcnnLayer]:
    """Read an ncnn net: its layers with their weights as float32 numpy arrays.

    Args:
        param_path (str): Text ``.param`` file.
        bin_path (str): Matching ``.bin`` file.

    Returns:
        list[NcnnLayer]: Layers in file order; ``weights`` filled for layers
        that have weights (fp16 blobs widened to float32).

    Raises:
        NcnnFormatError: a malformed ``.param``, a ``.bin`` that is truncated,
            longer than the layers need, or otherwise does not match.
    """
    layers = read_param(param_path)
    if not os.path.isfile(bin_path):
        raise NcnnFormatError(f'{bin_path}: no such file')
    with open(bin_path, 'rb') as f:
        reader = _BinReader(f.read(), bin_path)
    for layer in layers:
        _load_weights(layer, reader)
    if reader.pos != len(reader.data):
        raise NcnnFormatError(f'{bin_path}: {len(reader.data) - reader.pos} bytes left over after '
                              f'the layers of {param_path}: the files do not match')
    return layers


def weighted_layers(layers: List[NcnnLayer], type_: str) -> List[NcnnLayer]:
    """The layers of ``type_`` in file order (e.g. every ``Convolution``)."""
    return [layer for layer in layers if layer.type == type_]


def shapes(layers: List[NcnnLayer]) -> Dict[str, Tuple[str, Dict[str, Tuple[int, ...]]]]:
    """``{layer name: (type, {weight key: shape})}`` of the layers with weights."""
    return {l.name: (l.type, {k: v.shape for k, v in l.weights.items()})
            for l in layers if l.weights}
