"""Exporter of named pretrained generators (:mod:`ppgan_ext.zoo`): ``lq -> output``.

The model is :class:`ppgan_ext.apps.pretrained.PretrainedModel` (its
generator in ``nets['generator']``, its registry entry in ``entry``); the
graph is the generator alone, in its own value range (recorded in the
sidecar); the entry's pre/post-processing runs around it in
:mod:`ppgan_ext.apps.pretrained`. Parity sizes respect the net's size rules
(MPRNet: multiples of 8; AnimeGAN: multiples of 32 at least 64).
"""
from typing import List, Optional

from ..export_spec import ExportSpec, register_exporter

__all__ = ['export_pretrained_generator']

# pipeline -> (H, W) sizes of the parity check
_PARITY_SIZES = {'sr': [(21, 17)], 'realsr': [(21, 17)], 'mprnet': [(40, 32)],
                 'animegan': [(96, 64)]}


@register_exporter('PretrainedModel')
def export_pretrained_generator(model, cfg: dict, options: dict,
                                inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """``lq -> output`` of a registry entry's generator, dynamic N, H, W."""
    from paddle.static import InputSpec

    entry = model.entry
    net = model.nets['generator']
    net.eval()
    pipeline = entry.extra.get('pipeline', 'sr' if entry.task == 'sr' else '')
    return ExportSpec(
        layer=net, input_specs=[InputSpec([None, 3, None, None], 'float32', name='lq')],
        kind='sr', name=entry.name.replace('-', '_'), scale=int(entry.scale), in_channels=3,
        out_channels=3, value_range=tuple(entry.value_range), nets=['generator'],
        parity_sizes=_PARITY_SIZES.get(pipeline),
        meta={'zoo_model': entry.name, 'net_class': entry.arch.get('name'),
              'pad_multiple': int(entry.pad_multiple), 'pipeline': pipeline})
