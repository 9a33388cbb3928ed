"""LapStyle benchmarks: pyramid latency vs ppgan, style encoded once, semantics for training.

    python bench/lapstyle.py                 # 512x512, 2 revision levels, CPU or GPU
    python bench/lapstyle.py --size 1024 --repeat 20
    python bench/lapstyle.py --folder 20     # stylize 20 images: style encoded once vs per image
    python bench/lapstyle.py --semantics     # tiny draft + level-1 training, both semantics

Both pyramids get the same random weights (ppgan's nets are created, ours
load their state dicts; the VGG encoder of both reads one generated
``vgg_normalised.pdparams``-style file, since ppgan's ``Encoder`` would
otherwise download it in its constructor). ppgan's side runs the tensor code
of ``ppgan/apps/lapstyle_predictor.py`` (``LapStylePredictor.run`` without
its image reading and writing): bilinear pyramid, encoder up to relu5_1,
autograd left on. Ours runs ``LapStylePyramidNet`` under ``paddle.no_grad``
and, converted with ``paddle.jit.to_static``, as a static graph. On a GPU the
frames/s are printed too (the paper reports 100 fps at 512px).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.models.generators.lapstyle_encoder import (  # noqa: E402
    LapStyleVGGEncoder, vgg_state_from_encoder)
from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet  # noqa: E402


def build_ppgan_nets(vgg_file):
    import ppgan.models.generators.generater_lapstyle as ppgan_lapstyle

    real = ppgan_lapstyle.get_path_from_url
    ppgan_lapstyle.get_path_from_url = lambda url: vgg_file  # no download: our local file
    try:
        enc = ppgan_lapstyle.Encoder()
    finally:
        ppgan_lapstyle.get_path_from_url = real
    nets = {'net_enc': enc, 'net_dec': ppgan_lapstyle.DecoderNet(),
            'net_rev': ppgan_lapstyle.RevisionNet(), 'net_rev_2': ppgan_lapstyle.RevisionNet()}
    for net in nets.values():
        net.eval()
    return nets


def ppgan_stylize(nets, content_img, style_img):
    """The tensor work of ppgan's LapStylePredictor.run (2 revision levels)."""
    from ppgan.apps.lapstyle_predictor import fold_laplace_pyramid, make_laplace_pyramid

    pyr_ci = make_laplace_pyramid(content_img, 2)
    pyr_si = make_laplace_pyramid(style_img, 2)
    pyr_ci.append(content_img)
    pyr_si.append(style_img)
    cF = nets['net_enc'](pyr_ci[2])
    sF = nets['net_enc'](pyr_si[2])
    stylized_small = nets['net_dec'](cF, sF)
    stylized_up = F.interpolate(stylized_small, scale_factor=2)
    revnet_input = paddle.concat(x=[pyr_ci[1], stylized_up], axis=1)
    stylized_rev_lap = nets['net_rev'](revnet_input)
    stylized_rev = fold_laplace_pyramid([stylized_rev_lap, stylized_small])
    stylized_up = F.interpolate(stylized_rev, scale_factor=2)
    revnet_input = paddle.concat(x=[pyr_ci[0], stylized_up], axis=1)
    stylized_rev_lap_second = nets['net_rev_2'](revnet_input)
    return fold_laplace_pyramid([stylized_rev_lap_second, stylized_rev_lap, stylized_small])


def timed(fn, warmup, repeat, sync):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_folder(count: int, size: int, repeat: int = 2) -> None:
    """Stylize ``count`` content images with one style: style encoded per image vs once."""
    paddle.seed(0)
    net = LapStylePyramidNet(levels=2)
    net.eval()
    rng = np.random.default_rng(0)
    contents = [paddle.to_tensor(rng.random((1, 3, size, size), dtype=np.float32))
                for _ in range(count)]
    style = paddle.to_tensor(rng.random((1, 3, 512, 512), dtype=np.float32))

    def per_image():
        with paddle.no_grad():
            return [net(c, style).numpy() for c in contents]

    def encoded_once():
        with paddle.no_grad():
            feats = net.encode_style(style)
            return [net.forward_encoded(c, feats).numpy() for c in contents]

    with paddle.no_grad():   # the same outputs (and the warm-up)
        for c in contents[:2]:
            assert np.array_equal(net(c, style).numpy(),
                                  net.forward_encoded(c, net.encode_style(style)).numpy())
    t_per, t_once = [], []
    for _ in range(repeat):   # interleaved, so that other load hits both alike
        t_per.append(timed(per_image, 0, 1, lambda: None))
        t_once.append(timed(encoded_once, 0, 1, lambda: None))
    t_per, t_once = min(t_per), min(t_once)
    print(f'{count} content images {size}x{size}, style 512x512, 2 levels, dynamic graph, '
          f'best of {repeat}')
    print(f'style encoded per image: {t_per:7.2f} s   once: {t_once:7.2f} s   '
          f'ratio {t_per / t_once:.3f}x')


