"""Test-time self-ensemble: average a net's outputs over the 8 flips and rotations of its input.

An image-to-image net trained with random flips and rotations (as
``SaltPepperDataset`` trains) gives slightly different outputs for the 8
dihedral transforms of one input; undoing each transform on its output and
averaging them (Lim et al., "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPRW 2017, "geometric self-ensemble") removes part of the
net's error at 8x the inference time. Pure numpy around any callable, so it
wraps every inference backend alike.
"""
from typing import Callable

import numpy as np

__all__ = ['TRANSFORMS', 'self_ensemble']

# (transpose H and W, flip W, flip H): the 8 elements of the dihedral group of the square.
TRANSFORMS = tuple((t & 4 != 0, t & 2 != 0, t & 1 != 0) for t in range(8))

Net = Callable[[np.ndarray], np.ndarray]


def _forward(x: np.ndarray, transpose: bool, flip_w: bool, flip_h: bool) -> np.ndarray:
    if transpose:
        x = x.swapaxes(-1, -2)
    if flip_w:
        x = x[..., ::-1]
    if flip_h:
        x = x[..., ::-1, :]
    return np.ascontiguousarray(x)


def _inverse(y: np.ndarray, transpose: bool, flip_w: bool, flip_h: bool) -> np.ndarray:
    if flip_h:
        y = y[..., ::-1, :]
    if flip_w:
        y = y[..., ::-1]
    if transpose:
        y = y.swapaxes(-1, -2)
    return y


def self_ensemble(net: Net) -> Net:
    """``net`` averaged over the 8 flips / rotations of its input.

    Args:
        net (callable): ``(N, C, H, W) float32 -> (N, C', s*H, s*W)`` ndarray,
            any ``H``, ``W`` (a fully convolutional net; the transposed inputs
            are ``(N, C, W, H)``).

    Returns:
        callable: the same signature; calls ``net`` 8 times per call and
        returns the float32 mean of the back-transformed outputs.
    """
    def ensembled(x: np.ndarray) -> np.ndarray:
        if x.ndim != 4:
            raise ValueError(f'self_ensemble: input must be (N, C, H, W), got shape {x.shape}')
        total = None
        for transform in TRANSFORMS:
            out = _inverse(np.asarray(net(_forward(x, *transform))), *transform)
            total = out.astype(np.float32) if total is None else total + out
        return total / np.float32(len(TRANSFORMS))

    return ensembled
