"""Transposed convolution (kernel 3 and 4) vs PixelShuffle as TransposeSRResNet's upsampler.

The three variants of the demo's generator are trained side by side in one
run with the same recipe (``configs/demo_saltpepper_x4.yaml``), the same
iterations, data and seed, through ppgan's Trainer, then scored on the
held-out photos (chelsea, rocket, coffee; prob 0.05, blur 3, x4):

* PSNR / SSIM (RGB, 4-pixel border cropped), per image and mean;
* parameters, training time, inference time (dynamic graph, median of
  ``--repeats`` runs over the three photos);
* checkerboard score: the energy of the output's period-2 pattern (the
  pattern a stride-2 transposed conv with uneven kernel overlap leaves;
  Odena et al., "Deconvolution and Checkerboard Artifacts", Distill 2016)
  relative to the ground truth's, and the same for period 4 (the first of
  the two x2 stages, seen at the output). 1.0 = as much as the real photo;
  above 1 = the net adds a grid pattern.

It writes ``bench_output/upsampler.md`` (the table) and
``bench_output/upsampler.png`` (zoomed crops: ground truth and each variant).
Times depend on the machine's load; the ratios between the three rows are
what the run measures.

Usage::

    python bench/upsampler.py                  # 400 iterations per variant
    python bench/upsampler.py --iters 0        # the demo's full budget (total_iters)
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import ppgan_ext  # noqa: E402,F401
import demo  # noqa: E402  (tools/demo.py: data, training and scoring of the main job)

VARIANTS = (
    ('transpose k3', {'upsampler': 'transpose', 'deconv_kernel': 3}),
    ('transpose k4', {'upsampler': 'transpose', 'deconv_kernel': 4}),
    ('pixelshuffle', {'upsampler': 'pixelshuffle', 'deconv_kernel': 4}),
)


def periodic_energy(img: np.ndarray, period: int, tile: int = 16) -> float:
    """Energy of ``img``'s pattern of period ``period`` (pixels), summed over tiles.

    The luminance is cut into ``tile`` x ``tile`` tiles; in each tile's 2-D
    DFT the bins whose frequencies are multiples of ``1/period`` in x and/or y
    (DC and, for period 4, the period-2 bins excluded) hold the tile's
    ``period``-periodic pattern. Tiles let its phase change across the image.

    Args:
        img (ndarray): uint8 or float ``(H, W, 3)`` image.
        period (int): 2 or 4.
        tile (int): Tile side, a multiple of ``period``. Default: 16.

    Returns:
        float: sum of squared DFT magnitudes of those bins over all tiles.
    """
    grey = np.asarray(img, np.float64).mean(axis=2)
    h, w = (grey.shape[0] // tile) * tile, (grey.shape[1] // tile) * tile
    tiles = grey[:h, :w].reshape(h // tile, tile, w // tile, tile).transpose(0, 2, 1, 3)
    spectrum = np.abs(np.fft.fft2(tiles)) ** 2
    step = tile // period
    bins = np.zeros((tile, tile), bool)
    bins[::step, ::step] = True
    bins[0, 0] = False
    if period == 4:
        half = tile // 2
        bins[::half, ::half] = False     # period-2 bins are counted by period=2
    return float(spectrum[..., bins].sum())


def checkerboard_score(out: np.ndarray, gt: np.ndarray, period: int = 2) -> float:
    """``periodic_energy(out) / periodic_energy(gt)`` (crop both to the same size first)."""
    return periodic_energy(out, period) / max(periodic_energy(gt, period), 1e-12)


def inference_ms(net, inputs, repeats: int) -> float:
    """Median milliseconds to run ``net`` over every input once (no grad)."""
    import paddle

    tensors = [paddle.to_tensor(x[None]) for x in inputs]
    with paddle.no_grad():
        for x in tensors:            # warm-up
            net(x)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            for x in tensors:
                net(x).numpy()
            runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000.0


def run_variant(label, options, args, split):
    from ppgan.datasets.builder import build_dataset
    from ppgan.models.generators.builder import build_generator
    from ppgan.utils.filesystem import load

    from ppgan_ext.config import load_config

    overrides = [f"dataset.train.gt_folder={split['train']}",
                 f"dataset.test.gt_folder={split['test']}",
                 f'output_dir={args.output_dir}'] + [
        f'model.generator.{k}={v}' for k, v in options.items()]
    if args.iters:
        overrides += demo.iterations(args.iters)
    start = time.time()
    weights = demo.train(args.config, overrides)
    train_s = time.time() - start
    cfg = load_config(args.config, overrides)
    rows, panels = demo.evaluate(cfg, weights)
    net = build_generator(dict(cfg.model.generator))
    net.set_state_dict(load(weights)['generator'])
    net.eval()
    params = sum(int(np.prod(p.shape)) for p in net.parameters())
    dataset = build_dataset(dict(cfg.dataset.test))
    inputs = [dataset[i]['lq'] for i in range(len(dataset))]
    infer = inference_ms(net, inputs, args.repeats)
    scores = {2: [], 4: []}
    for row in panels:
        images = dict(row)
        for period in scores:
            scores[period].append(checkerboard_score(images['ours'], images['ground truth'],
                                                     period))
    base = {2: [], 4: []}
    for row in panels:
        images = dict(row)
        for period in base:
            base[period].append(checkerboard_score(images['bicubic'], images['ground truth'],
                                                   period))
    return {'label': label, 'rows': rows, 'panels': panels, 'params': params,
            'train_s': train_s, 'infer_ms': infer,
            'cb2': float(np.mean(scores[2])), 'cb4': float(np.mean(scores[4])),
            'bicubic_cb2': float(np.mean(base[2])), 'bicubic_cb4': float(np.mean(base[4]))}


def table(results) -> str:
    names = [os.path.splitext(r['image'])[0] for r in results[0]['rows']]
    head = ('| upsampler | ' + ' | '.join(f'{n} PSNR / SSIM' for n in names)
            + ' | mean PSNR / SSIM | parameters | training | inference (3 photos) '
            '| checkerboard p2 | checkerboard p4 |')
    lines = [head, '|' + '---|' * (len(names) + 7)]
    t0 = results[0]['train_s']
    i0 = results[0]['infer_ms']
    for r in results:
        mean = demo.mean_row(r['rows'])
        cells = [f"{row['ours psnr']:.2f} / {row['ours ssim']:.4f}" for row in r['rows']]
        lines.append(
            f"| {r['label']} | " + ' | '.join(cells)
            + f" | **{mean['ours psnr']:.2f} / {mean['ours ssim']:.4f}** | {r['params']:,} "
            f"| {r['train_s']:.0f} s ({r['train_s'] / t0:.2f}x) "
            f"| {r['infer_ms']:.0f} ms ({r['infer_ms'] / i0:.2f}x) "
            f"| {r['cb2']:.2f} | {r['cb4']:.2f} |")
    r = results[0]
    lines.append(f"| bicubic (reference) | | | | | | | | {r['bicubic_cb2']:.2f} "
                 f"| {r['bicubic_cb4']:.2f} |")
    return '\n'.join(lines)


def write_zoom(results, path: str, height: int = 200) -> None:
    """Zoomed crops (:data:`demo.ZOOMS`): ground truth, then each variant's output."""
    import cv2

    names = [os.path.splitext(r['image'])[0] for r in results[0]['rows']]
    rows = []
    for stem, top, left, size in demo.ZOOMS:
        if stem not in names:
            continue
        idx = names.index(stem)
        columns = [('ground truth', dict(results[0]['panels'][idx])['ground truth'])]
        columns += [(r['label'], dict(r['panels'][idx])['ours']) for r in results]
        tiles = []
        for label, img in columns:
            crop = img[top:top + size, left:left + size]
            crop = cv2.resize(crop, (height, height), interpolation=cv2.INTER_NEAREST)
            tiles.append(demo._label(crop, label))
        rows.append(demo._row(tiles))
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    figure = np.concatenate([x for r in rows for x in (r, gap)][:-1], axis=0)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(figure, cv2.COLOR_RGB2BGR))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('-c', '--config', default=os.path.join(ROOT, 'configs',
                                                          'demo_saltpepper_x4.yaml'))
    p.add_argument('--iters', type=int, default=400,
                   help='training iterations per variant, the same for all three '
                        '(0 = the config\'s total_iters)')
    p.add_argument('--repeats', type=int, default=5, help='inference timing repeats')
    p.add_argument('--data-root', default='data/saltpepper')
    p.add_argument('--output-dir', default='output_dir', help='training runs go here')
    p.add_argument('--out', default='bench_output', help='table and picture go here')
    args = p.parse_args(argv)

    split = demo.build_sr_split(args.data_root, generated=demo.DEFAULT_GENERATED)
    results = []
    for label, options in VARIANTS:
        print(f'--- {label}', flush=True)
        results.append(run_variant(label, options, args, split))
    text = table(results)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'upsampler.md'), 'w') as f:
        f.write(text + '\n')
    write_zoom(results, os.path.join(args.out, 'upsampler.png'))
    print(text)
    print(f"picture: {os.path.join(args.out, 'upsampler.png')}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
