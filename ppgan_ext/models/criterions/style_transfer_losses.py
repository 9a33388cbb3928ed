"""Feature-space losses of LapStyle, safe on Paddle 3 and on small or flat feature maps.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021; the relaxed EMD and the
self-similarity losses come from Kolkin et al., "Style Transfer by Relaxed
Optimal Transport and Self-Similarity" (STROTSS), CVPR 2019.

Same definitions as ppgan's ``CalcContentLoss``, ``CalcStyleLoss``,
``CalcStyleEmdLoss`` and ``CalcContentReltLoss``, with three changes: the
channel statistics use the population variance unless ``unbiased: true``
(a 1x1 map is then valid; ppgan's unbiased one divides by zero there;
LapStyle's ppgan semantics sets ``unbiased``), cosine distances guard
against all-zero feature vectors (ReLU features often are; ppgan's give
NaN), and the EMD loss works on Paddle 3 (ppgan's concatenates 0-d
tensors, which Paddle 3 rejects). Away from those edge cases the values
are ppgan's.

All take ``pred`` and ``target`` features of shape (N, C, H, W) and return a
scalar tensor.
"""
import paddle
import paddle.nn.functional as F
from ppgan.models.criterions.builder import CRITERIONS

from ..generators.lapstyle_blocks import channel_mean_std

__all__ = ['NormalizedContentLoss', 'MeanStdStyleLoss', 'RelaxedEMDStyleLoss',
           'SelfSimilarityContentLoss', 'cosine_distance']


def cosine_distance(x: paddle.Tensor, y: paddle.Tensor, eps: float = 1e-8) -> paddle.Tensor:
    """Pairwise ``1 - cos`` between the spatial positions of two feature maps.

    Args:
        x (Tensor): (N, C, H, W).
        y (Tensor): (N, C, H', W').
        eps (float): Floor of the vector norms. Default: 1e-8.

    Returns:
        Tensor: (N, H*W, H'*W') with values in [0, 2].
    """
    n, c = x.shape[0], x.shape[1]
    xf = x.reshape([n, c, -1])
    yf = y.reshape([n, c, -1])
    xf = xf / paddle.clip(paddle.linalg.norm(xf, axis=1, keepdim=True), min=eps)
    yf = yf / paddle.clip(paddle.linalg.norm(yf, axis=1, keepdim=True), min=eps)
    return 1.0 - paddle.bmm(xf.transpose([0, 2, 1]), yf)


@CRITERIONS.register()
class NormalizedContentLoss:
    """MSE between features, after normalising each channel to zero mean, unit std.

    Args:
        norm (bool): Normalise (the LapStyle content loss); False: plain MSE
            (identity losses). Default: True.
        unbiased (bool): Normalise with the unbiased variance (ppgan's).
            Default: False.
    """

    def __init__(self, norm: bool = True, unbiased: bool = False):
        self.norm = norm
        self.unbiased = unbiased

    def __call__(self, pred: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
        if self.norm:
            p_mean, p_std = channel_mean_std(pred, unbiased=self.unbiased)
            t_mean, t_std = channel_mean_std(target, unbiased=self.unbiased)
            pred, target = (pred - p_mean) / p_std, (target - t_mean) / t_std
        return F.mse_loss(pred, target)


@CRITERIONS.register()
class MeanStdStyleLoss:
    """MSE between channel means plus MSE between channel stds (AdaIN's style loss).

    Args:
        unbiased (bool): Stds from the unbiased variance (ppgan's). Default: False.
    """

    def __init__(self, unbiased: bool = False):
        self.unbiased = unbiased

    def __call__(self, pred: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
        p_mean, p_std = channel_mean_std(pred, unbiased=self.unbiased)
        t_mean, t_std = channel_mean_std(target, unbiased=self.unbiased)
        return F.mse_loss(p_mean, t_mean) + F.mse_loss(p_std, t_std)


@CRITERIONS.register()
class RelaxedEMDStyleLoss:
    """Relaxed earth mover's distance between two sets of feature vectors.

    ``max(mean_i min_j D_ij, mean_j min_i D_ij)`` with ``D`` the cosine
    distance between positions of ``pred`` and ``target`` (averaged over the
    batch).
    """

    def __call__(self, pred: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
        dist = cosine_distance(pred, target)
        return paddle.maximum(dist.min(axis=2).mean(), dist.min(axis=1).mean())


@CRITERIONS.register()
class SelfSimilarityContentLoss:
    """L1 between the normalised self-similarity matrices of ``pred`` and ``target``.

    Each matrix of cosine distances between positions is divided by its
    column sums; the mean absolute difference is scaled by ``H * W``.
    """

    def __call__(self, pred: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
        mx = cosine_distance(pred, pred)
        my = cosine_distance(target, target)
        mx = mx / paddle.clip(mx.sum(axis=1, keepdim=True), min=1e-8)
        my = my / paddle.clip(my.sum(axis=1, keepdim=True), min=1e-8)
        return paddle.abs(mx - my).mean() * (pred.shape[2] * pred.shape[3])
