"""Stylize + upscale vs full-resolution stylization: time and PSNR for a 2048x2048 output.

    python bench/fusion.py                       # trains everything briefly, then measures
    python bench/fusion.py --size 1024 --repeat 3

1. Trains the offline tiny LapStyle pyramid (configs/lapstyle_tiny.yaml on
   scikit-image's photos, style ``gravel``): the drafting net, then revision
   level 1 on top of it. Its VGG encoder is random and narrow, so this is
   the machinery at small scale, not a real artistic stylization.
2. Trains two x4 TransposeSRResNet upscalers of the demo's size (32
   features, 4 blocks) for the same number of iterations: a generic one on
   plain photos (the demo's photos, area-downscaled, no noise) and a
   style-aware one on the pyramid's own outputs
   (configs/stylized_sr_x4.yaml, StylizedSRDataset).
3. On a held-out photo (scikit-image's ``retina``, in no training set)
   resized to SIZE x SIZE: the pyramid run directly at SIZE (the reference)
   against the pyramid at SIZE/4 followed by each upscaler (and bicubic):
   seconds (median of ``--repeat`` runs, side by side in one process) and
   PSNR of the fused output against the reference.
"""
import argparse
import os
import statistics
import sys
import time
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work', default='output_dir/bench_fusion', help='folder for data and runs')
    p.add_argument('--size', type=int, default=2048, help='output side (default: 2048)')
    p.add_argument('--draft-iters', type=int, default=200)
    p.add_argument('--revision-iters', type=int, default=200)
    p.add_argument('--sr-iters', type=int, default=300)
    p.add_argument('--repeat', type=int, default=2, help='timed runs of each side')
    p.add_argument('--reuse', action='store_true',
                   help='reuse the weights an earlier run left in --work; train only what '
                        'is missing')
    return p.parse_args(argv)


def train(config: str, overrides) -> str:
    """Train on the CPU through ppgan's Trainer (seed 0); return the final weights file."""
    from ppgan_ext.engine.run import train_config

    return train_config(config, overrides)


def newest(pattern: str) -> Optional[str]:
    import glob

    found = sorted(glob.glob(pattern), key=os.path.getmtime)
    return found[-1] if found else None


def train_all(args):
    """Train (or with --reuse, find) the pyramid and both upscalers; their weight files."""
    from ppgan_ext.datasets.lapstyle_dataset import write_lapstyle_samples
    from ppgan_ext.sample_data import build_sr_split

    work = os.path.abspath(args.work)

    def done(step: str, iters: int) -> Optional[str]:
        return newest(f'{work}/{step}/*/iter_{iters}_weight.pdparams') if args.reuse else None

    content, _ = write_lapstyle_samples(os.path.join(work, 'lapstyle_data'))
    style = os.path.join(work, 'lapstyle_data', 'style', 'gravel.png')
    photos = build_sr_split(os.path.join(work, 'photos'))
    tiny = os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml')
    data = [f'dataset.{s}.content_root={content}' for s in ('train', 'test')] + \
           [f'dataset.{s}.style_root={style}' for s in ('train', 'test')]
    t0 = time.time()
    draft = done('draft', args.draft_iters) or train(tiny, data + [
        f'output_dir={work}/draft', f'total_iters={args.draft_iters}',
        'validate.interval=100000', f'snapshot_config.interval={args.draft_iters}'])
    rev1 = done('rev1', args.revision_iters) or train(tiny, data + [
        f'output_dir={work}/rev1', f'total_iters={args.revision_iters}',
        'model.stage=revision', 'model.levels=1', f'model.draft_weights={draft}',
        'validate.interval=100000', f'snapshot_config.interval={args.revision_iters}'])
    t_lap = time.time() - t0
    sr_common = [f'total_iters={args.sr_iters}', f'lr_scheduler.periods=[{args.sr_iters}]',
                 'validate.interval=100000', f'snapshot_config.interval={args.sr_iters}']
    t0 = time.time()
    generic = done('generic', args.sr_iters) or train(
        os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml'), sr_common + [
            f'output_dir={work}/generic', f'dataset.train.gt_folder={photos["train"]}',
            f'dataset.test.gt_folder={photos["test"]}', 'dataset.train.prob=0.0',
            'dataset.train.blur=0', 'dataset.test.prob=0.0', 'dataset.test.blur=0',
            'dataset.train.num_workers=0'])
    t_generic = time.time() - t0
    t0 = time.time()
    aware = done('aware', args.sr_iters) or train(
        os.path.join(ROOT, 'configs', 'stylized_sr_x4.yaml'), sr_common + [
            f'output_dir={work}/aware'] + [
            f'dataset.{s}.{k}={v}' for s in ('train', 'test') for k, v in
            (('content_root', content), ('style_root', style), ('lapstyle_weights', rev1))])
    t_aware = time.time() - t0
    print(f'training: LapStyle draft + revision {t_lap:.0f} s, generic upscaler '
          f'{t_generic:.0f} s, style-aware upscaler {t_aware:.0f} s (0 s: reused)')
    return rev1, style, generic, aware


def export_all(args, lapstyle: str, aware: str) -> dict:
    """Export the pyramid and the style-aware upscaler; their Paddle Inference runners."""
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.backends import create_predictor
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.upscale import load_upscaler

    work = os.path.abspath(args.work)
    pyramid_dir, sr_dir = os.path.join(work, 'export_pyramid'), os.path.join(work, 'export_sr')
    tiny = load_config(os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml'),
                       ['model.stage=revision', 'model.levels=1'])
    export_model(tiny, lapstyle, pyramid_dir)
    export_model(load_config(os.path.join(ROOT, 'configs', 'stylized_sr_x4.yaml')), aware,
                 sr_dir)
    predictor = create_predictor(pyramid_dir, backend='paddle')
    return {'pyramid': predictor, 'upscaler': load_upscaler(sr_dir)}


