"""L1 plus a structural-similarity term: a pixel loss that keeps texture contrast."""
import math

import paddle
import paddle.nn.functional as F
from ppgan.models.criterions.builder import CRITERIONS

_REDUCTIONS = ('mean', 'sum')


def _gaussian(size: int, sigma: float) -> list:
    values = [math.exp(-((i - size // 2) ** 2) / (2 * sigma * sigma)) for i in range(size)]
    total = sum(values)
    return [v / total for v in values]


@CRITERIONS.register()
class L1SSIMLoss:
    """``l1_weight * L1 + ssim_weight * (1 - SSIM)`` between two image batches.

    SSIM (Wang et al., IEEE TIP 2004) as ppgan's ``calculate_ssim`` computes it:
    an 11x11 Gaussian window (sigma 1.5), constants ``(0.01 * R) ** 2`` and
    ``(0.03 * R) ** 2`` for the value range ``R``, every channel on its own,
    averaged over the valid ("no padding") window positions. The window is
    applied as two separable depthwise convolutions, so the term costs little
    next to the net it trains. An L1 loss alone lets a restorer trade
    low-contrast texture for smoothness; the SSIM term charges for the lost
    contrast and structure.

    Args:
        l1_weight (float): Weight of the mean absolute error. Default: 1.0.
        ssim_weight (float): Weight of ``1 - SSIM``; 0 is plain L1. Default: 0.1.
        data_range (float): Value range ``R`` of the images. Default: 1.0.
        reduction (str): ``'mean'`` or ``'sum'`` of the L1 term (SSIM is always
            the mean). Default: ``'mean'``.

    Shapes:
        pred, target: (N, C, H, W), H and W >= 11, values in [0, data_range].
        Returns a scalar tensor.
    """

    def __init__(self, l1_weight: float = 1.0, ssim_weight: float = 0.1,
                 data_range: float = 1.0, reduction: str = 'mean'):
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        for key, value in (('l1_weight', l1_weight), ('ssim_weight', ssim_weight)):
            if value < 0:
                raise ValueError(f'{key} must be >= 0, got {value!r}')
        if data_range <= 0:
            raise ValueError(f'data_range must be > 0, got {data_range!r}')
        self.l1_weight = float(l1_weight)
        self.ssim_weight = float(ssim_weight)
        self.reduction = reduction
        self.c1 = (0.01 * data_range) ** 2
        self.c2 = (0.03 * data_range) ** 2
        self._window = _gaussian(11, 1.5)

    def _blur(self, x: paddle.Tensor) -> paddle.Tensor:
        channels = x.shape[1]
        kernel = paddle.to_tensor(self._window, dtype=x.dtype)
        rows = kernel.reshape([1, 1, 1, 11]).tile([channels, 1, 1, 1])
        cols = kernel.reshape([1, 1, 11, 1]).tile([channels, 1, 1, 1])
        return F.conv2d(F.conv2d(x, rows, groups=channels), cols, groups=channels)

    def ssim(self, pred: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
        """Mean SSIM of ``pred`` against ``target`` (a scalar tensor, 1 for equal images)."""
        if pred.ndim != 4 or min(pred.shape[2:]) < 11:
            raise ValueError(f'L1SSIMLoss needs (N, C, H, W) images with H, W >= 11, got '
                             f'shape {list(pred.shape)}')
        mu_x, mu_y = self._blur(pred), self._blur(target)
        var_x = self._blur(pred * pred) - mu_x * mu_x
        var_y = self._blur(target * target) - mu_y * mu_y
        cov = self._blur(pred * target) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + self.c1) * (2 * cov + self.c2)) / (
            (mu_x * mu_x + mu_y * mu_y + self.c1) * (var_x + var_y + self.c2))
        return ssim_map.mean()

    def __call__(self, pred: paddle.Tensor, target: paddle.Tensor, **kwargs) -> paddle.Tensor:
        l1 = (pred - target).abs()
        loss = self.l1_weight * (l1.mean() if self.reduction == 'mean' else l1.sum())
        if self.ssim_weight:
            loss = loss + self.ssim_weight * (1.0 - self.ssim(pred, target))
        return loss
