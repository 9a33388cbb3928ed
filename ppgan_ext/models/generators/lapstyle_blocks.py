"""Building blocks shared by the LapStyle nets: reflect-padded convs, AdaIN, exact-size upsampling.

Parameter names follow ppgan's LapStyle nets (``conv_block.1.weight`` ...), so
weights trained with ppgan load into ppgan-ext's nets and back.
"""
from typing import Tuple

import paddle
import paddle.nn as nn

from ...pyramid import check_semantics, spatial_size, upsample_nearest2x

# Value of the ``semantics_record`` buffer of LapStyleDraftNet per pyramid semantics.
SEMANTICS_CODES = {'ppgan': 0, 'exact': 1}


class ConvBlock(nn.Layer):
    """Reflect pad 1 -> 3x3 conv -> ReLU.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Pad2D([1, 1, 1, 1], mode='reflect'),
                                        nn.Conv2D(in_channels, out_channels, 3), nn.ReLU())

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.conv_block(x)


class ResBlock(nn.Layer):
    """``x + conv(relu(conv(x)))`` with reflect-padded 3x3 convs.

    Args:
        channels (int): Input and output channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Pad2D([1, 1, 1, 1], mode='reflect'),
                                        nn.Conv2D(channels, channels, 3), nn.ReLU(),
                                        nn.Pad2D([1, 1, 1, 1], mode='reflect'),
                                        nn.Conv2D(channels, channels, 3))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x + self.conv_block(x)


def zero_(conv: nn.Conv2D) -> None:
    """Set a conv's weight and bias to zero (in place).

    Used on the output conv of the LapStyle generators, the other convs keeping
    Paddle's Kaiming-normal default: the output starts at zero while every
    layer gets useful gradients after one step. (ppgan's N(0, 0.02) shrinks
    signals and gradients about 2x per conv; small drafting nets then sit at a
    black output for tens of iterations.)
    """
    conv.weight.set_value(paddle.zeros(conv.weight.shape, conv.weight.dtype))
    conv.bias.set_value(paddle.zeros(conv.bias.shape, conv.bias.dtype))


class NearestUp2(nn.Layer):
    """Nearest 2x upsampling as a Layer (:func:`ppgan_ext.pyramid.upsample_nearest2x`)."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return upsample_nearest2x(x)


def channel_mean_std(feat: paddle.Tensor, eps: float = 1e-5,
                     unbiased: bool = False) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """Per-sample, per-channel mean and standard deviation.

    Args:
        feat (Tensor): Shape (N, C, H, W).
        eps (float): Added to the variance before the square root. Default: 1e-5.
        unbiased (bool): Divide by ``H*W - 1`` as ppgan's ``calc_mean_std``
            (``paddle.var``) does; a 1x1 map then gives NaN. False: the
            population variance (divides by ``H*W``), valid for any map.
            Default: False.

    Returns:
        tuple[Tensor, Tensor]: mean and ``sqrt(var + eps)``, each (N, C, 1, 1).
    """
    mean = feat.mean(axis=[2, 3], keepdim=True)
    if unbiased:
        var = paddle.var(feat, axis=[2, 3], unbiased=True, keepdim=True)
    else:
        var = ((feat - mean) ** 2).mean(axis=[2, 3], keepdim=True)
    return mean, paddle.sqrt(var + eps)


def unbiased_statistics(semantics: str) -> bool:
    """Whether AdaIN and the style losses use the unbiased variance: ppgan's do."""
    return check_semantics(semantics) == 'ppgan'


def adain(content: paddle.Tensor, style: paddle.Tensor, eps: float = 1e-5,
          unbiased: bool = False) -> paddle.Tensor:
    """Adaptive instance normalisation.

    Huang and Belongie, "Arbitrary Style Transfer in Real-time with Adaptive
    Instance Normalization", ICCV 2017: normalise each channel of ``content``
    to zero mean and unit std, then give it the mean and std of ``style``.

    Args:
        content (Tensor): Shape (N, C, H, W).
        style (Tensor): Shape (N, C, H', W'); any spatial size.
        eps (float): Variance epsilon. Default: 1e-5.
        unbiased (bool): See :func:`channel_mean_std`. Default: False.

    Returns:
        Tensor: Shape (N, C, H, W) whose channel means equal the style's and
        whose channel stds equal the style's up to ``eps``.
    """
    c_mean, c_std = channel_mean_std(content, eps, unbiased)
    s_mean, s_std = channel_mean_std(style, eps, unbiased)
    return (content - c_mean) / c_std * s_std + s_mean


def upsample_to(x: paddle.Tensor, like: paddle.Tensor) -> paddle.Tensor:
    """Nearest 2x upsampling cropped to the spatial size of ``like``.

    ``like`` has side ``n`` and ``x`` side ``ceil(n / 2)`` (a stride-2 step
    with ``ceil`` rounding), so the 2x result is ``n`` or ``n + 1`` long.
    """
    h, w = spatial_size(like)
    return upsample_nearest2x(x)[:, :, :h, :w]
