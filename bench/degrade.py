"""Benchmark: per-pixel Python loop vs ppgan_ext.degradations, and SaltPepperDataset throughput.

Run from the repository root::

    python bench/degrade.py            # or: make bench

Everything runs on one core (``cv2.setNumThreads(1)``, OMP_NUM_THREADS=1)
except the DataLoader part, which uses two worker processes. The per-pixel
loop is slow, so it is timed on a crop of each image and reported per
megapixel (MP = 10**6 pixels, whatever the number of channels).

Targets: the vectorized noise + 20x20 blur at least 30x faster than the loop
and at least 100 MP/s on one core.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')

import argparse  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppgan_ext.degradations import mean_blur, salt_pepper_noise  # noqa: E402

SPEEDUP_TARGET = 30.0
MPS_TARGET = 100.0
BLUR = 20
LOOP_PROB = 0.1   # the loop's prob: 0 and 255 each with this probability


def loop_sp_noise(image: np.ndarray, prob: float) -> np.ndarray:
    """Reference: one ``random.random()`` per pixel in a Python loop.

    A pixel becomes 0 when the draw is below ``prob``, 255 when it is above
    ``1 - prob``, and keeps its value otherwise, so about ``2 * prob`` of the
    pixels are noisy, half of them white. Equivalent in distribution to
    ``salt_pepper_noise(image, 2 * prob, rng, salt_ratio=0.5)``.
    """
    out = np.empty_like(image)
    upper = 1.0 - prob
    height, width = image.shape[:2]
    for y in range(height):
        for x in range(width):
            r = random.random()
            if r < prob:
                out[y, x] = 0
            elif r > upper:
                out[y, x] = 255
            else:
                out[y, x] = image[y, x]
    return out


def best_time(func, min_total: float = 0.3, max_runs: int = 50) -> float:
    """Fastest of several runs (at least 3, about ``min_total`` seconds in all)."""
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_total and len(times) < max_runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def photos():
    from skimage import data

    astronaut = data.astronaut()
    return [('astronaut', astronaut), ('coffee', data.coffee()), ('chelsea', data.chelsea()),
            ('astronaut 4x4 tiled', np.tile(astronaut, (4, 4, 1)))]


def bench_functions(crop: int):
    print(f'# Salt-and-pepper noise (20% noisy pixels) and {BLUR}x{BLUR} mean blur, one core')
    print(f'# loop timed on a {crop}x{crop} crop; ours on the whole image; MP/s = 1e6 pixels/s')
    header = (f"{'image':<22}{'size':>11} | {'loop noise':>10} {'ours noise':>10} {'x':>6} | "
              f"{'loop n+blur':>11} {'ours n+blur':>11} {'x':>6} | {'ours per-ch':>11}")
    print(header)
    print('-' * len(header))
    rng = np.random.default_rng(0)
    rows = []
    for name, img in photos():
        h, w = img.shape[:2]
        part = np.ascontiguousarray(img[:crop, :crop])
        mp_part = part.shape[0] * part.shape[1] / 1e6
        mp = h * w / 1e6
        random.seed(0)
        t_loop = best_time(lambda: loop_sp_noise(part, LOOP_PROB), min_total=0, max_runs=3)
        t_loop_blur = t_loop + best_time(lambda: cv2.blur(part, (BLUR, BLUR)))
        t_noise = best_time(lambda: salt_pepper_noise(img, 2 * LOOP_PROB, rng))
        t_blur = best_time(lambda: mean_blur(salt_pepper_noise(img, 2 * LOOP_PROB, rng), BLUR))
        t_pc = best_time(lambda: salt_pepper_noise(img, 2 * LOOP_PROB, rng, per_channel=True))
        r = dict(name=name, loop=mp_part / t_loop, ours=mp / t_noise,
                 loop_blur=mp_part / t_loop_blur, ours_blur=mp / t_blur, per_ch=mp / t_pc)
        rows.append(r)
        print(f"{name:<22}{f'{w}x{h}':>11} | {r['loop']:>10.2f} {r['ours']:>10.1f} "
              f"{r['ours'] / r['loop']:>5.0f}x | {r['loop_blur']:>11.2f} {r['ours_blur']:>11.1f} "
              f"{r['ours_blur'] / r['loop_blur']:>5.0f}x | {r['per_ch']:>11.1f}")

    # same statistics from both (fraction of noisy pixels, fraction of those that are white)
    img = photos()[0][1].astype(np.int16).clip(1, 254).astype(np.uint8)[:crop, :crop]
    random.seed(1)
    a = loop_sp_noise(img, LOOP_PROB)
    b = salt_pepper_noise(img, 2 * LOOP_PROB, np.random.default_rng(1))
    stats = []
    for out in (a, b):
        noisy = (out != img).any(axis=2)
        stats.append((noisy.mean(), (out[noisy] == 255).all(axis=1).mean()))
    print(f'check: noisy fraction loop {stats[0][0]:.3f} / ours {stats[1][0]:.3f}, '
          f'white among noisy loop {stats[0][1]:.3f} / ours {stats[1][1]:.3f}')

    speedup = min(r['ours_blur'] / r['loop_blur'] for r in rows)
    speedup_noise = min(r['ours'] / r['loop'] for r in rows)
    mps = min(r['ours_blur'] for r in rows)
    ok1, ok2 = speedup >= SPEEDUP_TARGET, mps >= MPS_TARGET
    print(f'target noise+blur speed-up >= {SPEEDUP_TARGET:.0f}x: worst image {speedup:.0f}x '
          f"(noise only {speedup_noise:.0f}x) -> {'PASS' if ok1 else 'FAIL'}")
    print(f'target noise+blur >= {MPS_TARGET:.0f} MP/s on one core: worst image {mps:.0f} MP/s '
          f"-> {'PASS' if ok2 else 'FAIL'}")
    return ok1 and ok2


def bench_dataset(batches: int, copies: int):
    import paddle

    import ppgan_ext  # noqa: F401  (registers SaltPepperDataset)
    from ppgan.datasets.builder import DATASETS

    print()
    print('# SaltPepperDataset (train, 128x128 crops, prob 0.1, blur 20, scale 1), batch 16')
    tmp = tempfile.mkdtemp(prefix='bench-degrade-')
    try:
        for name, img in photos()[:3]:
            cv2.imwrite(os.path.join(tmp, f'{name}.png'), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        cls = DATASETS.get('SaltPepperDataset')

        many = os.path.join(tmp, 'many')
        os.makedirs(many)
        for i in range(copies):
            name = sorted(os.listdir(tmp))[i % 3]
            os.link(os.path.join(tmp, name), os.path.join(many, f'{i:04d}_{name}'))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            big = cls(many, gt_size=128)
        t_check = time.perf_counter() - t0
        print(f'construction (checks every file): {len(big)} PNGs in {t_check:.2f} s '
              f'({1e3 * t_check / len(big):.1f} ms/file)')

        dataset = cls(tmp, mode='train', gt_size=128, blur=BLUR, prob=0.1)
        t_read = np.mean([best_time(lambda p=p: cv2.imread(p), min_total=0.1)
                          for p in dataset.paths])
        print(f'decoding one source PNG (part of every sample): {1e3 * t_read:.1f} ms on average')
        for workers in (0, 2):
            sampler = paddle.io.RandomSampler(dataset, replacement=True,
                                              num_samples=16 * (batches + 2))
            loader = paddle.io.DataLoader(
                dataset, batch_sampler=paddle.io.BatchSampler(sampler=sampler, batch_size=16),
                num_workers=workers)
            it = iter(loader)
            for _ in range(2):                     # start-up and warm-up
                next(it)
            t0 = time.perf_counter()
            n = 0
            for batch in it:
                n += batch['lq'].shape[0]
            dt = time.perf_counter() - t0
            print(f'DataLoader num_workers={workers}: {n / dt:8.1f} samples/s '
                  f'({n} samples in {dt:.2f} s)')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--crop', type=int, default=256,
                        help='side of the crop the Python loop is timed on (default: 256)')
    parser.add_argument('--batches', type=int, default=30,
                        help='DataLoader batches timed (default: 30)')
    parser.add_argument('--copies', type=int, default=300,
                        help='files in the construction-time test (default: 300)')
    parser.add_argument('--no-dataset', action='store_true', help='skip the dataset part')
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ok = bench_functions(args.crop)
    if not args.no_dataset:
        bench_dataset(args.batches, args.copies)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
