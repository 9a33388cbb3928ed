"""Stylize and super-resolve in one net: ``(content, style) -> high-resolution stylized``.

A LapStyle pyramid stylizes the content at its own (working) size; an SR
generator (e.g. :class:`TransposeSRResNet`) then enlarges the stylized image
``scale`` times. Running the pyramid at 512 and a x4 upscaler costs far less
than the pyramid at 2048 (``bench/fusion.py``); an upscaler trained on the
pyramid's own outputs (:class:`ppgan_ext.datasets.StylizedSRDataset`) keeps
the stylized texture sharp. Tensors in, tensors out, so
``paddle.jit.to_static`` exports the whole thing as one graph.
"""

import paddle
import paddle.nn as nn
from ppgan.models.generators.builder import GENERATORS, build_generator


__all__ = ['StylizeSRNet']


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
