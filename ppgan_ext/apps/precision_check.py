"""What bf16 costs in quality: the same folder job in fp32 and bf16, compared.

Runs :func:`ppgan_ext.deploy.folder_job.infer` twice on the same inputs with
OpenVINO, once per precision, scores both against the ground truth, and
measures the bf16 output against the fp32 output (PSNR of the written 8-bit
PNGs). ``bench/infer.py`` prints it; the test suite asserts the guard:
bf16 vs fp32 >= 40 dB and the ground-truth table within 0.05 dB.

Where no trained model is at hand (``make demo`` writes one),
:func:`train_brief_sr` trains a small SR net on scikit-image's training photos
in seconds and :func:`write_heldout_pairs` writes the held-out photos
(:data:`ppgan_ext.sample_data.TEST_PHOTOS`) as ground truth / input pairs.
"""
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..image_io import read_uint8_rgb
from .folder_job import infer

__all__ = ['PrecisionComparison', 'compare_precisions', 'psnr_uint8', 'train_brief_sr',
           'write_heldout_pairs']


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of the same shape (``inf`` when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


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
                                'ssim_bf16': other['ssim'], 'bf16_vs_fp32': psnr_uint8(a, b)})
    return comparison


def train_brief_sr(work_dir: str, train_photos=('astronaut', 'camera', 'motorcycle'),
                   iters: int = 300, num_feat: int = 16, num_blocks: int = 2, scale: int = 2,
                   patch: int = 24, batch: int = 8, seed: int = 0) -> dict:
    """Train a small ``TransposeSRResNet`` briefly, for quality checks when no trained model exists.

    The demo's generator options (no norm, 4x4 deconvolutions, global
    bilinear residual), smaller. Pixel (L1) loss on random crops of
    scikit-image's bundled photos, downscaled with area averaging; Adam, 2e-3.
    A hundred steps give a net that beats bicubic on the held-out photos:
    real, not random, weights.

    Args:
        work_dir (str): Gets ``sr.yaml`` and ``weights.pdparams``.
        train_photos (tuple[str]): ``skimage.data`` names to train on (keep
            :data:`ppgan_ext.sample_data.TEST_PHOTOS` out). Default:
            astronaut, camera, motorcycle.
        iters (int): Optimizer steps. Default: 300.
        num_feat, num_blocks, scale (int): Generator size. Default: 16, 2, 2.
        patch (int): LQ crop side. Default: 24.
        batch (int): Crops per step. Default: 8.
        seed (int): Seeds the crops and ``paddle.seed``. Default: 0.

    Returns:
        dict: ``{'config': path, 'weights': path, 'loss': final L1}``.
    """
    import cv2
    import paddle
    import yaml
    from ppgan.models.builder import build_model

    from ..config import load_config
    from ..sample_data import TEST_PHOTOS, sample_image

    held_out = sorted(set(train_photos) & set(TEST_PHOTOS))
    if held_out:
        raise ValueError(f"train_photos: {held_out} are held-out test photos")
    os.makedirs(work_dir, exist_ok=True)
    config = os.path.join(work_dir, 'sr.yaml')
    with open(config, 'w') as f:
        yaml.safe_dump({'output_dir': work_dir, 'min_max': '(0., 1.)',
                        'model': {'name': 'BaseSRModel', 'pixel_criterion': {'name': 'L1Loss'},
                                  'generator': {'name': 'TransposeSRResNet', 'norm': 'none',
                                                'num_feat': num_feat, 'num_blocks': num_blocks,
                                                'scale': scale, 'deconv_kernel': 4,
                                                'global_residual': True}}}, f)
    paddle.set_device('cpu')
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    net = build_model(load_config(config).model).nets['generator']
    net.train()
    images = [cv2.cvtColor(sample_image(n), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
              for n in train_photos]
    optimizer = paddle.optimizer.Adam(learning_rate=2e-3, parameters=net.parameters())
    side = patch * scale
    loss_value = math.nan
    for _ in range(iters):
        gts, lqs = [], []
        for _ in range(batch):
            img = images[rng.integers(len(images))]
            top = rng.integers(img.shape[0] - side + 1)
            left = rng.integers(img.shape[1] - side + 1)
            gt = img[top:top + side, left:left + side]
            gts.append(gt.transpose(2, 0, 1))
            lqs.append(cv2.resize(gt, (patch, patch), interpolation=cv2.INTER_AREA)
                       .transpose(2, 0, 1))
        out = net(paddle.to_tensor(np.stack(lqs)))
        loss = paddle.mean(paddle.abs(out - paddle.to_tensor(np.stack(gts))))
        optimizer.clear_grad()
        loss.backward()
        optimizer.step()
        loss_value = float(loss)
    net.eval()
    weights = os.path.join(work_dir, 'weights.pdparams')
    paddle.save({'generator': net.state_dict()}, weights)
    return {'config': config, 'weights': weights, 'loss': loss_value}


def write_heldout_pairs(folder: str, scale: int, names=None, size: int = 0) -> dict:
    """Ground truth and area-downscaled inputs of the held-out photos, as PNGs.

    Args:
        folder (str): Gets ``gt/NAME.png`` and ``lq/NAME.png``.
        scale (int): Downscale factor.
        names (list[str], optional): Default:
            :data:`ppgan_ext.sample_data.TEST_PHOTOS`.
        size (int): Centre-crop the ground truth to at most ``size`` x
            ``size`` first (0: whole photos, cut to a multiple of ``scale``).

    Returns:
        dict: ``{'gt': folder/gt, 'lq': folder/lq}``.
    """
    import cv2

    from ..sample_data import TEST_PHOTOS, sample_image

    dirs = {'gt': os.path.join(folder, 'gt'), 'lq': os.path.join(folder, 'lq')}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    for name in names or TEST_PHOTOS:
        img = sample_image(name)
        h, w = img.shape[:2]
        ch, cw = (min(h, size), min(w, size)) if size else (h, w)
        ch, cw = ch - ch % scale, cw - cw % scale
        top, left = (h - ch) // 2, (w - cw) // 2
        gt = np.ascontiguousarray(img[top:top + ch, left:left + cw])
        cv2.imwrite(os.path.join(dirs['gt'], f'{name}.png'), gt)
        cv2.imwrite(os.path.join(dirs['lq'], f'{name}.png'),
                    cv2.resize(gt, (cw // scale, ch // scale), interpolation=cv2.INTER_AREA))
    return dirs
