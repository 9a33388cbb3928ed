"""PaddleGAN's published models: ppgan's own predictor vs ppgan-ext's runner, side by side.

    python bench/pretrained.py                    # every image-to-image model, 2 threads
    python bench/pretrained.py --models realsr-df2k-jpeg --repeat 5

For each named model (``ppgan_ext.zoo``), one weight file with random values
in ppgan's layout is made in a temporary folder (speed does not depend on the
values). ppgan's side is ``ppgan.apps.XPredictor(weight_path=...)`` called
as its ``run()`` is, on a PNG (its dynamic graph, its image reading and
writing). Ours is what ``paddlegan infer --model`` does per image: read the
PNG, :class:`ppgan_ext.apps.pretrained.PretrainedRunner` on each installed
backend (exported once, not timed), write the PNG. Times are medians of
``--repeat`` runs after one warm-up, in one process, at 2 math threads
(``OMP_NUM_THREADS``, set before Paddle loads). Prints the CPU model, whether
it has AMX / AVX-512 BF16, one row per model and backend, and the speed-up of
our fastest backend over ppgan's predictor (goal: >= 5x).

LapStyle's styles are measured by ``bench/lapstyle.py`` (pyramid vs ppgan).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('OMP_NUM_THREADS', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

# (model, (H, W) of the input photo)
CASES = {'realsr-df2k-jpeg': (96, 128), 'mprnet-deraining': (192, 256),
         'mprnet-denoising': (192, 256), 'mprnet-deblurring': (192, 256),
         'animeganv2-hayao': (256, 256)}


def cpu_name() -> str:
    from ppgan_ext.deploy.cpu import bf16_flags
    from ppgan_ext.deploy.cpu import cpu_name as model_name

    name = model_name()
    flags = bf16_flags()
    return f"{name}; native bf16: {', '.join(flags) if flags else 'none (no AMX, no AVX-512 BF16)'}"


def timed(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_weights(name: str, path: str) -> None:
    import paddle
    from ppgan.models.generators.builder import build_generator

    from ppgan_ext.zoo import registry

    entry = registry.get(name)
    paddle.seed(0)
    net = build_generator(dict(entry.arch))
    state = net.state_dict()
    paddle.save({entry.weights.state_key: state} if entry.weights.state_key else state, path)


def ppgan_call(name: str, weights: str, png: str, out_dir: str):
    from ppgan import apps

    from ppgan_ext.zoo import registry

    entry = registry.get(name)
    pipeline = entry.extra['pipeline']
    if pipeline == 'realsr':
        pred = apps.RealSRPredictor(output=out_dir, weight_path=weights)
        return lambda: pred.run(png)
    if pipeline == 'mprnet':
        pred = apps.MPRPredictor(images_path=png, output_path=out_dir, weight_path=weights,
                                 task=entry.extra['ppgan_task'])
        return pred.run
    pred = apps.AnimeGANPredictor(output_path=out_dir, weight_path=weights)
    return lambda: pred.run(png)


def ours_call(runner, png: str, out_png: str):
    from ppgan_ext.image_io import read_uint8_rgb, write_png

    return lambda: write_png(out_png, runner.run(read_uint8_rgb(png)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(CASES), choices=list(CASES))
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()

    import contextlib
    import io

    import ppgan_ext  # noqa: F401
    from ppgan_ext.apps.pretrained import PretrainedRunner, export_pretrained, model_cache_dir
    from ppgan_ext.zoo import registry
    from ppgan_ext.deploy.backends import installed_backends
    from ppgan_ext.deploy.cpu import native_bf16
    from ppgan_ext.sample_data import sample_image

    backends = [('paddle', 'fp32')] + [(b, 'fp32') for b in ('onnxruntime', 'openvino')
                                       if b in installed_backends()]
    if 'openvino' in installed_backends() and native_bf16():
        backends.append(('openvino', 'bf16'))
    print(f"CPU: {cpu_name()}; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    print(f"| model | input | ppgan predictor (s) | "
          + ' | '.join(f'{b} {p} (s)' for b, p in backends) + ' | best vs ppgan |')
    print('|---|---|---|' + '---|' * len(backends) + '---|')
    with tempfile.TemporaryDirectory() as tmp:
        os.environ['PPGAN_EXT_CACHE'] = os.path.join(tmp, 'cache')
        for name in args.models:
            h, w = CASES[name]
            rgb = cv2.resize(sample_image('coffee'), (w, h),
                             interpolation=cv2.INTER_AREA)
            png = os.path.join(tmp, f'{name}.png')
            cv2.imwrite(png, np.ascontiguousarray(rgb[:, :, ::-1]))
            weights = os.path.join(tmp, f'{name}.pdparams')
            random_weights(name, weights)
            with contextlib.redirect_stdout(io.StringIO()):   # ppgan prints per image
                theirs = timed(ppgan_call(name, weights, png, os.path.join(tmp, 'ppgan')),
                               args.repeat)
            # random weights give outputs far outside [0, 1], where the export's 1e-4 parity
            # limit does not apply: export unchecked (tests/test_ppgan_pretrained.py checks it)
            entry = registry.get(name)
            export_pretrained(entry, weights, model_cache_dir(entry, weights), parity=False)
            ours = []
            for backend, precision in backends:
                runner = PretrainedRunner.create(name, backend, precision, weights_path=weights,
                                                 threads=int(os.environ['OMP_NUM_THREADS']))
                ours.append(timed(ours_call(runner, png, os.path.join(tmp, 'ours.png')),
                                  args.repeat))
            best = min(range(len(ours)), key=ours.__getitem__)
            print(f"| {name} | {w}x{h} | {theirs:.3f} | "
                  + ' | '.join(f'{t:.3f}' for t in ours)
                  + f" | {theirs / ours[best]:.1f}x ({' '.join(backends[best])}) |", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
