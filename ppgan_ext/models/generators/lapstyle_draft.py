"""LapStyle drafting net: AdaIN at relu2_1/3_1/4_1 and a decoder with skip connections.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021, Sec. 3.2.
"""
from typing import Dict, Sequence

import numpy as np

import paddle
import paddle.nn as nn

from ppgan.models.generators.builder import GENERATORS

from ...pyramid import check_semantics
from .lapstyle_blocks import (SEMANTICS_CODES, ConvBlock, ResBlock, adain, unbiased_statistics,
                              upsample_to, zero_)

__all__ = ['LapStyleDraftNet', 'semantics_of_state']

_CODE_SEMANTICS = {code: name for name, code in SEMANTICS_CODES.items()}


def semantics_of_state(state: Dict) -> str:
    """The pyramid semantics a ``net_dec`` state dict records: ``'ppgan'`` when it records none.

    Raises:
        ValueError: an unknown record value.
    """
    record = state.get('semantics_record')
    if record is None:
        return 'ppgan'
    code = int(np.asarray(record).reshape(-1)[0])
    if code not in _CODE_SEMANTICS:
        raise ValueError(f"net_dec.semantics_record is {code}; known values: "
                         f"{', '.join(f'{c} ({n})' for c, n in _CODE_SEMANTICS.items())}")
    return _CODE_SEMANTICS[code]


@GENERATORS.register()
class LapStyleDraftNet(nn.Layer):
    """Decoder of the drafting network; takes encoder features, returns the draft image.

    The relu4_1 content features are AdaIN-modulated by the style's and
    decoded; on the way up, the AdaIN-modulated relu3_1 and relu2_1 features
    are added as skip connections. Parameter names match ppgan's
    ``DecoderNet``.

    The pyramid semantics the net belongs to (see :mod:`ppgan_ext.pyramid`)
    is recorded in its state dict as the int buffer ``semantics_record``
    (0: ppgan, 1: exact), so every LapStyle checkpoint (they all hold
    ``net_dec``) says which semantics it was trained with. ppgan's loaders
    ignore the extra entry; a ``net_dec`` without it is ppgan's.

    Args:
        base_channels (int): Width of the encoder's first stage (64 for
            VGG-19). The decoder's widths are 8x, 4x, 2x, 1x this. Default: 64.
        semantics (str): ``'exact'``: AdaIN with the population variance and a
            zero output conv (see ``zero_``); ``'ppgan'``: ppgan's
            ``DecoderNet`` (unbiased variance, Paddle's default init; ppgan's
            model then applies its N(0, 0.02) init). Default: 'ppgan'.

    Inputs of ``forward(content_feats, style_feats)``: sequences of encoder
    features ``(relu1_1, relu2_1, relu3_1, relu4_1, ...)`` from
    :class:`LapStyleVGGEncoder` (only the first four are used; relu1_1 only
    for its size). Content and style may have different sizes.
    Output: (N, 3, H, W) at the size of the content's relu1_1 (= the content
    image's size), values roughly in [0, 1] (not clipped).
    """

    def __init__(self, base_channels: int = 64, semantics: str = 'ppgan'):
        super().__init__()
        if not isinstance(base_channels, int) or base_channels < 1:
            raise ValueError(f"base_channels must be a positive int, got {base_channels!r}")
        self.semantics = check_semantics(semantics)
        self.unbiased = unbiased_statistics(semantics)
        self.register_buffer('semantics_record', paddle.to_tensor(
            [SEMANTICS_CODES[semantics]], dtype='int64'), persistable=True)
        b = base_channels
        self.resblock_41 = ResBlock(8 * b)
        self.convblock_41 = ConvBlock(8 * b, 4 * b)
        self.resblock_31 = ResBlock(4 * b)
        self.convblock_31 = ConvBlock(4 * b, 2 * b)
        self.convblock_21 = ConvBlock(2 * b, 2 * b)
        self.convblock_22 = ConvBlock(2 * b, b)
        self.convblock_11 = ConvBlock(b, b)
        self.final_conv = nn.Sequential(nn.Pad2D([1, 1, 1, 1], mode='reflect'),
                                        nn.Conv2D(b, 3, 3))
        if semantics == 'exact':
            # Kaiming-initialised convs (Paddle's default) and a zero output conv: the draft
            # starts black but every layer gets healthy gradients after the first step.
            zero_(self.final_conv[1])

    def check_state(self, state: Dict, source: str) -> None:
        """Refuse a state dict whose ``semantics_record`` (absent: ppgan) is not this net's.

        Called by :func:`ppgan_ext.weight_files.load_net_state`.
        """
        recorded = semantics_of_state(state)
        if recorded != self.semantics:
            raise ValueError(f"{source}: net_dec was trained with the {recorded!r} pyramid "
                             f"semantics, this net is {self.semantics!r} (set semantics: "
                             f"{recorded})")

    def forward(self, content_feats: Sequence[paddle.Tensor],
                style_feats: Sequence[paddle.Tensor]) -> paddle.Tensor:
        c11, c21, c31, c41 = content_feats[:4]
        s21, s31, s41 = style_feats[1:4]
        u = self.unbiased
        out = self.resblock_41(adain(c41, s41, unbiased=u))
        out = self.convblock_41(out)
        out = upsample_to(out, c31) + adain(c31, s31, unbiased=u)
        out = self.resblock_31(out)
        out = self.convblock_31(out)
        out = upsample_to(out, c21) + adain(c21, s21, unbiased=u)
        out = self.convblock_21(out)
        out = self.convblock_22(out)
        out = upsample_to(out, c11)
        out = self.convblock_11(out)
        return self.final_conv(out)
