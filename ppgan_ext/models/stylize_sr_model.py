"""A trained LapStyle pyramid and a trained upscaler joined for inference and export.

The two parts are trained on their own (``configs/lapstyle_*.yaml``;
``configs/stylized_sr_x4.yaml`` for a style-aware upscaler) and joined here::

    model:
      name: StylizeSRModel
      lapstyle_weights: output_dir/lapstyle_rev2-RUN/iter_30000_weight.pdparams
      levels: null                 # revision levels to use (default: all in the file)
      generator: {name: TransposeSRResNet, num_feat: 32, num_blocks: 4, scale: 4, ...}
      sr_weights: output_dir/stylized_sr_x4-RUN/iter_2000_weight.pdparams

``paddlegan export -c configs/stylize_sr_x4.yaml`` then writes ONE graph
``(content, style) -> high-resolution stylized`` (see
:mod:`ppgan_ext.deploy.exporters.stylize_sr`). A single ``--load`` file holding both
nets (``{pyramid: ..., generator: ...}``) replaces the two weight files.
"""
from typing import Optional

import paddle
from ppgan.models.base_model import BaseModel
from ppgan.models.builder import MODELS
from ppgan.models.generators.builder import build_generator

from ..weight_files import is_state_dict, load_net_state, read_state_file, resolve_weights_path
from .generators.lapstyle_pyramid import LapStylePyramidNet
from .generators.lapstyle_pyramid import pyramid_from_weights
from .generators.stylize_sr import StylizeSRNet

__all__ = ['StylizeSRModel']


@MODELS.register()
class StylizeSRModel(BaseModel):
    """LapStyle pyramid + SR generator (nets ``pyramid`` and ``generator``), inference only.

    Args:
        generator (dict): GENERATORS config of the upscaler (RGB [0, 1] in and
            out, ``scale`` > 1).
        lapstyle_weights (str): LapStyle weight file (``net_enc``, ``net_dec``,
            ``net_rev`` ...); the pyramid's widths and levels are read from
            it. Default: '' (then ``pyramid`` gives the sizes and the weights
            come from ``--load``).
        sr_weights (str): Weight file of the upscaler: a ppgan weight /
            checkpoint file with a ``generator`` entry, or a bare state dict.
            Default: ''.
        levels (int, optional): Revision levels to use. Default: all.
        pyramid (dict, optional): ``{levels, base_channels, num_feat}`` of a
            pyramid built empty (when ``lapstyle_weights`` is not given).

    Data (``setup_input``, evaluation): ``ci`` content (N, 3, H, W) and
    ``si`` style in [0, 1]; the output is (N, 3, s*H, s*W).
    """

    def __init__(self, generator: Optional[dict] = None, lapstyle_weights: str = '',
                 sr_weights: str = '', levels: Optional[int] = None,
                 pyramid: Optional[dict] = None):
        super().__init__()
        if not isinstance(generator, dict) or 'name' not in generator:
            raise ValueError(f"model.generator: expected the upscaler's GENERATORS config "
                             f"(a mapping with 'name'), got {generator!r}")
        if lapstyle_weights:
            net = pyramid_from_weights(lapstyle_weights, levels, 'model.lapstyle_weights')
        else:
            sizes = dict(pyramid or {})
            unknown = sorted(set(sizes) - {'levels', 'base_channels', 'num_feat'})
            if unknown:
                raise ValueError(f"model.pyramid.{unknown[0]}: unknown key; allowed: "
                                 f"levels, base_channels, num_feat")
            if levels is not None:
                sizes['levels'] = levels
            net = LapStylePyramidNet(**sizes)
        self.nets['pyramid'] = net
        self.nets['generator'] = build_generator(generator)
        if sr_weights:
            path = resolve_weights_path(sr_weights, 'model.sr_weights')
            state = read_state_file(path, key='model.sr_weights')
            if not is_state_dict(state):
                if not is_state_dict(state.get('generator')):
                    raise ValueError(f"model.sr_weights {path}: no 'generator' weights "
                                     f"(keys: {', '.join(sorted(map(str, state))[:6])})")
                state = state['generator']
            load_net_state(self.nets['generator'], state, f'model.sr_weights {path}',
                           'generator')
        for net in self.nets.values():
            net.eval()

    @property
    def levels(self) -> int:
        return int(getattr(self.nets['pyramid'], 'levels', 0))

    def fused_net(self) -> StylizeSRNet:
        """The one layer ``(content, style) -> high-resolution stylized`` (nets shared)."""
        return StylizeSRNet(self.nets['pyramid'], self.nets['generator'])

    def setup_input(self, input: dict) -> None:
        self.ci = paddle.to_tensor(input['ci'])
        self.si = paddle.to_tensor(input['si'])
        self.image_paths = input.get('ci_path')

    def forward(self) -> None:
        with paddle.no_grad():
            self.output = self.fused_net()(self.ci, self.si)
        self.visual_items['output'] = self.output

    def test_iter(self, metrics=None) -> None:
        self.forward()

    def train_iter(self, optimizers=None) -> None:
        raise ValueError('StylizeSRModel joins two trained nets for inference and export; '
                         'train the LapStyle pyramid (configs/lapstyle_*.yaml) and the '
                         'upscaler (configs/stylized_sr_x4.yaml) on their own')
