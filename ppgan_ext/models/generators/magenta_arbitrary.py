"""Magenta's arbitrary image stylization: style prediction + style transfer networks.

Ghiasi et al., "Exploring the structure of a real-time, arbitrary neural artistic
stylization network", BMVC 2017, in the compact form Magenta publishes for mobile
(TensorFlow Lite, int8): a MobileNetV2 style predictor that maps a style image to a
100-d style vector, and a transformer network (3 contracting convs, 5 residual blocks,
3 expanding convs) whose conditional instance norms take their scale and shift from
1x1 convs of the style vector.

The published weights are int8 with per-channel scales, and every activation of the
published graph is quantized to int8 (scale, zero point) as well. With
``quantized=True`` (default) the nets apply the same quantization points
("fake quantization": ``(clip(round(x / s) + z, -128, 127) - z) * s``) so they
reproduce the published graph; ``quantized=False`` runs the same weights in plain
float32 (smoother, about 28 dB away from the published graph's output).

Quantization parameters are kept in one ``(K, 2)`` buffer per net (``quant``),
ordered as :func:`predictor_quant_names` / :func:`transformer_quant_names` list
them (the published graph's tensor names), so the state dict is self-contained.
"""
from typing import Dict, List, Sequence, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from ppgan.models.generators.builder import GENERATORS

from ...pyramid import scaled_size

__all__ = ['MagentaStylePredictor', 'MagentaTransformer', 'MagentaArbitraryNet',
           'predictor_quant_names', 'transformer_quant_names', 'MOBILENET_V2_BLOCKS',
           'RESIDUAL_BLOCKS', 'STYLE_NORM_LAYERS']

# (expansion, out channels, stride) of MobileNetV2's 17 inverted-residual blocks
MOBILENET_V2_BLOCKS: Tuple[Tuple[int, int, int], ...] = (
    (1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1), (6, 320, 1))
RESIDUAL_BLOCKS = 5
_T = 'transformer'
# the transformer's conditionally normalised convs, in order (graph name prefixes)
STYLE_NORM_LAYERS: Tuple[str, ...] = tuple(
    [f'{_T}/residual/residual{k}/conv{j}' for k in range(1, RESIDUAL_BLOCKS + 1)
     for j in (1, 2)] + [f'{_T}/expand/conv{k}/conv' for k in (1, 2, 3)])


def _block_name(i: int) -> str:
    return 'MobilenetV2/expanded_conv' + (f'_{i}' if i else '')


def predictor_quant_names() -> List[str]:
    """Quantization points of :class:`MagentaStylePredictor`, in the order of its buffer."""
    names = ['style_image_int8', 'MobilenetV2/Conv/Relu6']
    cin = 32
    for i, (t, c, s) in enumerate(MOBILENET_V2_BLOCKS):
        b = _block_name(i)
        if t != 1:
            names.append(f'{b}/expand/Relu6')
        names += [f'{b}/depthwise/Relu6', f'{b}/project/BatchNorm/FusedBatchNormV3']
        if s == 1 and cin == c:
            names.append(f'{b}/add')
        cin = c
    return names + ['MobilenetV2/Conv_1/Relu6', 'bottleneck/Mean',
                    'mobilenet_conv/Conv/BiasAdd_int8']


def _norm_names(p: str) -> List[str]:
    n = f'{p}/StyleNorm'
    return [f'{p}/Conv2D', f'{n}/moments/mean', f'{n}/moments/SquaredDifference_int8',
            f'{n}/moments/variance', f'{n}/batchnorm/add', f'{n}/batchnorm/Rsqrt_int8',
            f'{n}/batchnorm/mul', f'{n}/batchnorm/mul_2', f'{n}/batchnorm/sub',
            f'{n}/batchnorm/mul_1']


