"""Drop-in ``nn.Conv2D`` / ``nn.Conv2DTranspose`` / ``nn.PReLU`` that train faster on CPU.

Same parameters, same state-dict names and the same numbers as Paddle's
layers; only the kernels the dygraph picks in training differ. On Paddle 3's
CPU kernels:

* Paddle adds a convolution's bias as a ``[1, C, 1, 1]`` tensor, which takes
  the elementwise kernel's slow broadcast path (forward and backward about 4x
  slower than the same add with a ``[C, 1, 1]`` bias). In training the bias is
  added as ``[C, 1, 1]``.
* ``prelu``'s backward is slow; in training PReLU is computed as
  ``relu(x) - a * relu(-x)`` (identical values and gradients), with a
  per-channel slope reshaped to ``[C, 1, 1]`` (NCHW).

In eval mode every layer runs Paddle's own forward, so exported graphs are
exactly those of Paddle's layers (Paddle Inference's oneDNN passes fuse the
bias add and PReLU into the convolution there; a ``[C, 1, 1]`` add would
break that fusion and make Paddle Inference 2-3x slower).

One training step of the ``make demo`` net (32 features, 4 blocks, batch 8 of
96x96 crops) is about 1.8x faster on 2 cores (``bench/upsampler.py`` and the
demo use these layers through ``TransposeSRResNet``); one step of
``SRVGGNetCompact`` (64 features, 16 convs, per-channel PReLU; the demo's
fine-tuning) about 1.2x (``bench/finetune_cost.py --layers``).
"""
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ['Conv2D', 'Conv2DTranspose', 'PReLU']


def _add_bias(out, bias):
    return out if bias is None else out + bias.reshape([-1, 1, 1])


class Conv2D(nn.Conv2D):
    """``nn.Conv2D`` (zero padding, NCHW) that adds its bias as ``[C, 1, 1]`` in training."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._padding_mode != 'zeros' or self._data_format != 'NCHW':
            raise ValueError('ppgan_ext.models.layers.Conv2D supports zero padding and NCHW '
                             'only; use paddle.nn.Conv2D')

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        out = F.conv2d(x, self.weight, None, stride=self._stride, padding=self._padding,
                       dilation=self._dilation, groups=self._groups)
        return _add_bias(out, self.bias)


class Conv2DTranspose(nn.Conv2DTranspose):
    """``nn.Conv2DTranspose`` (NCHW) that adds its bias as ``[C, 1, 1]`` in training."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._data_format != 'NCHW':
            raise ValueError('ppgan_ext.models.layers.Conv2DTranspose supports NCHW only; use '
                             'paddle.nn.Conv2DTranspose')

    def forward(self, x, output_size=None):
        if not self.training:
            return super().forward(x, output_size)
        out = F.conv2d_transpose(
            x, self.weight, None, stride=self._stride, padding=self._padding,
            output_padding=self.output_padding if output_size is None else 0,
            dilation=self._dilation, groups=self._groups, output_size=output_size)
        return _add_bias(out, self.bias)


class PReLU(nn.PReLU):
    """``nn.PReLU`` that trains as ``relu(x) - a * relu(-x)``.

    One shared slope, or one per channel with ``data_format='NCHW'`` (the slope
    broadcast as ``[C, 1, 1]``); other layouts use Paddle's ``prelu``.
    """

    def forward(self, x):
        if self.training:
            if self._num_parameters == 1:
                return F.relu(x) - self._weight * F.relu(-x)
            if self._data_format == 'NCHW' and x.ndim == 4:
                return F.relu(x) - self._weight.reshape([-1, 1, 1]) * F.relu(-x)
        return super().forward(x)
