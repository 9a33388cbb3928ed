"""Video SR models by name: speed against ppgan's own predictor, and the cost of windows.

    python bench/video_vsr.py                       # both parts, BasicVSR and PP-MSVSR
    python bench/video_vsr.py --frames 20 --side 64 --models pp-msvsr-reds

1. **Frames per second**, ours vs ppgan's predictor, side by side in
   interleaved rounds on the same decoded frames of a generated clip: ours is
   :class:`ppgan_ext.apps.vsr.VSRModel` (``run_clip``, ppgan's grouping of 10
   frames, and the default windows of 16 frames with 2 of overlap); ppgan's is
   its predictor's own ``run()`` (``BasicVSRPredictor`` / ``PPMSVSRPredictor``,
   net at its published size) with its two shell-outs to a system ``ffmpeg``
   replaced: ``video2frames`` by writing the frames as the PNGs it would write
   (the time of that is counted: ffmpeg would spend it), ``frames2video`` by
   nothing. Both read the same weight file.
   Rounds alternate the order of the rows (the load of a shared machine drifts).
2. **Windows against the whole clip**: PSNR (dB, over all frames) between the
   whole clip in one net call (memory growing with the clip) and runs in
   windows of ``W`` frames with ``O`` frames of overlap (``--plans``),
   including ppgan's own grouping (10 frames, no overlap).

Weights are random (nothing is downloaded); the convolutions that make the
3-channel residual are scaled down so the output stays image-like. With
trained weights the recurrent features carry more information from far
frames, so part 2 gives the *shape* (how much overlap buys back), not the
trained models' exact figures. The CPU and load average are printed.
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('PPGAN_EXT_OFFLINE', '1')   # nothing may be fetched

import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.apps.vsr import VSRModel  # noqa: E402
from ppgan_ext.zoo import registry  # noqa: E402

PREDICTOR = {'basicvsr-reds': 'BasicVSRPredictor', 'iconvsr-reds': 'IconVSRPredictor',
             'basicvsr++-reds': 'BasiVSRPlusPlusPredictor', 'pp-msvsr-reds': 'PPMSVSRPredictor',
             'pp-msvsr-l-reds': 'PPMSVSRLargePredictor'}


def machine() -> str:
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name

    flags = ', '.join(sorted(bf16_flags())) or 'no AMX / AVX512-BF16'
    return (f'{cpu_name()} ({flags}), {os.cpu_count()} logical cores, load average '
            f'{os.getloadavg()[0]:.1f}')


def random_weights(name: str, path: str):
    """A random generator of ``name`` at its published size, saved in ppgan's layout."""
    import paddle
    from ppgan.models.generators.builder import build_generator

    from ppgan_ext.apps.pretrained import without_constructor_downloads

    paddle.seed(0)
    with without_constructor_downloads():
        net = build_generator(dict(registry.get(name).arch))
    for layer in net.sublayers():
        if isinstance(layer, paddle.nn.Conv2D) and layer.weight.shape[0] == 3:
            layer.weight.set_value(layer.weight * 0.05)
    net.eval()
    paddle.save({'generator': net.state_dict()}, path)
    return net


def clip_frames(count: int, side: int):
    from ppgan_ext.video.clips import scene_frame
    from ppgan_ext.sample_data import sample_image

    photo = np.ascontiguousarray(sample_image('coffee')[:, :, ::-1])
    return [scene_frame(photo, t, side, side) for t in np.linspace(0, 1, count)]


def ppgan_runner(name: str, weights: str, frames, work: str):
    """ppgan's predictor's run(), ffmpeg replaced by writing/nothing; returns a timed callable."""
    import cv2
    from ppgan.apps import recurrent_vsr_predictor as module

    from ppgan_ext.apps.pretrained import without_constructor_downloads

    with without_constructor_downloads():
        predictor = getattr(module, PREDICTOR[name])(output=os.path.join(work, 'ppgan'),
                                                     weight_path=weights)
    os.makedirs(work, exist_ok=True)
    clip = os.path.join(work, 'clip.mp4')
    from ppgan_ext.video.clips import write_clip

    write_clip(clip, frames=2, width=64, height=64, audio=False)   # only its fps is read
    png = os.path.join(work, 'decoded')

    def video2frames(vid, out, **kwargs):
        os.makedirs(png, exist_ok=True)
        for i, rgb in enumerate(frames):
            cv2.imwrite(os.path.join(png, f'{i:08d}.png'), rgb[:, :, ::-1])
        return png

    module.video2frames = video2frames
    module.frames2video = lambda *a, **k: None
    return lambda: predictor.run(clip)