def bench_semantics(seeds, draft_iters: int, rev_iters: int) -> None:
    """Train the tiny draft and level-1 stages in both semantics; common losses on held-out photos.

    Each (semantics, seed) trains ``configs/lapstyle_tiny.yaml``'s nets (random
    16-wide encoder, 32px crops, scikit-image photos and gravel) for
    ``draft_iters`` draft and ``rev_iters`` level-1 iterations; then content
    and style losses (population statistics for both semantics) of the
    level-1 pyramid on held-out photos at 64x64.
    """
    import yaml
    from skimage import data

    from ppgan_ext.datasets.lapstyle_dataset import (LapStyleContentStyleDataset,
                                                     resize_short_side, write_lapstyle_samples)
    from ppgan_ext.models.criterions.style_transfer_losses import (MeanStdStyleLoss,
                                                                   NormalizedContentLoss)
    from ppgan_ext.models.lapstyle_model import LapStylePyramidModel

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, 'configs', 'lapstyle_tiny.yaml')) as f:
        cfg = yaml.safe_load(f)['model']
    cfg.pop('name')
    opt = {'optimG': {'name': 'Adam', 'beta1': 0.9, 'beta2': 0.999},
           'optimD': {'name': 'Adam', 'beta1': 0.9, 'beta2': 0.999}}
    held_out = [np.ascontiguousarray(resize_short_side(f(), 64)[:64, :64]) for f in
                (data.immunohistochemistry, data.retina, data.hubble_deep_field)]
    content_loss, style_loss = NormalizedContentLoss(), MeanStdStyleLoss()
    with tempfile.TemporaryDirectory() as tmp:
        content_dir, style_file = write_lapstyle_samples(os.path.join(tmp, 'data'), 80)
        style = resize_short_side(np.asarray(
            __import__('cv2').imread(style_file)[:, :, ::-1]), 64)[:64, :64]
        s_t = paddle.to_tensor(style.transpose(2, 0, 1)[None] / 255.0, dtype='float32')
        results = {}
        for semantics in ('ppgan', 'exact'):
            for seed in seeds:
                paddle.seed(seed)
                ds = LapStyleContentStyleDataset(content_dir, style_file, crop_size=32,
                                                 load_size=48, seed=seed)
                batches = paddle.io.DataLoader(ds, batch_size=2, shuffle=True)
                start = time.perf_counter()

                def train(model, iters):
                    model.setup_optimizers(1e-3, opt)
                    done = 0
                    while done < iters:
                        for batch in batches:
                            model.setup_input(batch)
                            model.train_iter(model.optimizers)
                            done += 1
                            if done == iters:
                                break
                    return {k: float(v) for k, v in model.losses.items()}

                draft = LapStylePyramidModel(**dict(cfg, semantics=semantics))
                train(draft, draft_iters)
                path = os.path.join(tmp, f'draft_{semantics}_{seed}.pdparams')
                paddle.save({n: net.state_dict() for n, net in draft.nets.items()}, path)
                rev = LapStylePyramidModel(**dict(cfg, stage='revision', levels=1,
                                                  draft_weights=path))
                last = train(rev, rev_iters)
                net = rev.inference_net()
                net.eval()
                c_sum = s_sum = 0.0
                with paddle.no_grad():
                    enc = rev.nets['net_enc']
                    for photo in held_out:
                        c_t = paddle.to_tensor(photo.transpose(2, 0, 1)[None] / 255.0,
                                               dtype='float32')
                        out = net(c_t, s_t)
                        t_f, c_f, s_f = enc(out), enc(c_t), enc(s_t)
                        c_sum += float(sum(content_loss(a, b) for a, b in zip(t_f, c_f)))
                        s_sum += float(sum(style_loss(a, b) for a, b in zip(t_f, s_f)))
                n = len(held_out)
                finite = all(np.isfinite(v) for v in last.values())
                results[(semantics, seed)] = (c_sum / n, s_sum / n, finite)
                print(f'{semantics:6s} seed {seed}: held-out content {c_sum / n:.4f}  '
                      f'style {s_sum / n:.4f}  finite losses {finite}  '
                      f'({time.perf_counter() - start:.0f} s)', flush=True)
        for semantics in ('ppgan', 'exact'):
            rows = [results[(semantics, seed)] for seed in seeds]
            c = [r[0] for r in rows]
            st = [r[1] for r in rows]
            print(f'{semantics:6s} mean over {len(seeds)} seeds: content {np.mean(c):.4f} '
                  f'(std {np.std(c):.4f})  style {np.mean(st):.4f} (std {np.std(st):.4f})')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=512, help='content and style side')
    parser.add_argument('--repeat', type=int, default=None,
                        help='timed runs (default: 5 on CPU, 50 on GPU)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--no-cuda', action='store_true')
    parser.add_argument('--folder', type=int, default=0, metavar='N',
                        help='instead: stylize N images, style encoded per image vs once')
    parser.add_argument('--semantics', action='store_true',
                        help='instead: train the tiny draft + level 1 in both semantics')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--iters', type=int, nargs=2, default=[200, 100],
                        metavar=('DRAFT', 'REV'), help='--semantics iterations per stage')
    args = parser.parse_args()
    if args.folder:
        return bench_folder(args.folder, args.size, args.repeat or 2)
    if args.semantics:
        return bench_semantics(list(range(args.seeds)), *args.iters)

    gpu = paddle.is_compiled_with_cuda() and not args.no_cuda
    paddle.set_device('gpu' if gpu else 'cpu')
    repeat = args.repeat or (50 if gpu else 5)

    def sync():
        if gpu:
            paddle.device.cuda.synchronize()
        else:
            paddle.to_tensor(0.0).numpy()

    paddle.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        vgg_file = os.path.join(tmp, 'vgg_normalised.pdparams')
        paddle.save(vgg_state_from_encoder(LapStyleVGGEncoder(random_init=True)), vgg_file)
        theirs = build_ppgan_nets(vgg_file)
    ours = LapStylePyramidNet(levels=2)
    ours.load_weights({name: {k: v.numpy() for k, v in net.state_dict().items()}
                       for name, net in theirs.items()}, 'ppgan nets')
    ours.eval()
    static = paddle.jit.to_static(ours, input_spec=LapStylePyramidNet.input_spec(),
                                  full_graph=True)

    rng = np.random.default_rng(0)
    content = paddle.to_tensor(rng.random((1, 3, args.size, args.size), dtype=np.float32))
    style = paddle.to_tensor(rng.random((1, 3, args.size, args.size), dtype=np.float32))

    def ppgan_run():
        return ppgan_stylize(theirs, content, style)

    def ppgan_no_grad():
        with paddle.no_grad():
            return ppgan_stylize(theirs, content, style)

    def ours_run():
        with paddle.no_grad():
            return ours(content, style)

    def static_run():
        return static(content, style)

    out_theirs, out_ours = ppgan_no_grad(), ours_run()
    assert out_theirs.shape == out_ours.shape == [1, 3, args.size, args.size]
    threads = os.environ.get('OMP_NUM_THREADS', 'default')
    print(f'device: {paddle.device.get_device()}  input: {args.size}x{args.size}  levels: 2  '
          f'median of {repeat} runs  OMP_NUM_THREADS={threads}')
    rows = [('ppgan LapStyle nets, as lapstyle_predictor.py', ppgan_run),
            ('ppgan LapStyle nets, under paddle.no_grad', ppgan_no_grad),
            ('ppgan-ext LapStylePyramidNet, dynamic graph', ours_run),
            ('ppgan-ext LapStylePyramidNet, to_static', static_run)]
    results = {}
    for label, fn in rows:
        results[label] = timed(fn, args.warmup, repeat, sync)
        fps = f'  {1.0 / results[label]:7.1f} frames/s' if gpu else ''
        print(f'{label:48s} {results[label] * 1000:9.1f} ms{fps}')
    base = results[rows[0][0]]
    ours_t = results[rows[2][0]]
    print(f'ratio ppgan (predictor) / ppgan-ext (dynamic): {base / ours_t:.2f}x')
    print(f'ratio ppgan (no_grad)   / ppgan-ext (dynamic): {results[rows[1][0]] / ours_t:.2f}x')


if __name__ == '__main__':
    main()
