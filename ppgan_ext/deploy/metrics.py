"""PSNR/SSIM of inference outputs against ground truth: per image, a table, a CSV file."""
import csv
import io
from typing import Sequence, Tuple

import numpy as np

from ..utils import atomic_write

__all__ = ['image_metrics', 'metrics_table', 'write_metrics_csv']


def image_metrics(output: np.ndarray, gt: np.ndarray, crop_border: int,
                  y_channel: bool = False) -> Tuple[float, float]:
    """(PSNR, SSIM) of uint8 HWC RGB images with ppgan's ``calculate_psnr/ssim``."""
    from ppgan.metrics.psnr_ssim import calculate_psnr, calculate_ssim

    if gt.shape[2] == 1 and output.shape[2] == 3:
        gt = np.repeat(gt, 3, axis=2)
    if output.shape != gt.shape:
        raise ValueError(f'{output.shape[1]}x{output.shape[0]}x{output.shape[2]} differs '
                         f'from the ground truth {gt.shape[1]}x{gt.shape[0]}x{gt.shape[2]}')
    psnr = calculate_psnr(output, gt, crop_border, 'HWC', y_channel)
    ssim = calculate_ssim(output, gt, crop_border, 'HWC', y_channel)
    return float(psnr), float(ssim)


def metrics_table(rows: Sequence[dict]) -> str:
    """A plain-text table of ``{'image', 'psnr', 'ssim'}`` rows with their mean."""
    width = max([len('image'), len('mean')] + [len(r['image']) for r in rows])
    lines = [f"{'image':<{width}}  {'PSNR':>8}  {'SSIM':>7}"]
    for r in rows:
        lines.append(f"{r['image']:<{width}}  {r['psnr']:8.4f}  {r['ssim']:7.4f}")
    if rows:
        lines.append(f"{'mean':<{width}}  {np.mean([r['psnr'] for r in rows]):8.4f}  "
                     f"{np.mean([r['ssim'] for r in rows]):7.4f}")
    return '\n'.join(lines)


def write_metrics_csv(path: str, rows: Sequence[dict]) -> None:
    """``image,psnr,ssim`` rows (full precision) and a final ``mean`` row, written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['image', 'psnr', 'ssim'])
    for r in rows:
        writer.writerow([r['image'], repr(r['psnr']), repr(r['ssim'])])
    if rows:
        writer.writerow(['mean', repr(float(np.mean([r['psnr'] for r in rows]))),
                         repr(float(np.mean([r['ssim'] for r in rows])))])

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(buf.getvalue())

    atomic_write(path, write)
