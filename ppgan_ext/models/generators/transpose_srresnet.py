"""SRResNet-style generator whose upsampler is a stack of Conv2DTranspose layers."""
import math
from typing import Optional

import paddle.nn as nn
from ppgan.models.generators.builder import GENERATORS

from ...pyramid import resample, scaled_size
from ..layers import Conv2D, Conv2DTranspose, PReLU

_SUPPORTED_SCALES = (1, 2, 4, 8)
_NORMS = ('bn', 'none')
_UPSAMPLERS = ('transpose', 'pixelshuffle')
_DECONV_PADDING = {3: (1, 1), 4: (1, 0)}  # kernel -> (padding, output_padding)


def _norm(norm: str, channels: int) -> nn.Layer:
    return nn.BatchNorm2D(channels) if norm == 'bn' else nn.Identity()


class ResidualBlock(nn.Layer):
    """conv-norm-PReLU-conv-norm with an identity shortcut."""

    def __init__(self, num_feat: int = 64, norm: str = 'bn'):
        super().__init__()
        self.body = nn.Sequential(
            Conv2D(num_feat, num_feat, 3, 1, 1), _norm(norm, num_feat), PReLU(),
            Conv2D(num_feat, num_feat, 3, 1, 1), _norm(norm, num_feat))

    def forward(self, x):
        return x + self.body(x)


def _upsample_stage(kind: str, in_feat: int, out_feat: int, norm: str,
                    deconv_kernel: int) -> nn.Layer:
    if kind == 'transpose':
        padding, output_padding = _DECONV_PADDING[deconv_kernel]
        up = Conv2DTranspose(in_feat, out_feat, deconv_kernel, stride=2,
                             padding=padding, output_padding=output_padding)
    else:
        up = nn.Sequential(Conv2D(in_feat, 4 * out_feat, 3, 1, 1), nn.PixelShuffle(2))
    return nn.Sequential(up, _norm(norm, out_feat), PReLU())


@GENERATORS.register()
class TransposeSRResNet(nn.Layer):
    """Residual-block super-resolution generator with a Conv2DTranspose upsampler.

    SRResNet (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using
    a Generative Adversarial Network", CVPR 2017) layout: head conv + PReLU,
    ``num_blocks`` residual blocks, conv + norm with a long skip from the head,
    then ``log2(scale)`` upsampling stages of stride-2 ``Conv2DTranspose`` + norm
    + PReLU, and an output conv.

    Args:
        in_channels (int): Input channels. Default: 3.
        out_channels (int): Output channels. Default: 3.
        num_feat (int): Feature channels. Default: 64.
        num_blocks (int): Residual blocks. Default: 16.
        scale (int): Upscale factor, one of 1, 2, 4, 8 (1 = same-size
            restoration). Default: 4.
        norm (str): ``'bn'`` (BatchNorm, as SRResNet) or ``'none'``. Default: 'bn'.
        deconv_kernel (int): Transposed-conv kernel, 3 (padding 1,
            output_padding 1) or 4 (padding 1, no uneven overlap). Default: 3.
        upsampler (str): ``'transpose'`` or ``'pixelshuffle'`` (conv to
            4*num_feat + PixelShuffle(2), for comparison). Default: 'transpose'.
        global_residual (bool): Add the bilinearly upsampled input to the
            output, so the net predicts a correction. Default: False.
        upsample_feat (int, optional): Channels of the upsampling stages and
            the output conv; the first stage maps ``num_feat`` to it. Each
            stage costs 4x the previous one per channel, so a narrower
            upsampler frees compute for the low-resolution body. Default:
            None (= ``num_feat``, SRResNet's layout).

    Shapes:
        ``(N, in_channels, H, W) -> (N, out_channels, scale*H, scale*W)`` for any
        H, W (odd included). Values are unconstrained (no output activation);
        train on images in [0, 1].
    """

    def __init__(self,
                 in_channels: int = 3,
                 out_channels: int = 3,
                 num_feat: int = 64,
                 num_blocks: int = 16,
                 scale: int = 4,
                 norm: str = 'bn',
                 deconv_kernel: int = 3,
                 upsampler: str = 'transpose',
                 global_residual: bool = False,
                 upsample_feat: Optional[int] = None):
        super().__init__()
        if upsample_feat is None:
            upsample_feat = num_feat
        if isinstance(scale, bool) or not isinstance(scale, int) or scale not in _SUPPORTED_SCALES:
            raise ValueError(f'TransposeSRResNet: scale must be one of {_SUPPORTED_SCALES}, '
                             f'got {scale!r}')
        if norm not in _NORMS:
            raise ValueError(f'TransposeSRResNet: norm must be one of {_NORMS}, got {norm!r}')
        if deconv_kernel not in _DECONV_PADDING:
            raise ValueError(f'TransposeSRResNet: deconv_kernel must be one of '
                             f'{tuple(_DECONV_PADDING)}, got {deconv_kernel!r}')
        if upsampler not in _UPSAMPLERS:
            raise ValueError(f'TransposeSRResNet: upsampler must be one of {_UPSAMPLERS}, '
                             f'got {upsampler!r}')
        for key, value in (('in_channels', in_channels), ('out_channels', out_channels),
                           ('num_feat', num_feat), ('upsample_feat', upsample_feat)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'TransposeSRResNet: {key} must be a positive int, '
                                 f'got {value!r}')
        if not isinstance(num_blocks, int) or num_blocks < 0:
            raise ValueError(f'TransposeSRResNet: num_blocks must be an int >= 0, '
                             f'got {num_blocks!r}')
        if global_residual and in_channels != out_channels:
            raise ValueError('TransposeSRResNet: global_residual needs '
                             'in_channels == out_channels')
        self.scale = scale
        self.global_residual = global_residual

        self.head = nn.Sequential(Conv2D(in_channels, num_feat, 3, 1, 1), PReLU())
        self.body = nn.Sequential(*[ResidualBlock(num_feat, norm) for _ in range(num_blocks)])
        self.conv_after_body = nn.Sequential(Conv2D(num_feat, num_feat, 3, 1, 1),
                                             _norm(norm, num_feat))
        num_stages = int(math.log2(scale))
        self.upsample = nn.Sequential(*[
            _upsample_stage(upsampler, num_feat if i == 0 else upsample_feat, upsample_feat,
                            norm, deconv_kernel)
            for i in range(num_stages)])
        self.conv_last = Conv2D(upsample_feat if num_stages else num_feat, out_channels,
                                3, 1, 1)

    def forward(self, x):
        feat = self.head(x)
        out = self.conv_after_body(self.body(feat)) + feat
        out = self.conv_last(self.upsample(out))
        if self.global_residual:
            if self.scale > 1:
                x = resample(x, scaled_size(x, self.scale))  # a size converts to ONNX
            out = out + x
        return out
