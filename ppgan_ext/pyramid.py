"""Laplacian pyramids of image batches in two semantics (size rules: :mod:`.pyramid_sizes`).

Used by the LapStyle model ("Drafting and Revision: Laplacian Pyramid Network
for Fast High-Quality Artistic Style Transfer", Lin et al., CVPR 2021): the
drafting net works on the coarsest level, each revision net adds one band.

Every function takes and returns ``paddle.Tensor`` batches of shape
``(N, C, H, W)`` (any float dtype, any value range), is differentiable, and
works for any ``H, W >= 1``, odd sizes included. Sizes are read with
:func:`spatial_size`, so the functions also run inside
``paddle.jit.to_static`` with unknown height and width.

Two pyramid semantics (``SEMANTICS``), chosen by a LapStyle pyramid's
``semantics``:

``'ppgan'``
    PaddleGAN's LapStyle pyramid (``ppgan/apps/lapstyle_predictor.py``,
    ``ppgan/models/lapstyle_model.py``): every resize is a bilinear
    ``F.interpolate(align_corners=False)`` (:func:`resample`), a side ``n``
    halves to ``n // 2``, a band is ``x - resample(resample(x, n // 2), n)``
    and folding adds ``resample(coarse, n)``. The revision nets see a nearest
    2x of the level below (:func:`upsample_nearest2x`). Folding gives the
    input back only when every side is even at every level; the LapStyle
    pyramid pads its content so that it is.
``'exact'``
    The binomial pyramid below: exact reconstruction at any size.

Every interpolation of the LapStyle pyramid, in both semantics, is one of the
small functions of this module (:func:`resample`, :func:`upsample_nearest2x`,
:func:`pyr_up`); nothing else resizes pyramid levels.

Geometry of ``'exact'``: :func:`pyr_down` blurs with the 5-tap binomial kernel
``[1, 4, 6, 4, 1] / 16`` (replicate borders) and keeps every second pixel, so
coarse pixel ``i`` sits on fine pixel ``2 i`` and a side of ``n`` becomes
``ceil(n / 2)``. :func:`pyr_up` interpolates bilinearly with the same
alignment (fine pixel ``y`` reads coarse position ``y / 2``) straight to the
requested size. A band is ``fine - pyr_up(pyr_down(fine))``, so folding adds
back exactly what was subtracted: reconstruction is exact up to float
rounding, whatever the size.

Resizes and export: every interpolation here passes its output ``size``
(Python ints in dynamic mode, a shape tensor in a static graph), never a
Python-number ``scale_factor``. A number becomes a PIR attribute of doubles
that paddle2onnx 2.1.0 refuses ("the 0th elementwise MUST be
ir::FloatAttribute"); a size converts to an ONNX ``Resize`` with ``sizes``,
so the graphs that use these functions export to ONNX.
:func:`resample` (bilinear, ``align_corners=False``) and
:func:`upsample_nearest2x` are the resizes other modules use.
"""
from typing import List, Sequence, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from .pyramid_sizes import (content_multiple, min_content_side, min_style_side,  # noqa: F401
                            min_train_side, top_level_size)

__all__ = ['SEMANTICS', 'check_semantics', 'pyr_down', 'pyr_up', 'resample',
           'upsample_nearest2x', 'half_size', 'downsample', 'laplacian_pyramid', 'fold_pyramid',
           'revision_inputs', 'upsample_to_band', 'pad_to_multiple', 'spatial_size',
           'content_multiple',
           'min_content_side', 'min_style_side', 'min_train_side', 'top_level_size',
           'scaled_size']

SEMANTICS = ('ppgan', 'exact')

_BINOMIAL = np.array([1., 4., 6., 4., 1.], dtype=np.float32) / 16.

SizeLike = Union[Sequence[int], paddle.Tensor]


def spatial_size(x: paddle.Tensor) -> SizeLike:
    """``[H, W]`` of an (N, C, H, W) tensor.

    Python ints in dynamic mode (no device sync, cheap slicing); a shape
    tensor while building a static graph, where H and W may be unknown.
    """
    if paddle.in_dynamic_mode():
        return list(x.shape[2:4])
    return paddle.shape(x)[2:4]


def scaled_size(x: paddle.Tensor, factor: int, offset: int = 0) -> SizeLike:
    """``[H * factor + offset, W * factor + offset]`` of an (N, C, H, W) tensor.

    Python ints in dynamic mode, a shape tensor in a static graph (see
    :func:`spatial_size`): the form of ``size`` that converts to ONNX.
    """
    size = spatial_size(x)
    if paddle.in_dynamic_mode():
        return [size[0] * factor + offset, size[1] * factor + offset]
    return size * factor + offset


