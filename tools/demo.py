"""The main job on embedded data: joint salt-and-pepper denoising + x4 super-resolution.

``make demo`` runs this script. It

1. writes a train / held-out test split of scikit-image's bundled photos to
   ``data/saltpepper/{train,test}``;
2. trains ``configs/demo_saltpepper_x4.yaml`` (TransposeSRResNet under ppgan's
   BaseSRModel, SaltPepperDataset) through ppgan's Trainer, in two data-parallel
   one-thread processes (``--procs``);
3. evaluates PSNR/SSIM on the held-out photos against two baselines on the same
   degraded inputs: bicubic upscaling, and a 3x3 median filter + bicubic;
4. writes ``demo_output/comparison.png`` (degraded | bicubic | median+bicubic |
   ours | ground truth) and ``demo_output/results.md``;
5. exports the trained net to ``demo_output/inference_model`` (Paddle
   Inference), runs ``paddlegan infer`` on the held-out degraded inputs with
   their ground truth, and checks its PNGs against the dynamic-graph output.

Usage::

    python tools/demo.py                  # everything
    python tools/demo.py --data-only      # only build data/saltpepper
    python tools/demo.py --weights W.pdparams   # skip training, evaluate W
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.sample_data import TRAIN_PHOTOS, build_sr_split  # noqa: E402

DEFAULT_GENERATED = 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('-c', '--config', default=os.path.join(ROOT, 'configs',
                                                          'demo_saltpepper_x4.yaml'))
    p.add_argument('--data-root', default='data/saltpepper')
    p.add_argument('--out', default='demo_output', help='folder for the figure and table')
    p.add_argument('--data-only', action='store_true', help='only write the photo split')
    p.add_argument('--weights', default=None, help='evaluate these weights, skip training')
    p.add_argument('--generated', type=int, default=DEFAULT_GENERATED,
                   help='generated (dead leaves) training pictures added to the photos')
    p.add_argument('--photos', default=','.join(TRAIN_PHOTOS),
                   help='comma-separated scikit-image training photos')
    p.add_argument('--skip-deploy', action='store_true',
                   help='skip export + paddlegan infer (for quick experiments)')
    p.add_argument('--procs', type=int, default=default_procs(),
                   help='training processes (data-parallel, one thread each; default: '
                        '2 on a machine with 2 or more cores)')
    p.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE',
                   help='config overrides, e.g. total_iters=200')
    return p.parse_args(argv)


def iterations(n: int):
    """``-o`` overrides that shorten the demo recipe to ``n`` iterations: the cosine period,
    the one validation and the snapshot follow."""
    return [f'total_iters={n}', f'lr_scheduler.periods=[{n}]', f'validate.interval={n}',
            f'snapshot_config.interval={n}']


def default_procs() -> int:
    """Training processes: one per core, at most 2 (the demo's batch of 8 splits evenly)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def train(config: str, overrides, procs: int = 1) -> str:
    """Train on the CPU through ppgan's Trainer (seed 0); return the final weights file.

    With ``procs > 1`` the same run is data-parallel under ``paddle.distributed.launch``
    (gloo), one math thread per process and ``dataset.train.batch_size`` split between
    them (the global batch is the config's): on small tensors two one-thread processes
    do far more work than one two-thread process.
    """
    from ppgan_ext.config import load_config
    from ppgan_ext.engine.run import train_config

    if procs <= 1:
        return train_config(config, overrides)
    cfg = load_config(config, overrides)
    batch = cfg.dataset.train.batch_size
    if batch % procs:
        raise ValueError(f'dataset.train.batch_size={batch} does not split into {procs} '
                         f'processes (--procs)')
    runs = os.path.abspath(cfg.output_dir)
    before = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    cmd = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', str(procs),
           '--log_dir', os.path.join(runs, 'launch_log'),
           os.path.join(ROOT, 'tools', 'main.py'), '-c', config, '--no-cuda', '--seed', '0',
           '-o', *overrides, f'dataset.train.batch_size={batch // procs}']
    # the launcher imports Paddle before any of our code: keep its warnings out here
    quiet = dict(PYTHONWARNINGS='ignore:No ccache found', GLOG_minloglevel='2')
    code = subprocess.run(cmd, env=dict(quiet, **os.environ, OMP_NUM_THREADS='1')).returncode
    if code:
        raise RuntimeError(f'training in {procs} processes failed (exit code {code}); the '
                           f"workers' logs are in {os.path.join(runs, 'launch_log')}")
    name = f'iter_{cfg.total_iters}_weight.pdparams'
    new = sorted(d for d in set(os.listdir(runs)) - before
                 if os.path.isfile(os.path.join(runs, d, name)))
    if len(new) != 1:
        raise RuntimeError(f'{runs}: expected one new run folder with {name}, found {new}')
    return os.path.join(runs, new[0], name)


def to_uint8(chw: np.ndarray) -> np.ndarray:
    """float CHW in [0, 1] -> uint8 HWC."""
    return (np.clip(chw.transpose(1, 2, 0), 0, 1) * 255.0).round().astype(np.uint8)


