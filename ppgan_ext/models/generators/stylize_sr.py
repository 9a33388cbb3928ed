"""Stylize and super-resolve in one net: ``(content, style) -> high-resolution stylized``.

A LapStyle pyramid stylizes the content at its own (working) size; an SR
generator (e.g. :class:`TransposeSRResNet`) then enlarges the stylized image
``scale`` times. Running the pyramid at 512 and a x4 upscaler costs far less
than the pyramid at 2048 (``bench/fusion.py``); an upscaler trained on the
pyramid's own outputs (:class:`ppgan_ext.datasets.StylizedSRDataset`) keeps
the stylized texture sharp. Tensors in, tensors out, so
``paddle.jit.to_static`` exports the whole thing as one graph.
"""
from typing import Dict, Optional, Tuple

import paddle
import paddle.nn as nn
from ppgan.models.generators.builder import GENERATORS, build_generator

from ...weight_files import read_state_file, resolve_weights_path
from .lapstyle_pyramid import LapStylePyramidNet, revision_net_name, semantics_of_checkpoint

__all__ = ['StylizeSRNet', 'lapstyle_sizes', 'pyramid_from_weights']


def lapstyle_sizes(state: Dict, source: str) -> Tuple[int, int, int]:
    """(revision levels, encoder/draft width, revision width) of a LapStyle state dict.

    Raises:
        ValueError: not a LapStyle weight file (names ``source``).
    """
    try:
        base = int(state['net_dec']['final_conv.1.weight'].shape[1])
    except (KeyError, TypeError, AttributeError):
        raise ValueError(f"{source}: not a LapStyle weight file (no net_dec.final_conv)") from None
    levels, feat = 0, 64
    while isinstance(state.get(revision_net_name(levels + 1)), dict):
        rev = state[revision_net_name(levels + 1)]
        if 'DownBlock.1.weight' not in rev:
            raise ValueError(f"{source}: {revision_net_name(levels + 1)} is not a LapStyle "
                             f"revision net")
        feat = int(rev['DownBlock.1.weight'].shape[0])
        levels += 1
    return levels, base, feat


def pyramid_from_weights(path: str, levels: Optional[int] = None,
                         key: str = 'lapstyle_weights') -> LapStylePyramidNet:
    """A :class:`LapStylePyramidNet` (eval mode) built and loaded from a LapStyle weight file.

    Args:
        path (str): Weight/checkpoint file (``net_enc``, ``net_dec``,
            ``net_rev`` ...; ours or ppgan's); a glob picks the newest match.
        levels (int, optional): Revision levels to use (default: all in the file).
        key (str): Flag or config key named in errors. Default: 'lapstyle_weights'.

    Raises:
        FileNotFoundError / ValueError: missing or unreadable file, ``levels``
            above what it holds.
    """
    path = resolve_weights_path(path, key)
    state = read_state_file(path, key=key)
    available, base, feat = lapstyle_sizes(state, path)
    levels = available if levels is None else levels
    if not isinstance(levels, int) or not 0 <= levels <= available:
        raise ValueError(f"{key}: {path} has revision levels 0..{available}, got {levels!r}")
    net = LapStylePyramidNet(levels, base_channels=base, num_feat=feat,
                             semantics=semantics_of_checkpoint(state, path))
    net.load_weights(state, path)
    net.eval()
    return net


@GENERATORS.register()
class StylizeSRNet(nn.Layer):
    """A LapStyle pyramid followed by an SR generator.

    Args:
        pyramid (nn.Layer or dict): The stylizer, any layer
            ``(content, style) -> stylized`` (N, 3, H, W) in [0, 1] (a
            :class:`LapStylePyramidNet`), or the ``GENERATORS`` config to build.
        generator (nn.Layer or dict): The upscaler ``(N, 3, H, W) -> (N, 3,
            s*H, s*W)`` working on [0, 1] images, or its ``GENERATORS`` config
            (e.g. ``{name: TransposeSRResNet, scale: 4, ...}``).

    Inputs of ``forward(content, style)``: (N, 3, H, W) and (N, 3, H', W') in
    [0, 1]. Output: (N, 3, s*H, s*W), clipped to [0, 1].
    """

    def __init__(self, pyramid=None, generator=None):
        super().__init__()
        if pyramid is None or generator is None:
            raise ValueError("StylizeSRNet: both 'pyramid' and 'generator' are required")
        self.pyramid = pyramid if isinstance(pyramid, nn.Layer) else build_generator(pyramid)
        self.generator = generator if isinstance(generator, nn.Layer) \
            else build_generator(generator)

    def forward(self, content: paddle.Tensor, style: paddle.Tensor) -> paddle.Tensor:
        stylized = self.pyramid(content, style)
        return paddle.clip(self.generator(stylized), 0.0, 1.0)
