"""Video speed: 480p -> x4 super-resolution and 1080p stylization per backend, 1 vs 2 workers.

    python bench/video.py                    # all four parts
    python bench/video.py --frames 8 --skip-stylize
    python bench/video.py --skip-sr --skip-scaling --skip-stylize   # part 4 only

Everything runs in one process (part 3 spawns its workers), side by side, on
generated clips
(:mod:`ppgan_ext.video.clips`, with an AAC tone as audio):

1. **480p -> x4** (640x480 -> 2560x1920): the demo's net shape
   (``configs/demo_saltpepper_x4.yaml``: TransposeSRResNet, 32 features,
   4 blocks, global residual) with *random* weights, exported with
   ``export_model`` (parity-checked), run by :class:`SRFrames` on each
   backend. Printed: the model alone (frames/s over the decoded frames) and
   the whole job (decode, model, libx264 encode, audio copy; ``run_video``).
2. **1080p stylization** (1920x1080): ``configs/lapstyle_rev2.yaml``'s
   full-size pyramid (2 revision levels) with random weights, exported, on
   each backend, and in dynamic graph from the weight file (style encoded
   once), all with the temporal blend on; stylize + blend only (no encoding),
   after one warm-up frame.
3. **Chunked multi-process scaling**: the x4 job on the fastest backend with
   1 worker (all threads) vs 2 workers (threads shared out), same chunks.
4. **1080p stylization through ``--upscale``**: the part 2 pyramid at 1080p
   against the same pyramid at ``--work-size 480`` (480x270) followed by the
   part 1 x4 net (``StylizeUpscale``), both exported on OpenVINO, blend on;
   stylize + blend (+ upscale) only, after one warm-up frame.

Random weights cost the same as trained ones; the frames are not meant to look
good. The CPU is named in the output.
"""
import argparse
import os
import platform
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.apps.video import SRFrames, StylizeFrames, StylizeUpscale, run_video  # noqa: E402
from ppgan_ext.video import io  # noqa: E402
from ppgan_ext.video.clips import write_clip  # noqa: E402

BACKENDS = ('paddle', 'onnxruntime', 'openvino')


def machine() -> str:
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name

    cpu = cpu_name()
    flags = ', '.join(sorted(bf16_flags())) or 'no AMX / AVX512-BF16'
    return f'{cpu} ({flags}), {os.cpu_count()} logical cores, Python {platform.python_version()}'


def export_sr(work: str) -> str:
    """The demo-shaped x4 net with tamed random weights, exported (ONNX + Paddle)."""
    import paddle
    import yaml

    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import build_model_for_export, export_model

    generator = dict(name='TransposeSRResNet', num_feat=32, num_blocks=4, scale=4, norm='none',
                     deconv_kernel=4, upsampler='transpose', global_residual=True)
    path = os.path.join(work, 'demo_shape_x4.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump({'model': {'name': 'BaseSRModel', 'generator': generator},
                        'min_max': '(0., 1.)', 'output_dir': work}, f)
    cfg = load_config(path)
    paddle.seed(0)
    model, _ = build_model_for_export(cfg, None)
    for name, param in model.nets['generator'].named_parameters():
        if param.ndim == 4:
            param.set_value(param * 0.3)
    model_dir = os.path.join(work, 'demo_shape_x4')
    export_model(cfg, None, model_dir, parity_sizes=[(32, 32)], model=model)
    return model_dir


def export_lapstyle(work: str):
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.sample_data import write_random_lapstyle_weights

    cfg = load_config(os.path.join(ROOT, 'configs', 'lapstyle_rev2.yaml'))
    weights = write_random_lapstyle_weights(os.path.join(work, 'lapstyle_random.pdparams'),
                                            int(cfg.model.levels), std=0.02)
    model_dir = os.path.join(work, 'lapstyle_rev2')
    export_model(cfg, weights, model_dir)
    return weights, model_dir


def model_fps(spec, frames) -> float:
    proc = spec.build()
    proc(frames[0])   # warm-up (graph compilation, caches)
    start = time.perf_counter()
    for f in frames:
        proc(f)
    return len(frames) / (time.perf_counter() - start)


def job_fps(clip: str, out: str, spec, **kwargs) -> float:
    start = time.perf_counter()
    result = run_video(clip, out, spec, progress=False, **kwargs)
    seconds = time.perf_counter() - start
    assert io.probe(out).frames == io.probe(clip).frames
    return result.frames_processed / seconds


def sr_part(args, work: str, sr_dir: str) -> str:
    """Part 1: frames/s of the x4 net per backend; returns the fastest backend."""
    clip = write_clip(os.path.join(work, 'clip480.mp4'), frames=args.frames, width=640,
                      height=480)
    frames = [f for _, f in io.read_frames(io.probe(clip))]
    print('| backend | model frames/s | whole job frames/s |')
    print('|---|---|---|')
    best, best_fps = 'openvino', 0.0
    for backend in BACKENDS:
        spec = SRFrames(sr_dir, backend=backend)
        fps = model_fps(spec, frames)
        job = job_fps(clip, os.path.join(work, f'x4_{backend}.mp4'), spec)
        print(f'| {backend} | {fps:.3f} | {job:.3f} |', flush=True)
        if job > best_fps:
            best, best_fps = backend, job
    return best


