"""Exporter of named arbitrary-stylization models (``magenta-arbitrary``): one two-input graph.

The model is :class:`ppgan_ext.apps.pretrained.ArbitraryStylizeModel` (its
``(content, style) -> stylized`` net in ``nets['generator']``, its registry
entry in ``entry``). The graph is the whole net, style predictor and
transformer, with dynamic content and style sizes; the entry's
pre-processing (style: centre square resized to ``style_size``; content:
reflect-padded to a multiple of ``pad_multiple``, the output cropped back)
runs around it in :mod:`ppgan_ext.apps.pretrained`, the same for every
backend.

The graph is the net's float form (``quantized=False``: Magenta's int8
weights, float32 activations). The published graph quantizes every
activation to int8; a last-bit difference between two float runtimes moves a
value across a rounding step, and the following layers (instance-norm
statistics among them) carry it to whole channels: exported with its 260
quantization points, the net gives 33-54 % of pixels within one grey level
of Paddle's own dynamic graph on Paddle Inference, ONNX Runtime and OpenVINO
alike (docs/pretrained_packages.md). The float form checks to 1e-4 like
every float graph.
"""
from typing import List, Optional

import numpy as np

from ..export_spec import ExportSpec, register_exporter
from .lapstyle import two_input_names

__all__ = ['export_arbitrary_stylizer', 'float_form']


def float_form(net):
    """``net`` with its int8 activation quantization turned off (in place); ``net``."""
    for layer in net.sublayers(include_self=True):
        if hasattr(layer, 'quantized'):
            layer.quantized = False
    return net


@register_exporter('ArbitraryStylizeModel')
def export_arbitrary_stylizer(model, cfg: dict, options: dict,
                              inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """``(content, style) -> stylized`` of a registry entry's two-input net, float form.

    Content (1, 3, H, W), H and W multiples of the entry's ``pad_multiple``
    (4 for Magenta), and style (1, 3, S, S) (the entry's ``style_size``,
    256), both RGB in [0, 1]; output (1, 3, H, W) in [0, 1]. The parity
    check feeds a square and an uneven content (64x64, 52x76 for Magenta)
    with a style, each made of random colours on an 8x8 grid, enlarged.
    """
    from paddle.static import InputSpec

    if inputs_size:
        raise ValueError('--inputs_size: a named stylization model exports with dynamic '
                         'sizes only')
    entry = model.entry
    names = two_input_names(options, f'model {entry.name}')
    net = float_form(model.nets['generator'])
    net.eval()
    m = max(1, int(entry.pad_multiple))
    style_size = int(entry.extra.get('style_size', 256))

    def make_inputs(rng: np.random.Generator, height: int, width: int) -> List[np.ndarray]:
        return [_smooth(rng, height, width), _smooth(rng, style_size, style_size)]

    return ExportSpec(
        layer=net,
        input_specs=[InputSpec([1, 3, None, None], 'float32', name=n) for n in names],
        kind='stylize', name=entry.name.replace('-', '_'), scale=1, in_channels=3,
        out_channels=3, channel_order='RGB', value_range=tuple(entry.value_range),
        nets=['generator'], make_inputs=make_inputs,
        parity_sizes=[(16 * m, 16 * m), (13 * m, 19 * m)],
        meta={'zoo_model': entry.name, 'net_class': entry.arch.get('name'),
              'arbitrary': True, 'quantized': False, 'pad_multiple': m,
              'style_size': style_size})


def _smooth(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(1, 3, H, W) float32 in [0, 1]: random colours on an 8x8 grid, bilinearly enlarged."""
    import cv2

    grid = rng.random((8, 8, 3), dtype=np.float32)
    img = cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(np.clip(img, 0, 1).transpose(2, 0, 1)[None], np.float32)
