"""LapStyle full-pyramid latency: ppgan-ext's LapStylePyramidNet vs ppgan's LapStyle nets.

    python bench/lapstyle.py                 # 512x512, 2 revision levels, CPU or GPU
    python bench/lapstyle.py --size 1024 --repeat 20

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=512, help='content and style side')
    parser.add_argument('--repeat', type=int, default=None,
                        help='timed runs (default: 5 on CPU, 50 on GPU)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--no-cuda', action='store_true')
    args = parser.parse_args()

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
