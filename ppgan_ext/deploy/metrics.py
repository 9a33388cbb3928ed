"""PSNR/SSIM of inference outputs against ground truth: per image, a table, a CSV file.

:func:`psnr` and :func:`ssim` compute the numbers of ppgan's validation
(``ppgan.metrics.psnr_ssim.calculate_psnr`` / ``calculate_ssim``: the same
float32 crop, the same BT.601 luma for ``y_channel``, SSIM with an 11x11
Gaussian window of sigma 1.5 in float64, averaged over channels) without
importing Paddle or ppgan, so ``paddlegan infer --gt`` on the ONNX backends
stays Paddle-free. ``tests/test_metrics.py`` checks them against ppgan's
functions to 1e-6.
"""
import csv
import io
import math
from typing import Sequence, Tuple

import numpy as np

from ..utils import atomic_write

__all__ = ['psnr', 'ssim', 'image_metrics', 'metrics_table', 'write_metrics_csv']

# SSIM's stabilising constants for 8-bit data: (K1 * 255)^2, (K2 * 255)^2
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
# BT.601 luma of RGB in [0, 1], scaled to [16, 235]
_LUMA_RGB = (65.481, 128.553, 24.966)


def _prepare(img1: np.ndarray, img2: np.ndarray, crop_border: int, input_order: str,
             y_channel: bool) -> Tuple[np.ndarray, np.ndarray]:
    """float32 HWC copies, ``crop_border`` pixels cut from each edge, optionally luma only."""
    if img1.shape != img2.shape:
        raise ValueError(f'image shapes differ: {img1.shape} and {img2.shape}')
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f"input_order must be 'HWC' or 'CHW', got {input_order!r}")
    if crop_border < 0:
        raise ValueError(f'crop_border must be >= 0, got {crop_border}')
    out = []
    for img in (img1, img2):
        img = np.asarray(img).astype(np.float32)
        if img.ndim == 2:
            img = img[:, :, None]
        elif input_order == 'CHW':
            img = img.transpose(1, 2, 0)
        if crop_border:
            img = img[crop_border:-crop_border, crop_border:-crop_border]
        if y_channel:   # ppgan's steps, for the same rounding: to [0, 1] and back in float32
            img = (img / np.float32(255.0)) * np.float32(255.0)
            if img.shape[2] == 3:   # then a float64 luma: (rgb . coeffs / 255 + 16) / 255 * 255
                luma = np.dot(img, np.asarray(_LUMA_RGB)) / 255.0 + 16.0
                img = (luma / 255.0)[:, :, None] * 255.0
        out.append(img)
    return out[0], out[1]


def psnr(img1: np.ndarray, img2: np.ndarray, crop_border: int = 0, input_order: str = 'HWC',
         y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio of two images in [0, 255] (ppgan's ``calculate_psnr``).

    Args:
        img1 (ndarray): (H, W, C), (C, H, W) or (H, W) image, values in [0, 255].
        img2 (ndarray): The other image, same shape.
        crop_border (int): Pixels cut from each edge before scoring. Default: 0.
        input_order (str): ``'HWC'`` or ``'CHW'``. Default: 'HWC'.
        y_channel (bool): Score the BT.601 luma (Y of YCbCr) of RGB images.
            Default: False.

    Returns:
        float: PSNR in dB (``inf`` for identical images).
    """
    a, b = _prepare(img1, img2, crop_border, input_order, y_channel)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return math.inf
    return float(20.0 * np.log10(255.0 / np.sqrt(mse)))


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of one (H, W) channel: Gaussian 11x11 (sigma 1.5) statistics, 'valid' region."""
    import cv2

    a, b = a.astype(np.float64), b.astype(np.float64)
    g = cv2.getGaussianKernel(11, 1.5)
    window = g @ g.T

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.filter2D(x, -1, window)[5:-5, 5:-5]

    mu_a, mu_b = blur(a), blur(b)
    mu_aa, mu_bb, mu_ab = mu_a ** 2, mu_b ** 2, mu_a * mu_b
    var_a = blur(a ** 2) - mu_aa
    var_b = blur(b ** 2) - mu_bb
    cov = blur(a * b) - mu_ab
    num = (2 * mu_ab + _SSIM_C1) * (2 * cov + _SSIM_C2)
    den = (mu_aa + mu_bb + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return float((num / den).mean())


def ssim(img1: np.ndarray, img2: np.ndarray, crop_border: int = 0, input_order: str = 'HWC',
         y_channel: bool = False) -> float:
    """Structural similarity of two images in [0, 255] (ppgan's ``calculate_ssim``).

    Each channel is scored on its own and the mean is returned.

    Args:
        img1 (ndarray): (H, W, C), (C, H, W) or (H, W) image, values in [0, 255].
        img2 (ndarray): The other image, same shape.
        crop_border (int): Pixels cut from each edge before scoring. Default: 0.
        input_order (str): ``'HWC'`` or ``'CHW'``. Default: 'HWC'.
        y_channel (bool): Score the BT.601 luma of RGB images. Default: False.

    Returns:
        float: SSIM, at most 1.
    """
    a, b = _prepare(img1, img2, crop_border, input_order, y_channel)
    return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])]))


def image_metrics(output: np.ndarray, gt: np.ndarray, crop_border: int,
                  y_channel: bool = False) -> Tuple[float, float]:
    """(PSNR, SSIM) of uint8 HWC RGB images, as ppgan's validation computes them."""
    if gt.shape[2] == 1 and output.shape[2] == 3:
        gt = np.repeat(gt, 3, axis=2)
    if output.shape != gt.shape:
        raise ValueError(f'{output.shape[1]}x{output.shape[0]}x{output.shape[2]} differs '
                         f'from the ground truth {gt.shape[1]}x{gt.shape[0]}x{gt.shape[2]}')
    return (psnr(output, gt, crop_border, 'HWC', y_channel),
            ssim(output, gt, crop_border, 'HWC', y_channel))


def metrics_table(rows: Sequence[dict], key: str = 'image') -> str:
    """A plain-text table of ``{key, 'psnr', 'ssim'}`` rows with their mean."""
    width = max([len(key), len('mean')] + [len(r[key]) for r in rows])
    lines = [f"{key:<{width}}  {'PSNR':>8}  {'SSIM':>7}"]
    for r in rows:
        lines.append(f"{r[key]:<{width}}  {r['psnr']:8.4f}  {r['ssim']:7.4f}")
    if rows:
        lines.append(f"{'mean':<{width}}  {np.mean([r['psnr'] for r in rows]):8.4f}  "
                     f"{np.mean([r['ssim'] for r in rows]):7.4f}")
    return '\n'.join(lines)


def write_metrics_csv(path: str, rows: Sequence[dict], key: str = 'image') -> None:
    """``image,psnr,ssim`` rows (full precision) and a final ``mean`` row, written atomically.

    ``key`` names the first column and the rows' field it reads (``'sequence'``).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow([key, 'psnr', 'ssim'])
    for r in rows:
        writer.writerow([r[key], repr(r['psnr']), repr(r['ssim'])])
    if rows:
        writer.writerow(['mean', repr(float(np.mean([r['psnr'] for r in rows]))),
                         repr(float(np.mean([r['ssim'] for r in rows])))])

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(buf.getvalue())

    atomic_write(path, write)
