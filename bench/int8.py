"""Benchmark: int8 (`paddlegan quantize`) vs bf16 and fp32 with OpenVINO, side by side in one run.

Graphs (those of ``bench/infer.py``, exported the same way):

* ``TransposeSRResNet`` 64 features x 16 blocks x4 (BatchNorm) at 256x256;
* the demo generator (32 x 4, global bilinear residual) at 256x256: ``make
  demo``'s trained model when ``--demo-dir`` holds one (then the quality row
  is the real guard: PSNR against the ground truth of the held-out photos),
  else the config's initial weights;
* the LapStyle 2-level pyramid at 512x512 content and style.

Each graph is quantized with :func:`ppgan_ext.deploy.quantize.nncf_quantize`
on :func:`ppgan_ext.deploy.quantize.calibration_inputs` (training photos),
then fp32, bf16 and int8 predictors (OpenVINO, ``--threads``) are timed in
interleaved rounds (the median of ``--repeat``, after a warm-up), so they see
the same machine load. Printed: ms per image, int8's speed-up over bf16 and
fp32, and int8 output against fp32 output (PSNR, peak 1) on the timed input.
The CPU line names the native bf16 / int8 flags: int8 runs fast with AMX-INT8
or AVX-512 VNNI; without native bf16 the bf16 column is skipped and int8 is
compared with fp32.

ONNX Runtime rows, timed in the same rounds: fp32 on the graph as exported
and on the sub-pixel rewrite that ``--backend onnxruntime`` runs, and ONNX
Runtime's own static quantization (:func:`ort_quantize`, QDQ) of that graph:
it is not offered by ``paddlegan quantize`` because it measures slower than
ONNX Runtime fp32 (``docs/startup_int8.md``).

Then OpenVINO's per-layer counters (``PERF_COUNT``) of the demo net in bf16
and int8, summed by kind of layer (:func:`perf_counters`), and the int8 / bf16
ceiling they imply: the time of the int8 graph's layers that are not
convolutions bounds what faster int8 convolutions can give.

Goal: int8 >= 1.5x bf16 on CPUs with AMX (>= 1.5x the best other precision
elsewhere).

    python bench/int8.py [--threads 2] [--repeat 5] [--demo-dir demo_output]
"""
import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL = 1.5


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=2, help='CPU threads (default 2)')
    p.add_argument('--repeat', type=int, default=5, help='timed rounds (default 5)')
    p.add_argument('--lapstyle-repeat', type=int, default=3,
                   help='timed rounds of the LapStyle pyramid (default 3)')
    p.add_argument('--demo-dir', default=os.path.join(ROOT, 'demo_output'),
                   help="`make demo` output (its trained model and held-out photos)")
    p.add_argument('--work-dir', default=None, help='keep exports here (default: temp folder)')
    return p.parse_args(argv)


ARGS = _parse() if __name__ == '__main__' else None
if ARGS is not None:
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(ARGS.threads)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from ppgan_ext.plugin import quiet_paddle_logs  # noqa: E402

quiet_paddle_logs()   # before Paddle loads (the graph builders import it)


