"""Exporter of image-to-image models: ``lq -> output`` of one net (``kind: sr``).

Used for ppgan's ``BaseSRModel`` and its subclasses (``ESRGAN``, ...), and
for any other model with a ``generator`` net that has no exporter of its own
(:func:`ppgan_ext.deploy.export.export_layer`).
"""
import re
from typing import List, Optional, Tuple

from ...scale_probe import probe_scale
from ...tiling import dygraph_net
from ..export_spec import ExportSpec, register_exporter

__all__ = ['export_sr_generator', 'value_range']

_SR_INPUT_NAMES = ('lq',)


def _first_conv_in_channels(net) -> Optional[int]:
    import paddle.nn as nn

    for layer in net.sublayers(include_self=True):
        if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose)):
            return int(layer.weight.shape[1 if isinstance(layer, nn.Conv2D) else 0]
                       * (layer._groups if isinstance(layer, nn.Conv2D) else 1))
    return None


def value_range(cfg: dict) -> Tuple[float, float]:
    """ppgan's ``min_max`` config entry (``"(0., 1.)"`` or a list) as a float pair."""
    raw = cfg.get('min_max', (0.0, 1.0))
    values = re.findall(r'[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?', str(raw)) \
        if isinstance(raw, str) else list(raw)
    if len(values) != 2:
        raise ValueError(f"min_max: expected two numbers, got {raw!r}")
    low, high = float(values[0]), float(values[1])
    if not high > low:
        raise ValueError(f"min_max: expected low < high, got {raw!r}")
    return low, high


@register_exporter('BaseSRModel', generator_fallback=True)
def export_sr_generator(model, cfg: dict, options: dict,
                        inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """``lq -> output`` for any model whose ``nets[net]`` maps one image to one image.

    Channels come from the net's first convolution, scale and output
    channels from a 16x16 probe run.
    """
    from paddle.static import InputSpec

    net_name = options.get('net', 'generator')
    if net_name not in model.nets:
        raise ValueError(f"export_model.net: {net_name!r} is not a net of "
                         f"{type(model).__name__} (nets: {', '.join(model.nets)})")
    net = model.nets[net_name]
    net.eval()
    channels = _first_conv_in_channels(net) or 3
    names = list(options.get('input_names', _SR_INPUT_NAMES))
    if int(options.get('inputs_num', 1)) != 1 or len(names) != 1:
        raise ValueError(f"export_model: {type(model).__name__}.{net_name} takes one input "
                         f"(got input_names {names})")
    shape = list(inputs_size[0]) if inputs_size else [-1, channels, -1, -1]
    if inputs_size and len(inputs_size) != 1:
        raise ValueError(f"--inputs-size: {net_name} takes one input, got {len(inputs_size)} "
                         f"shapes")
    if len(shape) != 4 or shape[1] != channels:
        raise ValueError(f"--inputs-size: {shape} does not fit {net_name}, which takes "
                         f"(N, {channels}, H, W)")
    scale, out_channels = probe_scale(dygraph_net(net), channels,
                                      what=f'model.{net_name} (a net that is not an image '
                                           f'upscale needs its own exporter)')
    order = str(options.get('channel_order', 'RGB')).upper()
    if order not in ('RGB', 'BGR'):
        raise ValueError(f"export_model.channel_order must be 'RGB' or 'BGR', got {order!r}")
    gen_cfg = (cfg.get('model') or {}).get(net_name) or {}
    return ExportSpec(
        layer=net,
        input_specs=[InputSpec([d if d > 0 else None for d in shape], 'float32', name=names[0])],
        kind='sr', name=f'{type(model).__name__.lower()}_{net_name}',
        scale=scale, in_channels=channels, out_channels=out_channels,
        channel_order=order, value_range=value_range(cfg), nets=[net_name],
        meta={'net': net_name, 'net_class': gen_cfg.get('name', type(net).__name__)})
