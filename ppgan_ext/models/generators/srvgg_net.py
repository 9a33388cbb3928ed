"""Compact VGG-style super-resolution net (Real-ESRGAN's realesr-animevideov3)."""
from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from ppgan.models.generators.builder import GENERATORS

from ...pyramid import scaled_size
from ..layers import Conv2D, PReLU

_ACTS = ('prelu', 'relu', 'leakyrelu')


def _act(act_type: str, num_feat: int) -> nn.Layer:
    if act_type == 'prelu':
        return PReLU(num_parameters=num_feat)
    if act_type == 'relu':
        return nn.ReLU()
    return nn.LeakyReLU(negative_slope=0.1)


@GENERATORS.register()
class SRVGGNetCompact(nn.Layer):
    """Plain conv + activation stack with a PixelShuffle upsampler and a nearest-upsampled skip.

    The compact net of Real-ESRGAN (Wang et al., "Real-ESRGAN: Training
    Real-World Blind Super-Resolution with Pure Synthetic Data", ICCVW 2021),
    used by its ``realesr-animevideov3`` models: a 3x3 conv from ``num_in_ch``
    to ``num_feat`` channels, ``num_conv`` 3x3 convs of ``num_feat`` channels,
    each followed by the activation, a 3x3 conv to
    ``num_out_ch * upscale ** 2`` channels and a PixelShuffle, plus the input
    upsampled by ``upscale`` (nearest neighbour). Every conv keeps the size
    (zero padding 1), so any input size works.

    ``out_scale`` below ``upscale`` appends a bicubic resize of the output to
    ``out_scale`` times the input size: Real-ESRGAN's ncnn files for x2 and x3
    are the x4 net followed by that resize.

    Args:
        num_in_ch (int): Input channels. Default: 3.
        num_out_ch (int): Output channels. Default: 3.
        num_feat (int): Feature channels. Default: 64.
        num_conv (int): Convs between the first and the last conv. Default: 16.
        upscale (int): PixelShuffle factor, >= 1. Default: 4.
        act_type (str): ``'prelu'`` (one slope per channel), ``'relu'`` or
            ``'leakyrelu'`` (slope 0.1). Default: ``'prelu'``.
        out_scale (int | None): Output size / input size, at most
            ``upscale``; None means ``upscale``. Default: None.

    The convs and PReLUs are :mod:`ppgan_ext.models.layers`' (Paddle's in
    eval mode and in exported graphs, same state-dict names; a faster training
    step).

    Shapes:
        (N, num_in_ch, H, W) -> (N, num_out_ch, H * out_scale, W * out_scale),
        values in the input's range (Real-ESRGAN: [0, 1], not clipped).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_conv: int = 16, upscale: int = 4, act_type: str = 'prelu',
                 out_scale: Optional[int] = None):
        super().__init__()
        if act_type not in _ACTS:
            raise ValueError(f'act_type must be one of {_ACTS}, got {act_type!r}')
        for key, value in (('num_in_ch', num_in_ch), ('num_out_ch', num_out_ch),
                           ('num_feat', num_feat), ('upscale', upscale)):
            if int(value) != value or value < 1:
                raise ValueError(f'{key} must be a positive integer, got {value!r}')
        if int(num_conv) != num_conv or num_conv < 0:
            raise ValueError(f'num_conv must be a non-negative integer, got {num_conv!r}')
        out_scale = upscale if out_scale is None else out_scale
        if int(out_scale) != out_scale or not 1 <= out_scale <= upscale:
            raise ValueError(f'out_scale must be an integer in [1, upscale={upscale}], '
                             f'got {out_scale!r}')
        self.upscale = upscale
        self.out_scale = out_scale
        self.conv_first = Conv2D(num_in_ch, num_feat, 3, 1, 1)
        self.act_first = _act(act_type, num_feat)
        self.convs = nn.LayerList([Conv2D(num_feat, num_feat, 3, 1, 1)
                                   for _ in range(num_conv)])
        self.acts = nn.LayerList([_act(act_type, num_feat) for _ in range(num_conv)])
        self.conv_last = Conv2D(num_feat, num_out_ch * upscale * upscale, 3, 1, 1)
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.act_first(self.conv_first(x))
        for conv, act in zip(self.convs, self.acts):
            out = act(conv(out))
        out = self.upsampler(self.conv_last(out))
        # an output size (not a Python scale_factor) converts to ONNX
        out = out + F.interpolate(x, size=scaled_size(x, self.upscale), mode='nearest')
        if self.out_scale != self.upscale:
            out = F.interpolate(out, size=scaled_size(x, self.out_scale), mode='bicubic',
                                align_corners=False)
        return out
