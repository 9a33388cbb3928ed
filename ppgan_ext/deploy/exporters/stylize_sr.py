"""Exporter of :class:`~ppgan_ext.models.stylize_sr_model.StylizeSRModel`: one fused graph.

``paddlegan export -c configs/stylize_sr_x4.yaml`` writes
``(content, style) -> high-resolution stylized`` (kind ``stylize``, with the
pyramid's ``levels`` and the upscaler's ``scale`` in the sidecar) and checks
Paddle Inference and ONNX Runtime against the dynamic graph like every export;
``paddlegan stylize --model-dir`` runs it. This module is the only link
between the fused model and the export machinery
(:func:`ppgan_ext.deploy.export_spec.register_exporter`).
"""
from typing import List, Optional

import numpy as np

from ...pyramid import content_multiple, min_style_side
from ...scale_probe import probe_scale
from ...tiling import dygraph_net
from ..export_spec import ExportSpec, register_exporter
from .lapstyle import stylize_parity_sizes, two_input_names

__all__ = ['export_stylize_sr']


@register_exporter('StylizeSRModel')
def export_stylize_sr(model, cfg: dict, options: dict,
                      inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """The fused pyramid + upscaler as ONE graph ``(content, style) -> stylized x scale``.

    Content (1, 3, H, W) and style (1, 3, H', W') in [0, 1], RGB, any H, W;
    style sides ``>= 2 ** (levels + 4)``; output (1, 3, s*H, s*W) in [0, 1].
    The parity check feeds random content at 2m x 2m, 47x33 and
    (3m + 5) x (2m + 1), m = ``2 ** (levels + 3)``, with one random style.

    Config ``export_model`` keys used: ``input_names`` (default
    ``[content, style]``), ``parity_sizes``; ``net`` may only be ``fused``.
    """
    from paddle.static import InputSpec

    net_name = options.get('net', 'fused')
    if net_name != 'fused':
        raise ValueError(f"export_model.net: StylizeSRModel exports pyramid + upscaler as one "
                         f"graph (net: fused), got {net_name!r}")
    names = two_input_names(options, 'the fused net')
    if inputs_size:
        raise ValueError('--inputs-size: the fused net exports with dynamic sizes only '
                         '(content and style (1, 3, H, W))')
    levels = model.levels
    style_min, multiple = min_style_side(levels), content_multiple(levels)
    net = model.fused_net()
    net.eval()
    scale, _ = probe_scale(dygraph_net(model.nets['generator']), out_channels=3,
                           min_scale=2, what='model.generator')
    style_shape = (1, 3, style_min + 5, style_min + 19)

    def make_inputs(rng: np.random.Generator, height: int, width: int) -> List[np.ndarray]:
        return [rng.random((1, 3, height, width), dtype=np.float32),
                rng.random(style_shape, dtype=np.float32)]

    sizes = stylize_parity_sizes(levels)
    gen_cfg = (cfg.get('model') or {}).get('generator') or {}
    return ExportSpec(
        layer=net,
        input_specs=[InputSpec([1, 3, None, None], 'float32', name=n) for n in names],
        kind='stylize', name='stylize_sr', scale=scale, in_channels=3, out_channels=3,
        channel_order='RGB', value_range=(0.0, 1.0), nets=['pyramid', 'generator'],
        make_inputs=make_inputs, parity_sizes=sizes,
        meta={'net': 'fused', 'levels': levels, 'upscale': scale,
              'semantics': net.pyramid.semantics,
              'style_min_side': style_min, 'content_multiple': multiple,
              'generator_class': gen_cfg.get('name')})