def resample(x: paddle.Tensor, size: SizeLike) -> paddle.Tensor:
    """Bilinear resize to ``size`` with ``align_corners=False`` (ppgan's ``tensor_resample``).

    Args:
        x (Tensor): (N, C, h, w).
        size (list[int] | Tensor): Target ``[H, W]``.

    Returns:
        Tensor: (N, C, H, W). Up and down, odd sizes included; converts to
        ONNX ``Resize`` (half-pixel, linear). An output side of 1 reads input
        pixel 0 in Paddle but the centre in ONNX; the pyramid never makes one.
    """
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def upsample_nearest2x(x: paddle.Tensor) -> paddle.Tensor:
    """Nearest-neighbour 2x upsampling, (N, C, h, w) -> (N, C, 2h, 2w).

    Written with an output size (not ``scale_factor=2``) so that it converts
    to ONNX; the result is the same.
    """
    return F.interpolate(x, size=scaled_size(x, 2), mode='nearest')


def _replicate_pad(x: paddle.Tensor, before: int, after: int) -> paddle.Tensor:
    """Replicate-pad H and W by ``before`` / ``after`` pixels (2x faster than ``F.pad`` on CPU)."""
    x = paddle.concat([x[:, :, :, :1]] * before + [x] + [x[:, :, :, -1:]] * after, axis=3)
    return paddle.concat([x[:, :, :1]] * before + [x] + [x[:, :, -1:]] * after, axis=2)


def _blur_kernels(channels: int, dtype) -> Tuple[paddle.Tensor, paddle.Tensor]:
    taps = np.tile(_BINOMIAL, (channels, 1))
    horizontal = paddle.to_tensor(taps[:, None, None, :]).astype(dtype)
    vertical = paddle.to_tensor(taps[:, None, :, None]).astype(dtype)
    return horizontal, vertical


def pyr_down(x: paddle.Tensor) -> paddle.Tensor:
    """Blur with a 5x5 binomial kernel and subsample by 2.

    Args:
        x (Tensor): Images of shape (N, C, H, W).

    Returns:
        Tensor: Shape (N, C, ceil(H / 2), ceil(W / 2)).
    """
    channels = x.shape[1]
    horizontal, vertical = _blur_kernels(channels, x.dtype)
    padded = _replicate_pad(x, 2, 2)
    rows = F.conv2d(padded, horizontal, stride=[1, 2], groups=channels)
    return F.conv2d(rows, vertical, stride=[2, 1], groups=channels)


def pyr_up(x: paddle.Tensor, size: SizeLike) -> paddle.Tensor:
    """Bilinear 2x upsampling of a :func:`pyr_down` result to an exact size.

    Args:
        x (Tensor): Coarse images of shape (N, C, h, w).
        size (list[int] | Tensor): Target ``[H, W]`` with ``ceil(H / 2) == h``
            and ``ceil(W / 2) == w`` (the size ``x`` was downsampled from).

    Returns:
        Tensor: Shape (N, C, H, W). Fine pixel ``(y, x)`` interpolates coarse
        position ``(y / 2, x / 2)``.
    """
    # One extra (replicated) coarse row/column makes the aligned grid
    # 2h + 1 long, which covers both H = 2h - 1 and H = 2h; then crop.
    padded = _replicate_pad(x, 0, 1)
    up = F.interpolate(padded, size=scaled_size(x, 2, 1), mode='bilinear', align_corners=True)
    return up[:, :, :size[0], :size[1]]


def check_semantics(value: str, key: str = 'semantics') -> str:
    """``value`` if it is one of :data:`SEMANTICS`, else a ValueError naming ``key``."""
    if value not in SEMANTICS:
        raise ValueError(f"{key} must be one of {', '.join(SEMANTICS)}; got {value!r}")
    return value


