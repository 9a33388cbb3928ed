"""Fully convolutional patch discriminator with optional spectral normalisation."""
import paddle.nn as nn
from ppgan.models.discriminators.builder import DISCRIMINATORS


def _conv(cin: int, cout: int, stride: int, spectral_norm: bool) -> nn.Layer:
    conv = nn.Conv2D(cin, cout, kernel_size=4, stride=stride, padding=1)
    return nn.utils.spectral_norm(conv) if spectral_norm else conv


@DISCRIMINATORS.register()
class PatchDiscriminator(nn.Layer):
    """PatchGAN discriminator: one real/fake logit per overlapping image patch.

    Image-to-Image Translation with Conditional Adversarial Networks (Isola et
    al., CVPR 2017) layout: ``num_layers`` stride-2 4x4 convs, one stride-1 4x4
    conv, then a 4x4 conv to one channel, LeakyReLU(0.2) in between, channels
    ``num_feat * min(2**i, 8)``. Instead of BatchNorm each conv is
    spectrally normalised (Miyato et al., "Spectral Normalization for
    Generative Adversarial Networks", ICLR 2018), which keeps the gradient
    reaching the generator bounded and does not mix the samples of a batch.
    With ``num_layers=3`` each logit sees a 70x70 patch.

    Unlike ``VGGDiscriminator128`` it takes any input size of at least
    ``3 * 2**num_layers`` pixels, so training crops can be small.

    Args:
        in_channels (int): Input channels. Default: 3.
        num_feat (int): Channels of the first conv. Default: 64.
        num_layers (int): Stride-2 convs (1-6). Default: 3.
        spectral_norm (bool): Spectrally normalise every conv. Default: True.

    Shapes:
        ``(N, in_channels, H, W) -> (N, 1, H // 2**num_layers - 2,
        W // 2**num_layers - 2)`` raw logits (no sigmoid).
    """

    def __init__(self,
                 in_channels: int = 3,
                 num_feat: int = 64,
                 num_layers: int = 3,
                 spectral_norm: bool = True):
        super().__init__()
        for key, value, low, high in (('in_channels', in_channels, 1, None),
                                      ('num_feat', num_feat, 1, None),
                                      ('num_layers', num_layers, 1, 6)):
            if (isinstance(value, bool) or not isinstance(value, int) or value < low
                    or (high is not None and value > high)):
                allowed = f'{low}-{high}' if high else f'>= {low}'
                raise ValueError(f'PatchDiscriminator: {key} must be an int {allowed}, '
                                 f'got {value!r}')
        if not isinstance(spectral_norm, bool):
            raise ValueError(f'PatchDiscriminator: spectral_norm must be True or False, '
                             f'got {spectral_norm!r}')
        self.min_size = 3 * 2 ** num_layers
        layers = [_conv(in_channels, num_feat, 2, spectral_norm), nn.LeakyReLU(0.2)]
        channels = num_feat
        for i in range(1, num_layers + 1):
            out = num_feat * min(2 ** i, 8)
            stride = 2 if i < num_layers else 1
            layers += [_conv(channels, out, stride, spectral_norm), nn.LeakyReLU(0.2)]
            channels = out
        layers.append(_conv(channels, 1, 1, spectral_norm))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        h, w = x.shape[-2:]
        if (isinstance(h, int) and h >= 0 and h < self.min_size) or \
                (isinstance(w, int) and w >= 0 and w < self.min_size):
            raise ValueError(f'PatchDiscriminator: input is {h}x{w}, needs at least '
                             f'{self.min_size}x{self.min_size} (3 * 2**num_layers)')
        return self.body(x)