def speed_part(args, work: str) -> None:
    print(f'\n## frames/s, {args.frames} frames of {args.side}x{args.side} -> x4, '
          f'{args.rounds} interleaved round(s), published sizes, random weights')
    print("| model | ours, ppgan's grouping (10, no overlap) | ours, windows 16/2 | "
          "ppgan's predictor run() | ours(10/0) / ppgan |")
    print('|---|---|---|---|---|')
    frames = clip_frames(args.frames, args.side)
    for name in args.models:
        weights = os.path.join(work, f'{name}.pdparams')
        random_weights(name, weights)
        model = VSRModel.create(name, weights_path=weights)
        theirs = ppgan_runner(name, weights, frames, os.path.join(work, name))
        rows = {'ours10': lambda: model.run_clip(frames, 10, 0),
                'ours20': lambda: model.run_clip(frames, 16, 2), 'ppgan': theirs}
        rows['ours10']()   # warm-up (oneDNN kernels)
        times = {k: 0.0 for k in rows}
        for r in range(args.rounds):   # order reversed every other round (load drifts)
            for key, run in (list(rows.items()) if r % 2 == 0 else list(rows.items())[::-1]):
                start = time.perf_counter()
                run()
                times[key] += time.perf_counter() - start
        fps = {k: args.frames * args.rounds / t for k, t in times.items()}
        print(f"| {name} | {fps['ours10']:.2f} | {fps['ours20']:.2f} | {fps['ppgan']:.2f} | "
              f"{fps['ours10'] / fps['ppgan']:.2f}x |", flush=True)


def psnr(a, b) -> float:
    mse = np.mean((np.stack(a).astype(np.float64) - np.stack(b).astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def window_part(args, work: str) -> None:
    print(f'\n## windows vs the whole clip in one call: PSNR (dB), {args.window_frames} '
          f'frames of {args.side}x{args.side}, random weights')
    plans = [tuple(int(v) for v in p.split('/')) for p in args.plans.split(',')]
    print('| model | ' + ' | '.join(f'window {w} / overlap {o}' for w, o in plans) + ' |')
    print('|---|' + '---|' * len(plans))
    frames = clip_frames(args.window_frames, args.side)
    for name in args.window_models or args.models:
        weights = os.path.join(work, f'{name}.pdparams')
        if not os.path.isfile(weights):
            random_weights(name, weights)
        model = VSRModel.create(name, weights_path=weights)
        whole = model.run_clip(frames, 0, 0)
        cells = [psnr(model.run_clip(frames, w, o), whole) for w, o in plans]
        print(f'| {name} | ' + ' | '.join(f'{c:.1f}' for c in cells) + ' |', flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=['basicvsr-reds', 'pp-msvsr-reds'],
                        choices=sorted(PREDICTOR))
    parser.add_argument('--frames', type=int, default=20, help='frames of part 1')
    parser.add_argument('--window-frames', type=int, default=32, help='frames of part 2')
    parser.add_argument('--plans', default='10/0,10/2,16/0,16/2,16/4',
                        help='part 2: WINDOW/OVERLAP pairs (10/0 is ppgan\'s grouping)')
    parser.add_argument('--window-models', nargs='+', default=None, choices=sorted(PREDICTOR),
                        help='part 2 models (default: --models)')
    parser.add_argument('--side', type=int, default=64, help='frame side (>= 64)')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--skip-speed', action='store_true')
    parser.add_argument('--skip-windows', action='store_true')
    args = parser.parse_args(argv)
    print(f'machine: {machine()}; shared with other jobs while measured')
    work = tempfile.mkdtemp(prefix='bench_vsr_')
    if not args.skip_speed:
        speed_part(args, work)
    if not args.skip_windows:
        window_part(args, work)
    print(f'load average at the end: {os.getloadavg()[0]:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