def psnr(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    """PSNR in dB of two (3, H, W) images in [0, 1], compared as 8-bit with ``border`` cropped."""
    from ppgan.metrics.psnr_ssim import calculate_psnr

    def u8(x):
        return np.rint(np.clip(x, 0, 1) * 255).transpose(1, 2, 0)
    return float(calculate_psnr(u8(a), u8(b), border, 'HWC', False))


def main(argv=None) -> int:
    import paddle

    from ppgan_ext.datasets.lapstyle_dataset import read_rgb, resize_short_side
    from ppgan_ext.models.generators.lapstyle_pyramid import pyramid_from_weights
    from ppgan_ext.sample_data import sample_image
    from ppgan_ext.upscale import load_upscaler

    args = parse_args(argv)
    if args.size % 4 or args.size < 256:
        raise SystemExit('--size must be a multiple of 4, >= 256')
    paddle.set_device('cpu')
    lapstyle, style_path, generic_w, aware_w = train_all(args)
    pyramid = pyramid_from_weights(lapstyle)
    style_img = resize_short_side(read_rgb(style_path), 128 * 2 ** pyramid.levels)
    style = paddle.to_tensor(np.ascontiguousarray(style_img.transpose(2, 0, 1)[None],
                                                  dtype=np.float32) / 255.0)
    photo = cv2.resize(sample_image('retina'), (args.size, args.size),
                       interpolation=cv2.INTER_CUBIC)
    content = np.ascontiguousarray(photo.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    low = args.size // 4
    small = cv2.resize(photo, (low, low), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    upscalers = {
        'generic': load_upscaler(generic_w, os.path.join(ROOT, 'configs',
                                                         'demo_saltpepper_x4.yaml')),
        'style-aware': load_upscaler(aware_w, os.path.join(ROOT, 'configs',
                                                           'stylized_sr_x4.yaml')),
    }

    def stylize(x):
        with paddle.no_grad():
            return pyramid(paddle.to_tensor(x), style).numpy()[0]

    times = {'direct': [], 'pyramid_small': []}
    times.update({name: [] for name in upscalers})
    outputs = {}
    for _ in range(args.repeat):      # side by side: every method once per round
        t0 = time.perf_counter()
        outputs['direct'] = stylize(content)
        times['direct'].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        stylized_small = stylize(small)
        times['pyramid_small'].append(time.perf_counter() - t0)
        for name, up in upscalers.items():
            t0 = time.perf_counter()
            outputs[name] = np.clip(up(stylized_small), 0, 1)
            times[name].append(time.perf_counter() - t0)
    # the same nets exported and run with Paddle Inference, as `stylize --model-dir
    # --upscale DIR` runs them (time only; exported outputs match the dynamic graph to 1e-4)
    exported = export_all(args, lapstyle, aware_w)
    style_np = style.numpy()
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        exported['pyramid'](content, style_np)
        times.setdefault('direct_inf', []).append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        small_out = exported['pyramid'](small, style_np)
        times.setdefault('small_inf', []).append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exported['upscaler'](np.clip(small_out[0], 0, 1))
        times.setdefault('up_inf', []).append(time.perf_counter() - t0)
    hwc = stylized_small.transpose(1, 2, 0)
    outputs['bicubic'] = np.clip(cv2.resize(hwc, (args.size, args.size),
                                            interpolation=cv2.INTER_CUBIC), 0, 1).transpose(2, 0, 1)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = outputs['direct']
    print(f'\n{args.size}x{args.size} output, held-out photo retina, style gravel, LapStyle '
          f'{pyramid.levels} revision level(s) (tiny config, trained briefly), '
          f'median of {args.repeat} runs, CPU threads {os.environ.get("OMP_NUM_THREADS", "all")}')
    print('| method | seconds | speed-up vs direct | PSNR vs direct (dB) |')
    print('|---|---|---|---|')
    print(f"| pyramid at {args.size} (direct, reference) | {med['direct']:.2f} | 1.00x | - |")
    t_small = med['pyramid_small']
    print(f"| pyramid at {low} + bicubic x4 | {t_small:.2f} | "
          f"{med['direct'] / t_small:.2f}x | {psnr(outputs['bicubic'], ref):.2f} |")
    for name in upscalers:
        total = t_small + med[name]
        print(f"| pyramid at {low} + {name} x4 upscaler | {total:.2f} | "
              f"{med['direct'] / total:.2f}x | {psnr(outputs[name], ref):.2f} |")
    d_inf, s_inf, u_inf = med['direct_inf'], med['small_inf'], med['up_inf']
    print(f"| exported (Paddle Inference): pyramid at {args.size} | {d_inf:.2f} | "
          f"{med['direct'] / d_inf:.2f}x | - |")
    print(f"| exported: pyramid at {low} + style-aware x4 upscaler | {s_inf + u_inf:.2f} | "
          f"{med['direct'] / (s_inf + u_inf):.2f}x ({d_inf / (s_inf + u_inf):.2f}x vs exported "
          f"direct) | as above |")
    os.makedirs(args.work, exist_ok=True)
    strip = [cv2.resize(np.rint(np.clip(outputs[k], 0, 1) * 255).astype(np.uint8)
                        .transpose(1, 2, 0)[:, :, ::-1], (384, 384), interpolation=cv2.INTER_AREA)
             for k in ('direct', 'bicubic', 'generic', 'style-aware')]
    figure = os.path.join(args.work, 'fusion.png')
    cv2.imwrite(figure, np.concatenate(strip, axis=1))
    print(f'\nfigure (direct | bicubic | generic | style-aware): {figure}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