# ------------------------------------------------------- ppgan's resize steps
def half_size(x: paddle.Tensor) -> SizeLike:
    """``[max(H // 2, 1), max(W // 2, 1)]``: ppgan's halving of a pyramid level."""
    size = spatial_size(x)
    if paddle.in_dynamic_mode():
        return [max(size[0] // 2, 1), max(size[1] // 2, 1)]
    return paddle.maximum(size // 2, paddle.ones_like(size))


# ------------------------------------------------------------- the pyramids
def downsample(x: paddle.Tensor, times: int, semantics: str = 'exact') -> paddle.Tensor:
    """The coarse level ``times`` halvings down, as :func:`laplacian_pyramid` makes it.

    Args:
        x (Tensor): (N, C, H, W).
        times (int): Halvings, ``>= 0``.
        semantics (str): ``'exact'`` (:func:`pyr_down`) or ``'ppgan'``
            (:func:`resample` to :func:`half_size`). Default: 'exact'.
    """
    for _ in range(times):
        x = pyr_down(x) if semantics == 'exact' else resample(x, half_size(x))
    return x


def laplacian_pyramid(x: paddle.Tensor, levels: int,
                      semantics: str = 'exact') -> List[paddle.Tensor]:
    """Split images into ``levels`` band-pass images and one low-pass residual.

    Args:
        x (Tensor): Images of shape (N, C, H, W).
        levels (int): Number of bands K, ``K >= 0``.
        semantics (str): ``'exact'`` or ``'ppgan'`` (see the module).
            Default: 'exact'.

    Returns:
        list[Tensor]: ``K + 1`` tensors, finest first: band ``k`` has the size
        of ``x`` downsampled ``k`` times; the last entry is ``x`` downsampled
        K times. ``fold_pyramid`` of the list (same semantics) gives ``x``
        back (for ``'ppgan'``: when all sides are even at every level).
    """
    if not isinstance(levels, int) or levels < 0:
        raise ValueError(f"levels must be an int >= 0, got {levels!r}")
    check_semantics(semantics)
    pyramid = []
    current = x
    for _ in range(levels):
        if semantics == 'exact':
            coarse = pyr_down(current)
            pyramid.append(current - pyr_up(coarse, spatial_size(current)))
        else:
            # ppgan's laplacian() halves without the floor at 1 (a side of 1 fails there)
            coarse = resample(current, half_size(current))
            pyramid.append(current - resample(coarse, spatial_size(current)))
        current = coarse
    pyramid.append(current)
    return pyramid


def fold_pyramid(pyramid: Sequence[paddle.Tensor], semantics: str = 'exact') -> paddle.Tensor:
    """Collapse a pyramid from :func:`laplacian_pyramid` back into images.

    Args:
        pyramid (list[Tensor]): Bands finest first, low-pass residual last.
        semantics (str): ``'exact'`` or ``'ppgan'``. Default: 'exact'.

    Returns:
        Tensor: Images of the size of ``pyramid[0]``.
    """
    if len(pyramid) == 0:
        raise ValueError("fold_pyramid needs at least one tensor, got an empty list")
    check_semantics(semantics)
    current = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        current = band + upsample_to_band(current, band, semantics)
    return current


def upsample_to_band(coarse: paddle.Tensor, band: paddle.Tensor,
                     semantics: str = 'exact') -> paddle.Tensor:
    """The 2x upsampling that folding adds to ``band``: :func:`pyr_up` or :func:`resample`."""
    if semantics == 'exact':
        return pyr_up(coarse, spatial_size(band))
    return resample(coarse, spatial_size(band))


def revision_inputs(coarse: paddle.Tensor, band: paddle.Tensor,
                    semantics: str = 'exact') -> Tuple[paddle.Tensor, paddle.Tensor]:
    """What a LapStyle revision net gets from the level below, and what its output is added to.

    Args:
        coarse (Tensor): Stylization of the level below, (N, C, h, w).
        band (Tensor): This level's content band, (N, C, H, W), ``H = 2h``
            (``'ppgan'``) or ``ceil(H / 2) = h`` (``'exact'``).
        semantics (str): Default: 'exact'.

    Returns:
        tuple[Tensor, Tensor]: ``(image, base)``, both (N, C, H, W): the revision
        net reads ``concat(band, image)`` and this level is ``base + net output``.
        ``'exact'``: both are :func:`pyr_up` of ``coarse``. ``'ppgan'``:
        ``image`` is the nearest 2x, ``base`` the bilinear :func:`resample`
        (ppgan's fold).
    """
    base = upsample_to_band(coarse, band, semantics)
    if semantics == 'exact':
        return base, base
    return upsample_nearest2x(coarse), base


def pad_to_multiple(x: paddle.Tensor, multiple: int, min_size: int = 1) -> paddle.Tensor:
    """Replicate-pad the bottom and right of ``x`` to a multiple of ``multiple``.

    Args:
        x (Tensor): Images of shape (N, C, H, W).
        multiple (int): Padded sides are multiples of this. ``>= 1``.
        min_size (int): Padded sides are at least this. Default: 1.

    Returns:
        Tensor: Shape (N, C, H', W') with ``H' >= max(H, min_size)`` the
        smallest such multiple (same for W). Crop ``[:, :, :H, :W]`` to undo.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple!r}")
    low = (min_size + multiple - 1) // multiple * multiple
    if paddle.in_dynamic_mode():
        h, w = x.shape[2:4]
        pad_h = max((h + multiple - 1) // multiple * multiple, low) - h
        pad_w = max((w + multiple - 1) // multiple * multiple, low) - w
        return F.pad(x, [0, pad_w, 0, pad_h], mode='replicate') if pad_h or pad_w else x
    sides = paddle.shape(x)[2:4]
    targets = paddle.maximum((sides + (multiple - 1)) // multiple * multiple,
                             paddle.full_like(sides, low))
    padding = targets - sides
    zero = paddle.zeros_like(padding[0:1])
    pad = paddle.concat([zero, padding[1:2], zero, padding[0:1]]).astype('int32')
    return F.pad(x, pad, mode='replicate')