def scaling_part(args, work: str, sr_dir: str, backend: str) -> None:
    """Part 3: the same chunked job with 1 worker and with 2 workers."""
    print(f'\n## chunked multi-process scaling (480p -> x4, {backend}, '
          f'{args.scaling_frames} frames in chunks of 3)')
    clip = write_clip(os.path.join(work, 'clip480_long.mp4'), frames=args.scaling_frames,
                      width=640, height=480)
    cores = os.cpu_count() or 1
    one = job_fps(clip, os.path.join(work, 'w1.mp4'), SRFrames(sr_dir, backend=backend),
                  chunk=3, workers=1, threads=cores)
    two = job_fps(clip, os.path.join(work, 'w2.mp4'), SRFrames(sr_dir, backend=backend),
                  chunk=3, workers=2, threads=max(1, cores // 2))
    print(f'1 worker x {cores} threads: {one:.3f} frames/s; 2 workers x {max(1, cores // 2)} '
          f'thread(s) (process start and model load included): {two:.3f} frames/s; '
          f'ratio {two / one:.2f}x', flush=True)
    frames_a = [f for _, f in io.read_frames(io.probe(os.path.join(work, 'w1.mp4')))]
    frames_b = [f for _, f in io.read_frames(io.probe(os.path.join(work, 'w2.mp4')))]
    diff = max(int(np.abs(a.astype(int) - b.astype(int)).max())
               for a, b in zip(frames_a, frames_b))
    print(f'largest pixel difference between the two outputs: {diff} grey levels')


def _stylize_inputs(args, work: str):
    """(LapStyle weights, its exported folder, style image, 1080p frames) of parts 2 and 4."""
    import cv2

    from ppgan_ext.sample_data import sample_image

    weights, style_dir = export_lapstyle(work)
    style = os.path.join(work, 'style.png')
    cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    clip = write_clip(os.path.join(work, 'clip1080.mp4'), frames=args.style_frames + 1,
                      width=1920, height=1080)
    return weights, style_dir, style, [f for _, f in io.read_frames(io.probe(clip))]


def _frames_per_second(spec, frames):
    """(the first output, frames/s over the rest) of a processor spec; the first warms up."""
    proc = spec.build()
    out = proc(frames[0])
    start = time.perf_counter()
    for f in frames[1:]:
        proc(f)
    return out, (len(frames) - 1) / (time.perf_counter() - start)


def stylize_part(args, work: str) -> None:
    """Part 2: frames/s of the 1080p pyramid + temporal blend per runtime (model only)."""
    print(f'\n## 1080p stylization (LapStyle rev2 pyramid, random weights, temporal blend on; '
          f'{args.style_frames} frame(s) after one warm-up)')
    weights, style_dir, style, frames = _stylize_inputs(args, work)
    print('| runtime | stylize + blend frames/s |')
    print('|---|---|')
    specs = [(f'{b} (exported)', StylizeFrames(style, model_dir=style_dir, backend=b))
             for b in BACKENDS]
    specs.append(('dynamic graph (--weights, style encoded once)',
                  StylizeFrames(style, weights=weights)))
    for name, spec in specs:
        _, fps = _frames_per_second(spec, frames)
        print(f'| {name} | {fps:.3f} |', flush=True)


def upscale_part(args, work: str, sr_dir: str, backend: str = 'openvino') -> None:
    """Part 4: a 1080p stylized clip directly, and from 480x270 through the x4 net."""
    print(f'\n## 1080p stylization: direct vs --work-size 480 + x4 upscale (LapStyle rev2, '
          f'random weights, {backend}, temporal blend on; {args.style_frames} frame(s) after '
          f'one warm-up)')
    _, style_dir, style, frames = _stylize_inputs(args, work)
    print('| run | output | frames/s |')
    print('|---|---|---|')
    upscale = StylizeUpscale(sr_dir, backend=backend, work_size=480)
    for name, spec in (('stylize at 1920x1080', StylizeFrames(style, model_dir=style_dir,
                                                              backend=backend)),
                       ('stylize at 480x270, x4 upscale (tile 128)',
                        StylizeFrames(style, model_dir=style_dir, backend=backend,
                                      upscale=upscale))):
        out, fps = _frames_per_second(spec, frames)
        print(f'| {name} | {out.shape[1]}x{out.shape[0]} | {fps:.3f} |', flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=6, help='frames of the 480p clip')
    parser.add_argument('--style-frames', type=int, default=2,
                        help='timed frames of the 1080p clip')
    parser.add_argument('--scaling-frames', type=int, default=12)
    parser.add_argument('--skip-sr', action='store_true', help='leave out part 1')
    parser.add_argument('--skip-stylize', action='store_true', help='leave out part 2')
    parser.add_argument('--skip-scaling', action='store_true', help='leave out part 3')
    parser.add_argument('--skip-upscale', action='store_true', help='leave out part 4')
    parser.add_argument('--scaling-backend', default=None,
                        help='backend of part 3 (default: the fastest of part 1, else openvino)')
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix='bench_video_')
    print(f'machine: {machine()}; shared with other jobs while measured')
    from ppgan_ext.video.io import pick_encoder
    print(f'encoder: {pick_encoder()} (crf 18, preset fast); av wheel, no system ffmpeg')
    sr_dir = export_sr(work)
    best = args.scaling_backend or 'openvino'
    if not args.skip_sr:
        print('\n## 480p -> x4 (demo-shaped TransposeSRResNet 32x4, random weights)')
        fastest = sr_part(args, work, sr_dir)
        best = args.scaling_backend or fastest
    if not args.skip_scaling:
        scaling_part(args, work, sr_dir, best)
    if not args.skip_stylize:
        stylize_part(args, work)
    if not args.skip_upscale:
        upscale_part(args, work, sr_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