def _bench_infer():
    """``bench/infer.py`` as a module (its graph builders)."""
    spec = importlib.util.spec_from_file_location('bench_infer', os.path.join(ROOT, 'bench',
                                                                              'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interleaved(fns: dict, inputs, repeat: int) -> dict:
    """Median ms per callable, one run of each per round (after one warm-up run each)."""
    for fn in fns.values():
        fn(*inputs)
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn(*inputs)
            times[k].append(time.perf_counter() - start)
    return {k: 1000.0 * statistics.median(v) for k, v in times.items()}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1).astype(np.float64) - np.clip(b, 0, 1)) ** 2))
    return float('inf') if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ort_quantize(onnx_file: str, names, feeds, target: str) -> None:
    """ONNX Runtime's static quantization: QDQ, per-channel int8 weights, uint8 activations.

    MinMax calibration on the same feeds as NNCF's; only convolutions (and
    transposed convolutions) are quantized, as NNCF does (quantizing every op
    also broke the demo net's bilinear residual: ONNX Runtime folded the
    calibration size into its ``Resize``). U8S8 is the x86 combination ONNX
    Runtime's int8 kernels are written for (VNNI / AMX).
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._feeds = iter([dict(zip(names, f)) for f in feeds])

        def get_next(self):
            return next(self._feeds, None)

    quantize_static(onnx_file, target, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=['Conv', 'ConvTranspose'])


class OrtSession:
    """An ONNX Runtime session on one ONNX file, called like the predictors."""

    def __init__(self, path: str, names, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self._names = list(names)

    def __call__(self, *arrays):
        return self._session.run(None, dict(zip(self._names, arrays)))[0]


def run_case(name: str, model_dir: str, inputs, repeat: int, threads: int, work: str,
             bf16: bool, with_ort: bool = True) -> dict:
    from ppgan_ext.deploy.backends.openvino import OpenVINOPredictor
    from ppgan_ext.deploy.model_dir import read_model_dir
    from ppgan_ext.deploy.quantize import calibration_inputs, nncf_quantize
    from ppgan_ext.deploy.subpixel import rewrite_file

    info = read_model_dir(model_dir)
    names = [i['name'] for i in info.inputs]
    feeds = calibration_inputs(info)
    stem = name.split()[0]
    q_file = os.path.join(work, f"{stem}.int8.onnx")
    start = time.perf_counter()
    nncf_quantize(info.onnx_file, names, feeds, q_file)
    quant_s = time.perf_counter() - start
    fns = {'fp32': OpenVINOPredictor(info, 'fp32', threads)}
    if bf16:
        fns['bf16'] = OpenVINOPredictor(info, 'bf16', threads)
    fns['int8'] = OpenVINOPredictor(info, 'int8', threads, graph_file=q_file)
    if with_ort:
        # ONNX Runtime: fp32 as exported and sub-pixel rewritten (what --backend onnxruntime
        # runs), and its own static int8 quantization of the graph it runs
        rewritten = os.path.join(work, f'{stem}.subpixel.onnx')
        graph = rewritten if rewrite_file(info.onnx_file, rewritten) else info.onnx_file
        ort_q = os.path.join(work, f'{stem}.ort-int8.onnx')
        ort_quantize(graph, names, feeds, ort_q)
        fns['ort fp32 exported'] = OrtSession(info.onnx_file, names, threads)
        fns['ort fp32'] = OrtSession(graph, names, threads)
        fns['ort int8'] = OrtSession(ort_q, names, threads)
    ms = interleaved(fns, inputs, repeat)
    reference = fns['fp32'](*inputs)
    quality = {k: psnr(fns[k](*inputs), reference) for k in fns if 'int8' in k}
    return {'name': name, 'ms': ms, 'int8_vs_fp32_db': quality['int8'], 'quality': quality,
            'quantize_s': quant_s}


def perf_counters(model_dir: str, inputs, threads: int, work: str, repeat: int = 3) -> dict:
    """OpenVINO's per-layer times (PERF_COUNT) of bf16 and int8, summed by kind of work.

    Returns ``{precision: {kind: ms}}`` (median over ``repeat`` runs after a
    warm-up); kinds: the convolution producing the output (``output conv``),
    the transposed convolutions, the other convolutions, layout reorders,
    quantize/convert, the bilinear residual (``Interpolate`` + the add that
    takes it) and the rest.
    """
    from ppgan_ext.deploy.backends.openvino import openvino_module
    from ppgan_ext.deploy.model_dir import read_model_dir
    from ppgan_ext.deploy.quantize import calibration_inputs, nncf_quantize

    ov = openvino_module()
    info = read_model_dir(model_dir)
    q_file = os.path.join(work, 'profile.int8.onnx')
    nncf_quantize(info.onnx_file, [i['name'] for i in info.inputs], calibration_inputs(info),
                  q_file)
    core = ov.Core()
    result = {}
    for precision, graph, hint in (('bf16', info.onnx_file, 'bf16'), ('int8', q_file, 'f32')):
        compiled = core.compile_model(graph, 'CPU', {
            'INFERENCE_PRECISION_HINT': hint, 'PERFORMANCE_HINT': 'LATENCY', 'NUM_STREAMS': '1',
            'INFERENCE_NUM_THREADS': str(threads), 'PERF_COUNT': 'YES'})
        request = compiled.create_infer_request()
        feeds = {i: a for i, a in enumerate(inputs)}
        request.infer(feeds)
        runs = []
        for _ in range(repeat):
            request.infer(feeds)
            kinds: dict = {}
            info_rows = request.profiling_info
            convs = [p.node_name for p in info_rows if p.node_type == 'Convolution']
            for p in info_rows:
                ms = p.real_time.total_seconds() * 1000.0
                if ms <= 0:
                    continue
                kinds.setdefault(_kind(p, convs[-1] if convs else ''), []).append(
                    (ms, p.exec_type))
            runs.append(kinds)
        merged = {}
        for kind in set().union(*runs):
            totals = [sum(ms for ms, _ in r.get(kind, [])) for r in runs]
            types = sorted({t for r in runs for _, t in r.get(kind, [])})
            merged[kind] = (statistics.median(totals), types)
        result[precision] = merged
    return result


def _kind(p, last_conv: str) -> str:
    """The kind of work of one profiled OpenVINO node (see :func:`perf_counters`)."""
    node = p.node_type
    if node in ('Reorder', 'Transpose'):
        return 'layout reorders'
    if node in ('Convert', 'FakeQuantize', 'Quantize'):
        return 'quantize / convert'
    if node in ('Deconvolution', 'ConvolutionBackpropData'):
        return 'transposed convs'
    if node == 'Convolution':
        return 'output conv' if p.node_name == last_conv else 'convs'
    if node == 'Interpolate':
        return 'bilinear residual'
    if node in ('LeakyRelu', 'PRelu'):
        return 'PReLU (not fused)'
    return f'other ({node})'


def print_profile(profile: dict) -> None:
    """Per-kind share of OpenVINO's layer time, bf16 beside int8, and int8's ceiling."""
    kinds = sorted(set(profile['bf16']) | set(profile['int8']),
                   key=lambda k: -profile['bf16'].get(k, (0, []))[0])
    total = {p: sum(v[0] for v in profile[p].values()) for p in profile}
    print("\nOpenVINO per-layer time (PERF_COUNT), demo net 32x4 x4 at 256x256, ms per image:")
    print(f"{'kind of layer':<28} {'bf16 ms':>8} {'share':>6} {'int8 ms':>8} {'share':>6}  "
          f"int8 kernels")
    for k in kinds:
        b, i = profile['bf16'].get(k, (0.0, [])), profile['int8'].get(k, (0.0, []))
        print(f"{k:<28} {b[0]:8.1f} {100 * b[0] / total['bf16']:5.1f}% {i[0]:8.1f} "
              f"{100 * i[0] / total['int8']:5.1f}%  {', '.join(i[1])[:60]}")
    print(f"{'sum of layers':<28} {total['bf16']:8.1f} {'':>6} {total['int8']:8.1f}")
    convs = ('convs', 'transposed convs', 'output conv')
    conv_int8 = sum(profile['int8'].get(k, (0.0,))[0] for k in convs)
    conv_bf16 = sum(profile['bf16'].get(k, (0.0,))[0] for k in convs)
    rest = total['int8'] - conv_int8
    print(f"int8 / bf16 of the layer sums: {total['bf16'] / total['int8']:.2f}x; convolutions "
          f"alone: {conv_bf16:.1f} -> {conv_int8:.1f} ms ({conv_bf16 / conv_int8:.2f}x); "
          f"the rest of the int8 graph: {rest:.1f} ms ({100 * rest / total['int8']:.0f} %)")
    for rate in (2.0, float('inf')):
        bound = total['bf16'] / (rest + conv_bf16 / rate)
        what = 'twice as fast as bf16' if rate == 2.0 else 'free'
        print(f"ceiling with the rest as it is and every convolution {what}: {bound:.2f}x bf16")


def demo_guard(demo_dir: str, work: str, threads: int) -> str:
    """The real guard on make demo's trained model: held-out PSNR, fp32 vs int8."""
    from ppgan_ext.deploy.quantize import QuantizationRefused, quantize_model_dir

    src = os.path.join(demo_dir, 'inference_model')
    lq, gt = os.path.join(demo_dir, 'heldout_lq'), os.path.join(demo_dir, 'heldout_gt')
    if not (os.path.isdir(src) and os.path.isdir(lq) and os.path.isdir(gt)):
        return 'demo guard: skipped (no trained demo model; run make demo)'
    copy = os.path.join(work, 'demo_guard')
    shutil.copytree(src, copy, dirs_exist_ok=True)
    try:
        report = quantize_model_dir(copy, heldout=lq, heldout_gt=gt, threads=threads)
    except QuantizationRefused as e:
        return f'demo guard: {e}'
    r = report.record
    return (f"demo guard (trained demo model, held-out photos vs ground truth): PSNR fp32 "
            f"{r['psnr_fp32_db']:.4f} dB, int8 {r['psnr_int8_db']:.4f} dB, loss "
            f"{r['loss_db']:.4f} dB (margin {r['margin_db']} dB): kept")


