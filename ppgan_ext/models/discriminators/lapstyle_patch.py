"""Shallow patch discriminator of LapStyle's revision stages.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021, Sec. 3.3: a shallow
discriminator (small receptive field) judges local texture only and does
not over-fit the single style image.
"""
import paddle
import paddle.nn as nn

from ppgan.models.discriminators.builder import DISCRIMINATORS

__all__ = ['LapStylePatchDiscriminator']


@DISCRIMINATORS.register()
class LapStylePatchDiscriminator(nn.Layer):
    """Stride-1 3x3 conv-BN-LeakyReLU stack giving one logit per pixel.

    Parameter names match ppgan's ``LapStyleDiscriminator`` for the default
    ``num_layers=3``.

    Args:
        in_channels (int): Image channels. Default: 3.
        num_feat (int): Feature channels. Default: 32.
        num_layers (int): Conv layers including the head and the output
            conv; the receptive field is ``2 * num_layers + 1`` pixels.
            ``>= 2``. Default: 3.

    Input: (N, in_channels, H, W). Output: logits (N, 1, H, W).
    """

    def __init__(self, in_channels: int = 3, num_feat: int = 32, num_layers: int = 3):
        super().__init__()
        for key, value, low in (('in_channels', in_channels, 1), ('num_feat', num_feat, 1),
                                ('num_layers', num_layers, 2)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be an int >= {low}, got {value!r}")
        self.head = nn.Sequential(
            ('conv', nn.Conv2D(in_channels, num_feat, 3, padding=1)),
            ('norm', nn.BatchNorm2D(num_feat)),
            ('LeakyRelu', nn.LeakyReLU(0.2)))
        self.body = nn.Sequential()
        for i in range(1, num_layers - 1):
            self.body.add_sublayer(f'conv{i}', nn.Conv2D(num_feat, num_feat, 3, padding=1))
            self.body.add_sublayer(f'norm{i}', nn.BatchNorm2D(num_feat))
            self.body.add_sublayer(f'LeakyRelu{i}', nn.LeakyReLU(0.2))
        self.tail = nn.Conv2D(num_feat, 1, 3, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.tail(self.body(self.head(x)))
