"""What bf16 costs in quality: the same folder job in fp32 and bf16, compared.

Runs :func:`ppgan_ext.apps.infer.infer` twice on the same inputs with
OpenVINO, once per precision, scores both against the ground truth, and
measures the bf16 output against the fp32 output (PSNR of the written 8-bit
PNGs). ``bench/infer.py`` prints it; the test suite asserts the guard:
bf16 vs fp32 >= 40 dB and the ground-truth table within 0.05 dB.

Where no trained model is at hand (``make demo`` writes one),
:func:`ppgan_ext.engine.brief_sr.train_brief_sr` trains a small SR net on
scikit-image's training photos in seconds and
:func:`ppgan_ext.sample_data.write_heldout_pairs` writes the held-out photos
(:data:`ppgan_ext.sample_data.TEST_PHOTOS`) as ground truth / input pairs.
"""
import os
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..deploy.metrics import psnr
from ..image_io import read_uint8_rgb
from .infer import infer

__all__ = ['PrecisionComparison', 'compare_precisions']


@dataclass
class PrecisionComparison:
    """Per-image rows ``{image, psnr_fp32, ssim_fp32, psnr_bf16, ssim_bf16, bf16_vs_fp32}``."""
    rows: List[dict] = field(default_factory=list)

    def mean(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.rows]))

    @property
    def min_bf16_vs_fp32(self) -> float:
        """The worst image's PSNR of bf16 output against fp32 output (dB)."""
        return min(r['bf16_vs_fp32'] for r in self.rows)

    @property
    def max_psnr_change(self) -> float:
        """Largest |PSNR(bf16, GT) - PSNR(fp32, GT)| over the images (dB)."""
        return max(abs(r['psnr_bf16'] - r['psnr_fp32']) for r in self.rows)

    @property
    def max_ssim_change(self) -> float:
        return max(abs(r['ssim_bf16'] - r['ssim_fp32']) for r in self.rows)

    def table(self) -> str:
        """Plain-text table with a mean row."""
        width = max([len('mean')] + [len(r['image']) for r in self.rows])
        lines = [f"{'image':<{width}}  {'PSNR fp32':>9}  {'PSNR bf16':>9}  {'SSIM fp32':>9}  "
                 f"{'SSIM bf16':>9}  {'bf16 vs fp32':>12}"]
        for r in self.rows + [{'image': 'mean', **{k: self.mean(k) for k in (
                'psnr_fp32', 'psnr_bf16', 'ssim_fp32', 'ssim_bf16', 'bf16_vs_fp32')}}]:
            lines.append(f"{r['image']:<{width}}  {r['psnr_fp32']:9.4f}  {r['psnr_bf16']:9.4f}  "
                         f"{r['ssim_fp32']:9.4f}  {r['ssim_bf16']:9.4f}  "
                         f"{r['bf16_vs_fp32']:9.2f} dB")
        return '\n'.join(lines)


def compare_precisions(model_dir: str, source: str, gt: str, work_dir: str,
                       threads: Optional[int] = None, tile: int = 0,
                       crop_border: Optional[int] = None) -> PrecisionComparison:
    """Run ``paddlegan infer``'s job in fp32 and bf16 (OpenVINO) and compare.

    Args:
        model_dir (str): Exported folder with an ONNX graph.
        source (str): Input image or folder.
        gt (str): Ground-truth folder (or file) as for ``paddlegan infer --gt``.
        work_dir (str): Outputs go to ``work_dir/fp32`` and ``work_dir/bf16``
            (recomputed every time).
        threads (int, optional): CPU threads. Default: all cores.
        tile (int): Tile side, 0 = whole images. Default: 0.
        crop_border (int, optional): PSNR/SSIM border. Default: the scale.

    Raises:
        ValueError: bf16 not available here (see
            :func:`ppgan_ext.deploy.backends.check_precision`).
    """
    results = {}
    for precision in ('fp32', 'bf16'):
        out = os.path.join(work_dir, precision)
        results[precision] = (out, infer(model_dir, source, out, gt=gt, tile=tile,
                                         overwrite=True, threads=threads,
                                         crop_border=crop_border, backend='openvino',
                                         precision=precision))
    bf16_rows = {r['image']: r for r in results['bf16'][1].rows}
    comparison = PrecisionComparison()
    for row in results['fp32'][1].rows:
        other = bf16_rows[row['image']]
        a = read_uint8_rgb(os.path.join(results['fp32'][0], row['image']))
        b = read_uint8_rgb(os.path.join(results['bf16'][0], row['image']))
        comparison.rows.append({'image': row['image'], 'psnr_fp32': row['psnr'],
                                'ssim_fp32': row['ssim'], 'psnr_bf16': other['psnr'],
                                'ssim_bf16': other['ssim'], 'bf16_vs_fp32': psnr(a, b)})
    return comparison