def transformer_quant_names() -> List[str]:
    """Quantization points of :class:`MagentaTransformer`, in the order of its buffer."""
    names = ['mobilenet_conv/Conv/BiasAdd_int8']
    for p in STYLE_NORM_LAYERS:
        names += [f'style_params/{p}/StyleNorm/Conv/BiasAdd',
                  f'style_params/{p}/StyleNorm/Conv_1/BiasAdd']
    c = f'{_T}/contract'
    names += [f'{c}/MirrorPad_int8', f'{c}/conv1/Relu', f'{c}/MirrorPad_1_int8',
              f'{c}/conv2/Relu', f'{c}/MirrorPad_2_int8', f'{c}/conv3/Relu']
    for k in range(1, RESIDUAL_BLOCKS + 1):
        r = f'{_T}/residual/residual{k}'
        names += [f'{r}/MirrorPad_int8'] + _norm_names(f'{r}/conv1') + \
            [f'{r}/conv1/Relu', f'{r}/MirrorPad_1_int8'] + _norm_names(f'{r}/conv2') + \
            [f'{r}/conv2/StyleNorm/batchnorm/add_1', f'{r}/add']
    for k in (1, 2, 3):
        e = f'{_T}/expand/conv{k}'
        names += [f'{e}/MirrorPad_int8'] + _norm_names(f'{e}/conv')
        names += [f'{e}/conv/Relu'] if k < 3 else \
            [f'{e}/conv/StyleNorm/batchnorm/add_1', f'{e}/conv/Sigmoid_int8']
    return names


class _Quantized(nn.Layer):
    """Holds the (K, 2) table of (scale, zero point) and applies a point by name."""

    def __init__(self, names: Sequence[str], quantized: bool):
        super().__init__()
        self.quantized = quantized
        self._index: Dict[str, int] = {n: i for i, n in enumerate(names)}
        table = paddle.ones([len(names), 2], dtype='float32')
        self.register_buffer('quant', table, persistable=True)

    def q(self, name: str, x: paddle.Tensor) -> paddle.Tensor:
        if not self.quantized:
            return x
        i = self._index[name]
        scale, zero = self.quant[i, 0], self.quant[i, 1]
        return (paddle.clip(_round_half_even(x / scale) + zero, -128., 127.) - zero) * scale


def _round_half_even(y: paddle.Tensor) -> paddle.Tensor:
    """Round to nearest, ties to even (ONNX ``QuantizeLinear``'s rule; ``paddle.round``
    rounds ties away from zero)."""
    if not paddle.in_dynamic_mode():
        return paddle.round(y)  # exported as ONNX Round, which rounds ties to even
    r = paddle.round(y)
    tie = paddle.abs(y - paddle.trunc(y)) == 0.5
    return paddle.where(tie, 2.0 * paddle.round(y / 2.0), r)


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
          padding=0) -> nn.Conv2D:
    return nn.Conv2D(cin, cout, k, stride=stride, padding=padding, groups=groups)


def _same(stride: int):
    """TensorFlow's 'SAME' padding of a 3x3 conv on even sides: 1 on each side at stride 1,
    nothing before and 1 after at stride 2 ([top, bottom, left, right])."""
    return 1 if stride == 1 else [0, 1, 0, 1]


def _relu6(x):
    return paddle.clip(x, 0., 6.)


