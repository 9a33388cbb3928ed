"""Tiled vs whole-image output of every named SR model: PSNR of the tiled result.

    python bench/tiling_parity.py [--models realesrgan-x4plus,...] [--backend openvino]

Each model runs through :class:`ppgan_ext.apps.pretrained.PretrainedRunner`
(the code of ``paddlegan infer --model``) on the same small photo crops twice:
on the whole image (``tile=0``) and tile by tile at the default tiling
(``--tile 128 --tile-overlap 16``, :mod:`ppgan_ext.tiling`'s feathered blend),
and prints the 8-bit PSNR of the tiled PNG against the whole one, the largest
difference and the share of identical values. Models whose weights are not
on disk (and cannot be fetched offline) are reported and skipped.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = ('realesr-animevideov3-x4', 'realesrgan-x4plus', 'realsr-df2k-jpeg')
# (photo, top, left, height, width): 2 x 2 tiles of 128 with overlap 16 each
CROPS = (('coffee', 100, 150, 200, 232), ('chelsea', 60, 80, 176, 240))


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', default=','.join(MODELS))
    p.add_argument('--backend', default='openvino')
    p.add_argument('--tile', type=int, default=128)
    p.add_argument('--overlap', type=int, default=16)
    args = p.parse_args(argv)
    from ppgan_ext.apps.pretrained import PretrainedRunner
    from ppgan_ext.deploy.cpu import cpu_name
    from ppgan_ext.sample_data import sample_image

    print(f'CPU: {cpu_name()}; backend {args.backend} fp32; tile {args.tile}, overlap '
          f'{args.overlap}')
    for name in args.models.split(','):
        try:
            whole = PretrainedRunner.create(name, args.backend, tile=0, progress=False)
        except (OSError, ValueError, ImportError) as e:
            print(f'{name}: not measured: {str(e).splitlines()[0]}')
            continue
        tiled = PretrainedRunner(whole.entry, whole.net, whole.backend, whole.precision,
                                 args.tile, args.overlap)
        for photo, top, left, h, w in CROPS:
            rgb = np.ascontiguousarray(sample_image(photo)[top:top + h, left:left + w, ::-1])
            a, b = whole.run(rgb), tiled.run(rgb)
            diff = np.abs(a.astype(int) - b)
            print(f'{name:26s} {photo} {w}x{h} -> {a.shape[1]}x{a.shape[0]}: '
                  f'PSNR {psnr8(a, b):6.2f} dB, max diff {diff.max():3d}, identical '
                  f'{np.mean(diff == 0) * 100:5.1f} %, within 1: {np.mean(diff <= 1) * 100:5.1f} %',
                  flush=True)


if __name__ == '__main__':
    main()
