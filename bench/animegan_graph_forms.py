"""AnimeGANv2's exported graph, before and after the ONNX fusions, against ppgan's predictor.

    python bench/animegan_graph_forms.py [--size 256] [--rounds 5]

Random weights in ppgan's layout (speed does not depend on them). Three rows,
timed in interleaved rounds in one process at 2 threads: ppgan's
``AnimeGANPredictor`` (its dynamic graph, called as its ``run()`` is, on a
PNG), and the generator's ONNX graph on OpenVINO fp32 and ONNX Runtime fp32 in
two forms: the earlier one (GroupNorm traced as reshape to (N, G, -1) + mean +
variance, leaky ReLU as ``where(x > 0, x, x * slope)``) and the current one
(:mod:`ppgan_ext.deploy.onnx_fusions`: ``LeakyRelu``; GroupNorm(1) as 4-D
statistics). Prints medians, ratios, and OpenVINO's per-layer profile
(``PERF_COUNT``) of both forms.
"""
import argparse
import contextlib
import functools
import io
import os
import sys
import tempfile

os.environ.setdefault('OMP_NUM_THREADS', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


def export(net, folder: str, earlier: bool) -> str:
    import paddle

    from ppgan_ext.deploy import graph_rewrites, onnx_fusions
    from ppgan_ext.deploy.onnx_convert import convert_to_onnx

    saved = graph_rewrites._group_norm_nchw, onnx_fusions.fuse_onnx_bytes
    if earlier:   # GroupNorm(1) through the (N, G, -1) reshape, leaky ReLU as where()
        graph_rewrites._group_norm_nchw = functools.partial(saved[0], one_group_4d=False)
        onnx_fusions.fuse_onnx_bytes = lambda data: data
    try:
        spec = [paddle.static.InputSpec([1, 3, None, None], 'float32', 'x')]
        with graph_rewrites.onnx_convertible_ops():
            paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True),
                            os.path.join(folder, 'g'))
        return convert_to_onnx(os.path.join(folder, 'g.json'), os.path.join(folder, 'g.pdiparams'),
                               os.path.join(folder, 'g.onnx'))
    finally:
        graph_rewrites._group_norm_nchw, onnx_fusions.fuse_onnx_bytes = saved


def openvino_profile(request, top: int = 6) -> str:
    """The ``top`` node types of an OpenVINO infer request's profile (``PERF_COUNT``), in %."""
    agg = {}
    for info in request.profiling_info:
        agg[info.node_type] = agg.get(info.node_type, 0.0) + info.real_time.total_seconds()
    total = sum(agg.values())
    ranked = sorted(agg.items(), key=lambda kv: -kv[1])[:top]
    return ', '.join(f'{k} {100 * v / total:.0f} %' for k, v in ranked)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--rounds', type=int, default=5)
    args = p.parse_args()
    threads = int(os.environ['OMP_NUM_THREADS'])

    import cv2
    import onnxruntime as ort
    import openvino as ov
    import paddle

    import ppgan_ext  # noqa: F401
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name
    from infer import interleaved
    from ppgan_ext.sample_data import sample_image
    from pretrained import ppgan_call, random_weights

    name = 'animeganv2-hayao'
    tmp = tempfile.mkdtemp(prefix='bench_animegan_')
    weights = os.path.join(tmp, 'w.pdparams')
    random_weights(name, weights)
    from ppgan_ext.apps.pretrained import load_generator
    from ppgan_ext.zoo import registry

    net = load_generator(registry.get(name), weights)
    graphs = {}
    for form in ('earlier', 'current'):
        os.makedirs(os.path.join(tmp, form))
        graphs[form] = export(net, os.path.join(tmp, form), form == 'earlier')
    x = np.random.default_rng(0).random((1, 3, args.size, args.size), dtype=np.float32)
    with paddle.no_grad():
        ref = net(paddle.to_tensor(x)).numpy()
    png = os.path.join(tmp, 'in.png')
    cv2.imwrite(png, cv2.resize(sample_image('coffee'), (args.size, args.size)))
    ppgan_run = ppgan_call(name, weights, png, os.path.join(tmp, 'o'))

    def ppgan_quiet():   # the predictor prints a line per image
        with contextlib.redirect_stdout(io.StringIO()):
            ppgan_run()
    rows = {'ppgan AnimeGANPredictor': ppgan_quiet}
    core = ov.Core()
    requests = {}
    for form, path in graphs.items():
        c = core.compile_model(path, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32',
                                             'INFERENCE_NUM_THREADS': threads,
                                             'PERFORMANCE_HINT': 'LATENCY', 'PERF_COUNT': 'YES'})
        req = c.create_infer_request()
        requests[form] = req
        diff = np.abs(req.infer({0: x})[0] - ref).max()
        rows[f'OpenVINO fp32, {form} graph'] = (lambda r=req: r.infer({0: x}))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
        rows[f'ONNX Runtime fp32, {form} graph'] = (lambda s=sess: s.run(None, {'x': x}))
        print(f'{form} graph: max |OpenVINO - dynamic graph| = {diff:.2g}')
    ms = interleaved(rows, (), args.rounds)
    flags = bf16_flags()
    print(f'CPU: {cpu_name()}; native bf16: {", ".join(flags) or "none"}; {threads} threads; '
          f'load average {os.getloadavg()[0]:.1f}; {args.size}x{args.size}, median of '
          f'{args.rounds} interleaved rounds')
    base = ms['ppgan AnimeGANPredictor']
    for k, m in ms.items():
        print(f'  {k:36s} {m:8.0f} ms  {base / m:6.2f}x ppgan')
    for form, req in requests.items():
        print(f'  OpenVINO profile, {form} graph: {openvino_profile(req)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