@GENERATORS.register()
class MagentaStylePredictor(_Quantized):
    """Style prediction network: MobileNetV2 features -> 100-d style vector.

    Args:
        style_dim (int): Size of the style vector. Default: 100.
        quantized (bool): Apply the published graph's int8 quantization points.
            Default: True.

    Shapes:
        (N, 3, H, W) RGB in [0, 1] (Magenta: 256x256, even sides) -> (N, style_dim, 1, 1).
    """

    def __init__(self, style_dim: int = 100, quantized: bool = True):
        super().__init__(predictor_quant_names(), quantized)
        self.conv_first = _conv(3, 32, 3, 2, padding=_same(2))
        self.blocks = nn.LayerList()
        cin = 32
        for t, c, s in MOBILENET_V2_BLOCKS:
            hidden = cin * t
            block = nn.LayerDict()
            if t != 1:
                block['expand'] = _conv(cin, hidden, 1)
            block['depthwise'] = _conv(hidden, hidden, 3, s, groups=hidden, padding=_same(s))
            block['project'] = _conv(hidden, c, 1)
            self.blocks.append(block)
            cin = c
        self.conv_last = _conv(cin, 1280, 1)
        self.bottleneck = _conv(1280, style_dim, 1)

    def forward(self, style: paddle.Tensor) -> paddle.Tensor:
        q = self.q
        x = q('style_image_int8', style)
        x = q('MobilenetV2/Conv/Relu6', _relu6(self.conv_first(x)))
        cin = 32
        for i, ((t, c, s), block) in enumerate(zip(MOBILENET_V2_BLOCKS, self.blocks)):
            b = _block_name(i)
            h = x
            if t != 1:
                h = q(f'{b}/expand/Relu6', _relu6(block['expand'](h)))
            h = q(f'{b}/depthwise/Relu6', _relu6(block['depthwise'](h)))
            h = q(f'{b}/project/BatchNorm/FusedBatchNormV3', block['project'](h))
            if s == 1 and cin == c:
                h = q(f'{b}/add', h + x)
            x, cin = h, c
        x = q('MobilenetV2/Conv_1/Relu6', _relu6(self.conv_last(x)))
        x = q('bottleneck/Mean', paddle.mean(x, axis=[2, 3], keepdim=True))
        return q('mobilenet_conv/Conv/BiasAdd_int8', self.bottleneck(x))


def _reflect(x: paddle.Tensor, p: int) -> paddle.Tensor:
    return F.pad(x, [p, p, p, p], mode='reflect')