def main() -> int:
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name, int8_flags, native_bf16

    args = ARGS or _parse([])
    work = args.work_dir or tempfile.mkdtemp(prefix='bench-int8-')
    os.makedirs(work, exist_ok=True)
    bench = _bench_infer()
    bf16 = native_bf16()
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; native bf16: "
          f"{', '.join(bf16_flags()) or 'none'}; native int8: "
          f"{', '.join(int8_flags()) or 'none'}; threads {args.threads}")
    cases = [bench.sr_case('TransposeSRResNet-64x16-x4',
                           dict(name='TransposeSRResNet', num_feat=64, num_blocks=16, scale=4),
                           256, work)]
    demo_model = os.path.join(args.demo_dir, 'inference_model')
    demo_trained = os.path.isfile(os.path.join(demo_model, 'ppgan_ext.json'))
    if demo_trained:
        x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
        cases.append(bench.Case('demo-generator-32x4-x4 (trained) 256x256', demo_model, [x],
                                None))
    else:
        cases.append(bench.sr_case('demo-generator-32x4-x4',
                                   dict(name='TransposeSRResNet', num_feat=32, num_blocks=4,
                                        scale=4, norm='none', deconv_kernel=4,
                                        global_residual=True), 256, work))
    lapstyle = bench.lapstyle_case(work, 512, args.lapstyle_repeat)
    rows = []
    load_before = os.getloadavg()
    for case in cases + [lapstyle]:
        repeat = case.repeat or args.repeat
        rows.append(run_case(case.name, case.model_dir, case.inputs, repeat, args.threads, work,
                             bf16))
    load = os.getloadavg()
    print(f'load average: {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f} '
          f'before, {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} after the timings '
          f'(above {args.threads}: other processes shared the cores)\n')
    head = f"{'graph':<44} {'fp32 ms':>9} {'bf16 ms':>9} {'int8 ms':>9} {'int8/bf16':>10} " \
           f"{'int8/fp32':>10} {'int8 vs fp32':>13}"
    print(head)
    met = []
    for r in rows:
        ms = r['ms']
        best_other = ms.get('bf16', ms['fp32'])
        ratio = best_other / ms['int8']
        met.append(ratio >= GOAL)
        print(f"{r['name']:<44} {ms['fp32']:9.1f} {ms.get('bf16', float('nan')):9.1f} "
              f"{ms['int8']:9.1f} {ratio:9.2f}x {ms['fp32'] / ms['int8']:9.2f}x "
              f"{r['int8_vs_fp32_db']:10.2f} dB")
    reference = 'bf16' if bf16 else 'fp32'
    print(f"\ngoal int8 >= {GOAL}x {reference}: met for {sum(met)} of {len(met)} graphs")
    print("\nONNX Runtime (same rounds): fp32 as exported, fp32 sub-pixel rewritten (what "
          "--backend onnxruntime runs), its static int8 (QDQ U8S8, MinMax, same calibration) "
          "of the rewritten graph; ms per image")
    print(f"{'graph':<44} {'exported':>9} {'rewritten':>9} {'ort int8':>9} "
          f"{'int8/rewr':>10} {'vs ov int8':>11} {'ort int8 vs fp32':>17}")
    for r in rows:
        ms = r['ms']
        if 'ort int8' not in ms:
            continue
        print(f"{r['name']:<44} {ms['ort fp32 exported']:9.1f} {ms['ort fp32']:9.1f} "
              f"{ms['ort int8']:9.1f} {ms['ort fp32'] / ms['ort int8']:9.2f}x "
              f"{ms['int8'] / ms['ort int8']:10.2f}x {r['quality']['ort int8']:14.2f} dB")
    print(demo_guard(args.demo_dir, work, args.threads))
    demo = next(c for c in cases if c.name.startswith('demo'))
    print_profile(perf_counters(demo.model_dir, demo.inputs, args.threads, work))
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