def bicubic(lq: np.ndarray, scale: int) -> np.ndarray:
    h, w = lq.shape[:2]
    return cv2.resize(lq, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def evaluate(cfg, weights: str):
    """PSNR/SSIM of ours and both baselines on ``cfg.dataset.test``.

    Returns:
        (rows, panels): per-image metric rows and uint8 images for the figure.
    """
    import paddle
    from ppgan.datasets.builder import build_dataset
    from ppgan.metrics.psnr_ssim import calculate_psnr, calculate_ssim
    from ppgan.models.generators.builder import build_generator
    from ppgan.utils.filesystem import load

    scale = cfg.model.generator.scale
    net = build_generator(dict(cfg.model.generator))
    net.set_state_dict(load(weights)['generator'])
    net.eval()
    dataset = build_dataset(dict(cfg.dataset.test))

    rows, panels = [], []
    for i in range(len(dataset)):
        sample = dataset[i]
        gt = to_uint8(sample['gt'])
        lq = to_uint8(sample['lq'])
        with paddle.no_grad():
            sr = net(paddle.to_tensor(sample['lq'][None]))[0].numpy()
        outputs = {
            'bicubic': bicubic(lq, scale),
            'median+bicubic': bicubic(cv2.medianBlur(lq, 3), scale),
            'ours': to_uint8(sr),
        }
        row = {'image': os.path.basename(sample['gt_path'])}
        for name, img in outputs.items():
            row[f'{name} psnr'] = calculate_psnr(img, gt, crop_border=scale)
            row[f'{name} ssim'] = calculate_ssim(img, gt, crop_border=scale)
        rows.append(row)
        nearest = cv2.resize(lq, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST)
        panels.append([('degraded', nearest)] + list(outputs.items()) + [('ground truth', gt)])
    return rows, panels


# Zoomed crops where speckle is easiest to see: (image stem, top, left, size) in
# ground-truth pixels (multiples of 4, so they fall on the low-resolution grid).
ZOOMS = (('coffee', 20, 176, 120), ('rocket', 100, 292, 120))


def _label(tile: np.ndarray, label: str) -> np.ndarray:
    tile = np.ascontiguousarray(tile)
    cv2.rectangle(tile, (0, 0), (8 + 9 * len(label), 24), (0, 0, 0), -1)
    cv2.putText(tile, label, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _row(tiles) -> np.ndarray:
    height = tiles[0].shape[0]
    gap = np.full((height, 4, 3), 255, np.uint8)
    parts = []
    for tile in tiles:
        parts += [tile, gap]
    return np.concatenate(parts[:-1], axis=1)


def zoom_rows(panels, names, zooms=ZOOMS, height: int = 240):
    """Rows of ``size`` x ``size`` crops of every column, enlarged (nearest) to ``height``."""
    rows = []
    for stem, top, left, size in zooms:
        if stem not in names:
            continue
        row = panels[names.index(stem)]
        tiles = []
        for label, img in row:
            crop = img[top:top + size, left:left + size]
            crop = cv2.resize(crop, (height, height), interpolation=cv2.INTER_NEAREST)
            tiles.append(_label(crop, f'{label} ({stem}, x{height / size:.0f})'
                                if label == row[0][0] else label))
        rows.append(_row(tiles))
    return rows


def write_figure(panels, path: str, names=(), height: int = 240) -> None:
    """One row per test image, columns labelled, then zoomed crops (:data:`ZOOMS`).

    Panels are RGB (as the dataset gives); ``names`` are the images' file stems.
    """
    rows = []
    for row in panels:
        tiles = []
        for label, img in row:
            h, w = img.shape[:2]
            tile = cv2.resize(img, (int(round(w * height / h)), height),
                              interpolation=cv2.INTER_AREA)
            tiles.append(_label(tile, label))
        rows.append(_row(tiles))
    rows += zoom_rows(panels, list(names), height=height)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    from ppgan_ext.image_io import write_png

    write_png(path, np.concatenate(rows, axis=0))


def table(rows) -> str:
    methods = ('bicubic', 'median+bicubic', 'ours')
    lines = ['| image | ' + ' | '.join(f'{m} PSNR / SSIM' for m in methods) + ' |',
             '|---|' + '---|' * len(methods)]
    for row in rows + [mean_row(rows)]:
        cells = [f"{row[f'{m} psnr']:.2f} / {row[f'{m} ssim']:.4f}" for m in methods]
        lines.append(f"| {row['image']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def mean_row(rows):
    keys = [k for k in rows[0] if k != 'image']
    return {'image': '**mean**', **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


def deploy_check(cfg, weights: str, out: str, config_path: str) -> bool:
    """Export the trained net, run ``paddlegan infer`` on the held-out inputs, compare.

    Writes the degraded held-out inputs and their ground truth as PNGs, exports
    to ``OUT/inference_model`` (with the export's own parity check), runs the
    exported model over the inputs with PSNR/SSIM against the ground truth, and
    checks every output PNG against the dynamic-graph net run on the same PNG
    input (at most one grey level apart: float rounding at .5).
    """
    import paddle
    from ppgan.datasets.builder import build_dataset
    from ppgan.models.generators.builder import build_generator
    from ppgan.utils.filesystem import load

    from ppgan_ext.cli import main as paddlegan
    from ppgan_ext.image_io import read_input, read_uint8_rgb, write_png

    def save(path, chw):  # RGB tensors -> PNG
        write_png(path, to_uint8(chw))

    lq_dir, gt_dir = os.path.join(out, 'heldout_lq'), os.path.join(out, 'heldout_gt')
    os.makedirs(lq_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    dataset = build_dataset(dict(cfg.dataset.test))
    names = []
    for i in range(len(dataset)):
        sample = dataset[i]
        name = os.path.splitext(os.path.basename(sample['gt_path']))[0] + '.png'
        save(os.path.join(lq_dir, name), sample['lq'])
        save(os.path.join(gt_dir, name), sample['gt'])
        names.append(name)

    model_dir = os.path.join(out, 'inference_model')
    sr_dir = os.path.join(out, 'inference_sr')
    if paddlegan(['export', '-c', config_path, '--load', weights,
                  '--output_dir', model_dir]) != 0:
        return False
    if paddlegan(['infer', '--model_dir', model_dir, '--input', lq_dir, '--output', sr_dir,
                  '--gt', gt_dir, '--overwrite']) != 0:
        return False
    net = build_generator(dict(cfg.model.generator))
    net.set_state_dict(load(weights)['generator'])
    net.eval()
    worst = 0
    for name in names:
        lq = read_input(os.path.join(lq_dir, name))
        with paddle.no_grad():
            sr = net(paddle.to_tensor(lq[None]))[0].numpy()
        expected = to_uint8(sr)
        written = read_uint8_rgb(os.path.join(sr_dir, name))
        worst = max(worst, int(np.abs(written.astype(int) - expected).max()))
    print(f"paddlegan infer vs dynamic graph on {len(names)} held-out inputs: max difference "
          f"{worst} grey level(s)")
    return worst <= 1


def _plain(value):
    """numpy scalars -> Python numbers, recursively (for json)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def main(argv=None) -> int:
    args = parse_args(argv)
    times = {}
    start = time.time()
    photos = [n for n in args.photos.split(',') if n]
    split = build_sr_split(args.data_root, photos=photos, generated=args.generated)
    times['data'] = time.time() - start
    print(f"data: {len(os.listdir(split['train']))} training pictures in {split['train']}, "
          f"{len(os.listdir(split['test']))} held-out photos in {split['test']} "
          f"({times['data']:.1f} s)")
    if args.data_only:
        return 0

    from ppgan_ext.config import load_config

    overrides = [f"dataset.train.gt_folder={split['train']}",
                 f"dataset.test.gt_folder={split['test']}"] + list(args.opt)
    start = time.time()
    weights = args.weights or train(args.config, overrides, args.procs)
    times['training'] = time.time() - start
    start = time.time()
    cfg = load_config(args.config, overrides)
    rows, panels = evaluate(cfg, weights)
    times['evaluation'] = time.time() - start

    start = time.time()
    os.makedirs(args.out, exist_ok=True)
    names = [os.path.splitext(r['image'])[0] for r in rows]
    write_figure(panels, os.path.join(args.out, 'comparison.png'), names)
    times['figure'] = time.time() - start
    mean = mean_row(rows)
    text = (f"Joint salt-and-pepper denoising + x{cfg.model.generator.scale} SR on held-out "
            f"scikit-image photos (prob {cfg.dataset.test.prob}, blur "
            f"{cfg.dataset.test.blur}); weights {weights}"
            + ('' if args.weights else f", trained {times['training'] / 60:.1f} min") + "\n\n"
            + table(rows) + '\n')
    with open(os.path.join(args.out, 'results.md'), 'w') as f:
        f.write(text)
    print(text)
    print(f"figure: {os.path.join(args.out, 'comparison.png')}")
    beaten = all(mean['ours psnr'] > mean[f'{b} psnr'] for b in ('bicubic', 'median+bicubic'))
    print('ours beats both baselines on PSNR' if beaten else
          'WARNING: ours does not beat both baselines on PSNR')
    deployed = True
    if not args.skip_deploy:
        start = time.time()
        deployed = deploy_check(cfg, weights, args.out, args.config)
        times['export + paddlegan infer'] = time.time() - start
        if not deployed:
            print('WARNING: the exported model does not reproduce the dynamic-graph output')
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump({'rows': _plain(rows), 'mean': _plain(mean), 'seconds': times, 'weights': weights,
                   'overrides': list(args.opt)}, f, indent=1)
    print('time per part: ' + ', '.join(f'{k} {v:.1f} s' for k, v in times.items())
          + f'; total {sum(times.values()) / 60:.1f} min')
    return 0 if beaten and deployed else 1


if __name__ == '__main__':
    sys.exit(main())
