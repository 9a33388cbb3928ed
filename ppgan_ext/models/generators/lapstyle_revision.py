"""LapStyle revision net: predicts the residual detail of one pyramid level.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021, Sec. 3.3.
"""
import paddle
import paddle.nn as nn

from ppgan.models.generators.builder import GENERATORS

from ...pyramid import check_semantics, spatial_size
from .lapstyle_blocks import NearestUp2, ResBlock, zero_

__all__ = ['LapStyleRevisionNet']


@GENERATORS.register()
class LapStyleRevisionNet(nn.Layer):
    """One down- and one up-sampling layer around a residual block.

    Input: the content's Laplacian band at this level and the upsampled
    stylization of the level below, concatenated; output: a residual image
    (the stylization's Laplacian band at this level) that is added to the
    upsampled stylization. Parameter names match ppgan's ``RevisionNet``.

    Args:
        num_feat (int): Feature channels. Default: 64.
        in_channels (int): Channels of the band and of the image (each).
            Default: 3.
        semantics (str): ``'exact'``: the output conv starts at zero, so an
            untrained level adds nothing; ``'ppgan'``: Paddle's default init
            (ppgan's model then applies its N(0, 0.02) init). Default: 'ppgan'.

    Inputs of ``forward(band, image)``: both (N, in_channels, H, W), any
    H, W >= 2. Output: (N, in_channels, H, W).
    """

    def __init__(self, num_feat: int = 64, in_channels: int = 3, semantics: str = 'ppgan'):
        super().__init__()
        self.semantics = check_semantics(semantics)
        for key, value in (('num_feat', num_feat), ('in_channels', in_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        pad = [1, 1, 1, 1]
        self.DownBlock = nn.Sequential(
            nn.Pad2D(pad, mode='reflect'), nn.Conv2D(2 * in_channels, num_feat, 3), nn.ReLU(),
            nn.Pad2D(pad, mode='reflect'), nn.Conv2D(num_feat, num_feat, 3, stride=2), nn.ReLU())
        self.resblock = ResBlock(num_feat)
        self.UpBlock = nn.Sequential(
            NearestUp2(),
            nn.Pad2D(pad, mode='reflect'), nn.Conv2D(num_feat, num_feat, 3), nn.ReLU(),
            nn.Pad2D(pad, mode='reflect'), nn.Conv2D(num_feat, in_channels, 3))
        if semantics == 'exact':
            zero_(self.UpBlock[-1])  # an untrained level adds nothing

    def forward(self, band: paddle.Tensor, image: paddle.Tensor) -> paddle.Tensor:
        h, w = spatial_size(band)
        out = self.DownBlock(paddle.concat([band, image], axis=1))
        out = self.UpBlock(self.resblock(out))
        return out[:, :, :h, :w]
