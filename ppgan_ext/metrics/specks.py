"""Speck rate: isolated outlier pixels left in the flat areas of a restored picture.

A salt-and-pepper restorer that has not learnt to cancel the noise leaves small
bright or dark dots; PSNR barely sees them. A pixel is a *speck* when it
differs from the median of its ``size`` x ``size`` neighbourhood *in the
output* by more than ``threshold`` grey levels in some channel, and the
ground truth is flat there (its grey range over the same window is below
``flat``). A median window of 9 pixels removes any dot of up to about 6x6
pixels (at x4, one noisy low-resolution pixel spreads over 4x4 to 6x6), so a
dot shows up as deviating from it, while the flatness test on the ground
truth keeps real edges and texture out of the count. A clean picture, and the
ground truth itself, score 0.

Pure numpy + OpenCV; no Paddle.
"""
import cv2
import numpy as np

__all__ = ['speck_mask', 'speck_rate']


def _flat_mask(gt: np.ndarray, size: int, flat: int) -> np.ndarray:
    grey = cv2.cvtColor(gt, cv2.COLOR_RGB2GRAY) if gt.ndim == 3 else gt
    kernel = np.ones((size, size), np.uint8)
    spread = cv2.dilate(grey, kernel).astype(np.int16) - cv2.erode(grey, kernel)
    return spread < flat


def speck_mask(img: np.ndarray, gt: np.ndarray, size: int = 9, threshold: int = 32,
               flat: int = 12):
    """Speck pixels of ``img`` and the flat area they are counted in.

    Args:
        img (ndarray): Restored picture, uint8 (H, W, 3) or (H, W).
        gt (ndarray): Ground truth of the same shape, uint8.
        size (int): Odd window side of the median and of the flatness test.
            Default: 9.
        threshold (int): Grey levels between a pixel and the median of its
            window above which it is an outlier. Default: 32.
        flat (int): A pixel is in a flat area when the ground truth's grey
            range over the window is below this. Default: 12.

    Returns:
        (ndarray, ndarray): boolean (H, W) masks: specks, flat area.

    Raises:
        ValueError: shapes or dtypes that differ, or an even or small ``size``.
    """
    if img.shape != gt.shape or img.dtype != np.uint8 or gt.dtype != np.uint8:
        raise ValueError(f'img and gt must be uint8 of one shape, got {img.dtype} {img.shape} '
                         f'and {gt.dtype} {gt.shape}')
    if size < 3 or size % 2 == 0:
        raise ValueError(f'size must be an odd number >= 3, got {size}')
    median = cv2.medianBlur(np.ascontiguousarray(img), size)
    deviation = np.abs(img.astype(np.int16) - median)
    if deviation.ndim == 3:
        deviation = deviation.max(axis=2)
    area = _flat_mask(gt, size, flat)
    return (deviation > threshold) & area, area


def speck_rate(img: np.ndarray, gt: np.ndarray, size: int = 9, threshold: int = 32,
               flat: int = 12, border: int = 4) -> float:
    """Specks per 10,000 flat-area pixels (see :func:`speck_mask`), ``border`` px cropped.

    Returns:
        float: >= 0; 0 when the picture has no flat area.
    """
    specks, area = speck_mask(img, gt, size, threshold, flat)
    if border:
        specks, area = specks[border:-border, border:-border], area[border:-border, border:-border]
    total = int(area.sum())
    return 1e4 * float(specks.sum()) / total if total else 0.0