@GENERATORS.register()
class MagentaTransformer(_Quantized):
    """Style transfer network with conditional instance norm driven by a style vector.

    Contract (9x9 conv, two stride-2 3x3 convs, ReLU), 5 residual blocks and expand
    (two nearest-x2 upsamplings + 3x3 conv, then a 9x9 conv + sigmoid); every conv
    pads by reflection. Each conv after the contracting ones is followed by a
    conditional instance norm: ``(x - mean) / sqrt(var + 1e-5) * gamma + beta`` with
    ``gamma``, ``beta`` 1x1 convs of the style vector.

    Args:
        channels (tuple[int]): Widths of the three contracting convs.
            Default: (8, 16, 32).
        style_dim (int): Size of the style vector. Default: 100.
        quantized (bool): Apply the published graph's int8 quantization points.
            Default: True.

    Shapes:
        content (N, 3, H, W) RGB in [0, 1], H and W multiples of 4;
        style vector (N, style_dim, 1, 1) -> (N, 3, H, W) in [0, 1].
    """

    def __init__(self, channels: Sequence[int] = (8, 16, 32), style_dim: int = 100,
                 quantized: bool = True):
        super().__init__(transformer_quant_names(), quantized)
        c1, c2, c3 = channels
        self.contract = nn.LayerList([_conv(3, c1, 9), _conv(c1, c2, 3, 2), _conv(c2, c3, 3, 2)])
        self.residual = nn.LayerList([
            nn.LayerList([_conv(c3, c3, 3), _conv(c3, c3, 3)]) for _ in range(RESIDUAL_BLOCKS)])
        self.expand = nn.LayerList([_conv(c3, c2, 3), _conv(c2, c1, 3), _conv(c1, 3, 9)])
        widths = [c3] * (2 * RESIDUAL_BLOCKS) + [c2, c1, 3]
        # style_beta[i] / style_gamma[i]: shift and scale of STYLE_NORM_LAYERS[i]
        self.style_beta = nn.LayerList([_conv(style_dim, w, 1) for w in widths])
        self.style_gamma = nn.LayerList([_conv(style_dim, w, 1) for w in widths])

    def _norm(self, p: str, x, beta, gamma):
        q, n = self.q, f'{p}/StyleNorm'
        mean = q(f'{n}/moments/mean', paddle.mean(x, axis=[2, 3], keepdim=True))
        sq = q(f'{n}/moments/SquaredDifference_int8', (x - mean) * (x - mean))
        var = q(f'{n}/moments/variance', paddle.mean(sq, axis=[2, 3], keepdim=True))
        var = q(f'{n}/batchnorm/add', var + 1e-5)
        inv = q(f'{n}/batchnorm/Rsqrt_int8', 1.0 / paddle.sqrt(var))
        mul = q(f'{n}/batchnorm/mul', inv * gamma)
        shift = q(f'{n}/batchnorm/sub', beta - q(f'{n}/batchnorm/mul_2', mean * mul))
        return q(f'{n}/batchnorm/mul_1', x * mul) + shift

    def forward(self, content: paddle.Tensor, style_vector: paddle.Tensor) -> paddle.Tensor:
        q = self.q
        v = q('mobilenet_conv/Conv/BiasAdd_int8', style_vector)
        params = []
        for i, p in enumerate(STYLE_NORM_LAYERS):
            sp = f'style_params/{p}/StyleNorm'
            params.append((q(f'{sp}/Conv/BiasAdd', self.style_beta[i](v)),
                           q(f'{sp}/Conv_1/BiasAdd', self.style_gamma[i](v))))
        c = f'{_T}/contract'
        x = q(f'{c}/MirrorPad_int8', _reflect(content, 4))
        x = q(f'{c}/conv1/Relu', F.relu(self.contract[0](x)))
        x = q(f'{c}/MirrorPad_1_int8', _reflect(x, 1))
        x = q(f'{c}/conv2/Relu', F.relu(self.contract[1](x)))
        x = q(f'{c}/MirrorPad_2_int8', _reflect(x, 1))
        x = q(f'{c}/conv3/Relu', F.relu(self.contract[2](x)))
        for k, (conv1, conv2) in enumerate(self.residual):
            r = f'{_T}/residual/residual{k + 1}'
            h = q(f'{r}/MirrorPad_int8', _reflect(x, 1))
            h = q(f'{r}/conv1/Conv2D', conv1(h))
            h = q(f'{r}/conv1/Relu', F.relu(self._norm(f'{r}/conv1', h, *params[2 * k])))
            h = q(f'{r}/MirrorPad_1_int8', _reflect(h, 1))
            h = q(f'{r}/conv2/Conv2D', conv2(h))
            h = q(f'{r}/conv2/StyleNorm/batchnorm/add_1',
                  self._norm(f'{r}/conv2', h, *params[2 * k + 1]))
            x = q(f'{r}/add', x + h)
        for k, conv in enumerate(self.expand):
            e = f'{_T}/expand/conv{k + 1}'
            if k < 2:
                # an output size (not a Python scale_factor) converts to ONNX
                x = F.interpolate(x, size=scaled_size(x, 2), mode='nearest')
            x = q(f'{e}/MirrorPad_int8', _reflect(x, 1 if k < 2 else 4))
            x = q(f'{e}/conv/Conv2D', conv(x))
            x = self._norm(f'{e}/conv', x, *params[2 * RESIDUAL_BLOCKS + k])
            if k < 2:
                x = q(f'{e}/conv/Relu', F.relu(x))
            else:
                x = q(f'{e}/conv/StyleNorm/batchnorm/add_1', x)
                x = q(f'{e}/conv/Sigmoid_int8', F.sigmoid(x))
        return x


@GENERATORS.register()
class MagentaArbitraryNet(nn.Layer):
    """Arbitrary stylization in one graph: ``(content, style) -> stylized content``.

    Args:
        channels (tuple[int]): Transformer widths. Default: (8, 16, 32).
        style_dim (int): Style vector size. Default: 100.
        quantized (bool): Reproduce the published int8 graph. Default: True.

    Shapes:
        content (N, 3, H, W) RGB in [0, 1], H and W multiples of 4;
        style (N, 3, 256, 256) RGB in [0, 1] -> (N, 3, H, W) in [0, 1].
    """

    def __init__(self, channels: Sequence[int] = (8, 16, 32), style_dim: int = 100,
                 quantized: bool = True):
        super().__init__()
        self.predictor = MagentaStylePredictor(style_dim, quantized)
        self.transformer = MagentaTransformer(channels, style_dim, quantized)

    def forward(self, content: paddle.Tensor, style: paddle.Tensor) -> paddle.Tensor:
        return self.transformer(content, self.predictor(style))
