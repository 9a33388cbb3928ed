"""Benchmark: every way to run an export, side by side in one process, plus bf16 quality.

Variants per graph: dynamic graph; Paddle Inference with oneDNN (the broken
passes removed: what ``--backend paddle`` runs), with oneDNN off and with
oneDNN as shipped; ONNX Runtime fp32; OpenVINO fp32 and bf16. Ratios are
against Paddle Inference (oneDNN, passes removed), measured in the same run,
so the machine's load affects every row alike. Each row also shows the GFLOP/s
it reached on the graph's convolutions (:func:`conv_gflop`), set against the
plain-convolution ceiling timed in the same rounds (:class:`ConvCeiling`:
what OpenVINO reaches on a chain of 64-channel 3x3 convolutions on this CPU
at that time); each target prints the time the graph's convolutions alone
would take at that ceiling. Then the bf16 quality guard
(:mod:`ppgan_ext.apps.precision_check`) and the peak memory of a tiled 4096x4096 x4
upscale.

Run from the repository root::

    python bench/infer.py                       # 2 threads
    python bench/infer.py --threads 1 --repeat 3
    python bench/infer.py --skip-tiled --skip-quality --skip-slow   # backends only

Targets on a 2-core AMX Xeon (printed with the measured values): the 64x16 x4
SR net at 256x256 in <= 150 ms with bf16 (>= 13x Paddle Inference fp32) and
<= 700 ms with fp32; the 2-level LapStyle pyramid at 512x512 in <= 200 ms with
bf16. On a CPU without native bf16 the bf16 rows are skipped and the reason
printed.

Cases (``CASES``):

* ``TransposeSRResNet`` with the source's defaults (64 features, 16 residual
  blocks, BatchNorm, x4) at 256x256 input;
* the ``make demo`` generator (``configs/demo_saltpepper_x4.yaml``: 32
  features, 4 blocks, global bilinear residual) at 256x256 input;
* the LapStyle whole-pyramid graph (``configs/lapstyle_rev2.yaml``: VGG-19
  encoder, drafting net, 2 revision levels of 64 features, pyramid ops) at
  512x512 content and style (:func:`lapstyle_case`), exported with
  ``paddlegan export``'s code from a random weight file; its dynamic-graph
  twin is what ``paddlegan stylize --weights`` runs. Its runs take seconds
  on a CPU, so it gets ``--lapstyle-repeat`` timed runs.

Weights are random, with the residual branches scaled down so the outputs
stay in an image-like range (speed does not depend on the values; the export
parity check needs them sane). Each Paddle Inference variant gets its own
predictor; "oneDNN as shipped" runs in a child process because it crashes
or fails on some graphs. Times are the median of ``--repeat`` runs after one
warm-up run, in milliseconds per image.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=2,
                   help='CPU threads for every variant (default: 2)')
    p.add_argument('--repeat', type=int, default=5, help='timed runs per variant (default 5)')
    p.add_argument('--size', type=int, default=256, help='SR input side (default 256)')
    p.add_argument('--tile', type=int, default=128,
                   help='tile side for the 4096x4096 memory run (default 128)')
    p.add_argument('--tile-overlap', type=int, default=16)
    p.add_argument('--skip-tiled', action='store_true', help='skip the 4096x4096 memory run')
    p.add_argument('--lapstyle-size', type=int, default=512,
                   help='LapStyle content and style side (default 512; 0 skips the case)')
    p.add_argument('--lapstyle-repeat', type=int, default=3,
                   help='timed runs per variant for LapStyle (default 3)')
    p.add_argument('--skip-quality', action='store_true', help='skip the bf16 quality guard')
    p.add_argument('--skip-slow', action='store_true',
                   help='skip the dynamic-graph, oneDNN-off and oneDNN-as-shipped rows')
    p.add_argument('--demo-dir', default=os.path.join(ROOT, 'demo_output'),
                   help='`make demo` output: its trained model is used for the quality guard '
                        '(default: demo_output; a small net is trained when it is missing)')
    p.add_argument('--work-dir', default=None,
                   help='keep exported models here (default: a temporary folder)')
    return p.parse_args(argv)


ARGS = _parse() if __name__ == '__main__' else None
if ARGS is not None:  # thread count must be set before Paddle is imported
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(ARGS.threads)

sys.path.insert(0, ROOT)

import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401


@dataclass
class Case:
    """One exported graph to time: its folder, inputs and dynamic-graph twin."""
    name: str
    model_dir: str
    inputs: List[np.ndarray]
    dygraph: Callable[..., np.ndarray]
    repeat: Optional[int] = None  # timed runs; None: --repeat
    skip_slow: bool = False
    gflop: Optional[float] = None  # convolution work of one run (conv_gflop)


def conv_gflop(net, *arrays: np.ndarray) -> float:
    """GFLOP (2 x multiply-adds) of every convolution in one forward pass of ``net``.

    Counted with forward hooks on ``nn.Conv2D`` (output elements x input
    channels per group x kernel area) and ``nn.Conv2DTranspose`` (input
    elements x output channels per group x kernel area); activations, norms
    and resizes are not counted.
    """
    import paddle
    import paddle.nn as nn

    total = [0.0]

    def count(layer, inputs, output):
        w = layer.weight.shape
        if isinstance(layer, nn.Conv2DTranspose):
            total[0] += 2.0 * inputs[0].size * w[1] * w[2] * w[3]
        else:
            total[0] += 2.0 * output.size * w[1] * w[2] * w[3]

    hooks = [layer.register_forward_post_hook(count) for layer in net.sublayers()
             if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose))]
    try:
        with paddle.no_grad():
            net(*[paddle.to_tensor(a) for a in arrays])
    finally:
        for hook in hooks:
            hook.remove()
    return total[0] / 1e9


class ConvCeiling:
    """What OpenVINO's CPU plugin reaches here on plain 3x3 convolutions, as callables.

    A graph of ``layers`` chained ``channels`` -> ``channels`` 3x3 convolutions
    + ReLU at ``size`` x ``size`` (the shape of 33 of the 35 convolutions of
    the 64x16 SR net), compiled like the OpenVINO backend compiles an export,
    once per precision the CPU runs natively. :func:`speed` times each
    ``runners`` entry in the same interleaved rounds as a case's backends, so
    the ceiling is measured at the same moments as the rows it is compared
    with (on a shared machine the CPU's speed drifts within one run).
    """

    def __init__(self, threads: int, layers: int = 16, channels: int = 64, size: int = 256):
        from openvino import opset13 as ops

        from ppgan_ext.deploy.backends import check_precision
        from ppgan_ext.deploy.backends.openvino import openvino_module

        ov = openvino_module()
        rng = np.random.default_rng(0)
        x = ops.parameter([1, channels, size, size], np.float32)
        y = x
        for _ in range(layers):
            w = ops.constant(rng.normal(0, 0.05, (channels, channels, 3, 3)).astype(np.float32))
            y = ops.relu(ops.convolution(y, w, [1, 1], [1, 1], [1, 1], [1, 1]))
        model = ov.Model([y], [x])
        data = rng.random((1, channels, size, size), dtype=np.float32)
        self.gflop = 2.0 * layers * channels * channels * 9 * size * size / 1e9
        self.runners, self.skipped = {}, {}
        for precision, hint in (('fp32', 'f32'), ('bf16', 'bf16')):
            try:
                check_precision('openvino', precision)
            except ValueError as e:
                self.skipped[precision] = str(e)
                continue
            request = ov.Core().compile_model(model, 'CPU', {
                'INFERENCE_PRECISION_HINT': hint, 'PERFORMANCE_HINT': 'LATENCY',
                'NUM_STREAMS': '1', 'INFERENCE_NUM_THREADS': str(threads)}
            ).create_infer_request()
            self.runners[precision] = lambda *_, r=request: r.infer({0: data})

    @staticmethod
    def label(precision: str) -> str:
        return f'plain-convolution ceiling {precision}'

    def rates(self, ms: dict) -> dict:
        """``{precision: GFLOP/s}`` from the rounds' medians (``speed``'s ``ms``)."""
        return {p: self.gflop / ms[self.label(p)] * 1000 for p in self.runners
                if ms.get(self.label(p))}


def machine() -> str:
    import paddle

    from ppgan_ext.deploy.cpu import cpu_name

    cpu = cpu_name()
    return (f'{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, '
            f'Paddle {paddle.__version__}')


def _tame_weights(net) -> None:
    """Scale random residual-branch weights so activations stay O(1) through deep stacks."""
    for name, param in net.named_parameters():
        if param.ndim == 4 and 'body' in name:
            param.set_value(param * 0.1)


def sr_case(name: str, generator: dict, size: int, work: str) -> Case:
    import paddle

    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import build_model_for_export, export_model

    cfg_path = os.path.join(work, f'{name}.yaml')
    import yaml
    with open(cfg_path, 'w') as f:
        yaml.safe_dump({'model': {'name': 'BaseSRModel', 'generator': generator},
                        'min_max': '(0., 1.)', 'output_dir': work}, f)
    cfg = load_config(cfg_path)
    paddle.seed(0)
    model, _ = build_model_for_export(cfg, None)
    net = model.nets['generator']
    _tame_weights(net)
    model_dir = os.path.join(work, name)
    if not os.path.isfile(os.path.join(model_dir, 'ppgan_ext.json')):
        export_model(cfg, None, model_dir, parity_sizes=[(32, 32), (47, 33)], model=model)
    dyn = build_model_for_export(cfg, None)[0].nets['generator']
    dyn.set_state_dict(net.state_dict())
    dyn.eval()
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)

    def dygraph(arr):
        with paddle.no_grad():
            return dyn(paddle.to_tensor(arr)).numpy()

    return Case(f'{name} {size}x{size}', model_dir, [x], dygraph, gflop=conv_gflop(dyn, x))


def lapstyle_case(work: str, size: int = 512, repeat: Optional[int] = None) -> Optional[Case]:
    """The LapStyle whole pyramid (draft + 2 revisions + pyramid ops) at ``size`` x ``size``.

    ``configs/lapstyle_rev2.yaml`` exported through ``export_model`` (the
    code of ``paddlegan export``, parity check included) from a random weight
    file; the dynamic-graph side is :class:`LapStylePyramidNet` with the same
    weights (``paddlegan stylize --weights``). Content: the astronaut photo,
    style: the gravel texture, both resized to ``size``.
    """
    import cv2
    import paddle
    from skimage import data

    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet
    from ppgan_ext.sample_data import write_random_lapstyle_weights
    from ppgan_ext.weight_files import read_state_file

    if size <= 0:
        return None
    cfg = load_config(os.path.join(ROOT, 'configs', 'lapstyle_rev2.yaml'))
    levels = int(cfg.model.levels)
    weights = os.path.join(work, 'lapstyle_rev2_random.pdparams')
    model_dir = os.path.join(work, 'lapstyle_rev2')
    if not os.path.isfile(os.path.join(model_dir, 'ppgan_ext.json')):
        write_random_lapstyle_weights(weights, levels, std=0.02)  # the full-size nets
        export_model(cfg, weights, model_dir)
    net = LapStylePyramidNet(levels)
    net.load_weights(read_state_file(weights), weights)
    net.eval()

    def batch(rgb: np.ndarray) -> np.ndarray:
        img = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        return np.ascontiguousarray(img.transpose(2, 0, 1)[None], np.float32) / 255.0

    def dygraph(content, style):
        with paddle.no_grad():
            return net(paddle.to_tensor(content), paddle.to_tensor(style)).numpy()

    inputs = [batch(data.astronaut()), batch(data.gravel())]
    return Case(f'LapStyle {levels}-level pyramid {size}x{size}', model_dir, inputs, dygraph,
                repeat, gflop=conv_gflop(net, *inputs))


_SHIPPED = r'''
import json, statistics, sys, time
import numpy as np
from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
a = json.loads(sys.argv[1])
p = Predictor(a['model_dir'], threads=a['threads'], delete_passes=[])
xs = [np.load(f) for f in a['inputs']]
p(*xs)
ts = []
for _ in range(a['repeat']):
    t = time.perf_counter(); p(*xs); ts.append(time.perf_counter() - t)
print('MS', 1000 * statistics.median(ts))
'''


def shipped_onednn(case: Case, threads: int, repeat: int, work: str) -> str:
    """ms/image with oneDNN exactly as Paddle ships it (child process), or why it fails."""
    files = []
    for i, x in enumerate(case.inputs):
        files.append(os.path.join(work, f'input{i}.npy'))
        np.save(files[-1], x)
    payload = json.dumps(dict(model_dir=case.model_dir, threads=threads, repeat=repeat,
                              inputs=files))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', _SHIPPED, payload], env=env,
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return proc.stdout.split('MS')[1].strip()
    if proc.returncode in (-11, 139):
        return 'segfault'
    err = [ln for ln in proc.stderr.splitlines() if 'Error' in ln]
    if not err:
        return f'fails: rc {proc.returncode}'
    text = err[-1].split(' (at ')[0].replace('(Unimplemented) ', '')
    return 'fails: ' + text.replace('NotImplementedError: ', '').strip()[:100]


# (case-name prefix, variant label, limit in ms) of the targets
TARGETS = (('TransposeSRResNet-64x16-x4', 'OpenVINO bf16', 150.0),
           ('TransposeSRResNet-64x16-x4', 'OpenVINO fp32', 700.0),
           ('LapStyle', 'OpenVINO bf16', 200.0))
BF16_SPEEDUP_TARGET = 13.0
BASE = 'Paddle Inference, oneDNN (passes removed)'


def _psnr(out: np.ndarray, reference: np.ndarray) -> float:
    """PSNR (dB, peak 1) of an output against the dynamic graph's."""
    mse = float(np.mean((out.astype(np.float64) - reference) ** 2))
    return float('inf') if mse == 0 else 10.0 * np.log10(1.0 / mse)


def interleaved(fns: dict, inputs, repeat: int) -> dict:
    """Median ms of each callable, timed in rounds (one run of every callable per round).

    Every variant sees the same stretch of machine load, so the ratios hold
    on a busy machine even when the absolute times do not.
    """
    for fn in fns.values():
        fn(*inputs)  # warm-up: builds oneDNN primitives / OpenVINO kernels, allocates
    times = {label: [] for label in fns}
    for _ in range(repeat):
        for label, fn in fns.items():
            start = time.perf_counter()
            fn(*inputs)
            times[label].append(time.perf_counter() - start)
    return {label: 1000.0 * statistics.median(t) for label, t in times.items()}


def speed(case: Case, threads: int, repeat: int, work: str,
          ceiling: Optional[ConvCeiling] = None) -> tuple:
    """Print one table of ms/image and ratios (all variants interleaved).

    With the case's convolution work (``case.gflop``) each row also shows the
    GFLOP/s it reached; with ``ceiling`` the plain-convolution graphs run in
    the same rounds and the OpenVINO rows are set against them.

    Returns:
        ({label: ms}, {precision: ceiling GFLOP/s in these rounds})
    """
    from ppgan_ext.deploy.backends import check_precision, create_predictor

    repeat = case.repeat or repeat
    reference = case.dygraph(*case.inputs)
    variants = [(BASE, 'paddle', 'fp32', {}),
                ('ONNX Runtime fp32', 'onnxruntime', 'fp32', {}),
                ('OpenVINO fp32', 'openvino', 'fp32', {}),
                ('OpenVINO bf16', 'openvino', 'bf16', {})]
    if not case.skip_slow:
        variants.insert(1, ('Paddle Inference, oneDNN off', 'paddle', 'fp32', {'onednn': False}))
    fns, notes, diffs = {}, {}, {}
    if not case.skip_slow:
        fns['dynamic graph'] = case.dygraph
    for label, backend, precision, options in variants:
        try:
            check_precision(backend, precision)
            predictor = create_predictor(case.model_dir, backend, precision, threads=threads,
                                         **options)
        except ValueError as e:
            notes[label] = f'skipped: {e}'
            continue
        out = predictor(*case.inputs)
        diffs[label] = (float(np.abs(out - reference).max()), _psnr(out, reference))
        if getattr(predictor, 'deleted_passes', None):
            notes[label] = 'removed: ' + ', '.join(predictor.deleted_passes)
        fns[label] = predictor
    if ceiling is not None:
        fns.update({ceiling.label(p): fn for p, fn in ceiling.runners.items()})
    ms = interleaved(fns, case.inputs, repeat)
    del fns
    rates = ceiling.rates(ms) if ceiling is not None else {}
    labels = (['dynamic graph'] if not case.skip_slow else []) + [v[0] for v in variants]
    if not case.skip_slow:
        shipped = shipped_onednn(case, threads, repeat, work)
        labels.insert(3, 'Paddle Inference, oneDNN as shipped (own process)')
        try:
            ms[labels[3]] = float(shipped)
        except ValueError:
            notes[labels[3]] = shipped
    base = ms[BASE]
    print(f'\n{case.name}  ({repeat} interleaved rounds)')
    print(f"  {'variant':<50} {'ms/image':>9} {'vs Paddle Inf.':>14} {'GFLOP/s':>8} "
          f"{'max |diff|':>10} {'PSNR':>8}   (diff, PSNR: against the dynamic graph)")
    for label in labels:
        note = notes.get(label, '')
        if label not in ms:
            print(f'  {label:<50} {"-":>9} {"":>14} {"":>8} {"":>10} {"":>8}  {note}')
            continue
        diff = diffs.get(label)
        diff_text = f'{diff[0]:10.2g} {diff[1]:6.1f}dB' if diff is not None else f'{"":>19}'
        rate = f'{case.gflop / ms[label] * 1000:8.0f}' if case.gflop else f'{"-":>8}'
        print(f'  {label:<50} {ms[label]:9.1f} {base / ms[label]:13.2f}x {rate} {diff_text}  '
              f'{note}')
    if rates:
        print('  plain-convolution ceiling in these rounds: ' + ', '.join(
            f'{p} {r:.0f} GFLOP/s' for p, r in rates.items()) + ''.join(
            f'; {p} skipped ({why})' for p, why in ceiling.skipped.items()))
    if case.gflop and rates:
        shares = [f'{label} {case.gflop / ms[label] * 1000 / rates[precision]:.0%}'
                  for label, precision in (('OpenVINO fp32', 'fp32'), ('OpenVINO bf16', 'bf16'))
                  if ms.get(label) and rates.get(precision)]
        print(f'  convolutions: {case.gflop:.1f} GFLOP per image; share of the ceiling: '
              f'{", ".join(shares) or "-"}')
    return {label: ms.get(label) for label in labels}, rates


def check_targets(results: dict, gflops: Optional[dict] = None,
                  ceilings: Optional[dict] = None) -> None:
    """Print each target with the measured value and whether it is met.

    With each case's convolution work (``gflops``, name -> GFLOP) and the
    plain-convolution ceiling of its rounds (``ceilings``, name ->
    {precision: GFLOP/s}), each target also shows the floor: the time the
    case's convolutions alone take at the rate plain 64-channel convolutions
    reached in the same rounds. A floor above the target means no graph of
    that net can meet it on this machine at that time.
    """
    print('\ntargets (2 threads, AMX Xeon class)')
    for prefix, label, limit in TARGETS:
        for name, rows in results.items():
            if not name.startswith(prefix):
                continue
            ms = rows.get(label)
            if ms is None:
                print(f'  {name}, {label} <= {limit:.0f} ms: skipped (not available here)')
                continue
            rate = ((ceilings or {}).get(name) or {}).get('bf16' if 'bf16' in label else 'fp32')
            gflop = (gflops or {}).get(name)
            floor = (f'; its convolutions alone at the ceiling: {gflop / rate * 1000:.0f} ms'
                     if rate and gflop else '')
            print(f"  {name}, {label} <= {limit:.0f} ms: {ms:.1f} ms "
                  f"{'met' if ms <= limit else 'NOT met'}{floor}")
    for name, rows in results.items():
        if name.startswith('TransposeSRResNet-64x16-x4') and rows.get('OpenVINO bf16'):
            ratio = rows[BASE] / rows['OpenVINO bf16']
            print(f"  {name}, OpenVINO bf16 >= {BF16_SPEEDUP_TARGET:.0f}x Paddle Inference "
                  f"fp32: {ratio:.1f}x {'met' if ratio >= BF16_SPEEDUP_TARGET else 'NOT met'}")


def quality(demo_dir: str, threads: int, work: str) -> None:
    """bf16 vs fp32 on the trained demo model (or a briefly trained net), held-out photos."""
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.backends import check_precision
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.deploy.model_dir import read_model_dir
    from ppgan_ext.apps.precision_check import compare_precisions
    from ppgan_ext.engine.brief_sr import train_brief_sr
    from ppgan_ext.sample_data import write_heldout_pairs

    try:
        check_precision('openvino', 'bf16')
    except ValueError as e:
        print(f'\nbf16 quality guard: skipped ({e})')
        return
    model_dir = os.path.join(demo_dir, 'inference_model')
    lq, gt = os.path.join(demo_dir, 'heldout_lq'), os.path.join(demo_dir, 'heldout_gt')
    source = 'the trained demo model (make demo) and its held-out inputs'
    try:
        usable = os.path.isdir(lq) and os.path.isdir(gt) \
            and read_model_dir(model_dir).onnx_file is not None
    except (OSError, ValueError):
        usable = False
    if not usable:
        trained = train_brief_sr(os.path.join(work, 'quality_train'), iters=400, batch=8)
        model_dir = os.path.join(work, 'quality_model')
        export_model(load_config(trained['config']), trained['weights'], model_dir,
                     parity_sizes=[(16, 16), (17, 23), (30, 32)])
        data = write_heldout_pairs(os.path.join(work, 'quality_data'), scale=2)
        lq, gt = data['lq'], data['gt']
        source = ('a TransposeSRResNet 16x2 x2 trained for 400 steps here (no demo_output '
                  'with an ONNX export); held-out photos chelsea, coffee, rocket')
    result = compare_precisions(model_dir, lq, gt, os.path.join(work, 'quality_out'),
                                threads=threads)
    print(f'\nbf16 quality guard on {source}:')
    print('  ' + result.table().replace('\n', '\n  '))
    print(f'  bf16 vs fp32 >= 40 dB: worst {result.min_bf16_vs_fp32:.2f} dB '
          f"{'met' if result.min_bf16_vs_fp32 >= 40 else 'NOT met'}; PSNR against ground truth "
          f'changes <= 0.05 dB: largest {result.max_psnr_change:.4f} dB '
          f"{'met' if result.max_psnr_change <= 0.05 else 'NOT met'}")


def tiled_memory(model_dir: str, tile: int, overlap: int, threads: int, work: str) -> None:
    """Peak RSS of `paddlegan infer --tile` on a 1024x1024 input (4096x4096 output)."""
    import cv2
    from skimage import data

    src = os.path.join(work, 'big1024.png')
    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(src, cv2.resize(img, (1024, 1024), interpolation=cv2.INTER_CUBIC))
    code = ("import sys, time; from ppgan_ext.cli import main; t = time.time(); "
            "rc = main(sys.argv[1:]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print('PEAK_KB', hwm.split()[1], 'SEC', time.time() - t); sys.exit(rc)")
    out_dir = os.path.join(work, 'tiled_out')
    proc = subprocess.run([sys.executable, '-c', code, 'infer', '--model_dir', model_dir,
                           '--input', src, '--output', out_dir, '--overwrite',
                           '--tile', str(tile), '--tile-overlap', str(overlap),
                           '--threads', str(threads)],
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    if proc.returncode != 0:
        print(f'\ntiled run failed: {proc.stderr.strip().splitlines()[-1:]}')
        return
    fields = proc.stdout.split('PEAK_KB')[1].split()
    peak_mib, seconds = int(fields[0]) / 1024, float(fields[2])
    out = cv2.imread(os.path.join(out_dir, 'big1024.png'))
    print(f'\ntiled x4, 1024x1024 -> {out.shape[1]}x{out.shape[0]}, tile {tile}, overlap '
          f'{overlap}: peak RSS {peak_mib:.0f} MiB (limit 2048), {seconds:.1f} s')


def main() -> int:
    args = ARGS or _parse([])
    work = args.work_dir or tempfile.mkdtemp(prefix='bench-infer-')
    os.makedirs(work, exist_ok=True)
    print(f'machine: {machine()}')
    print(f'threads: {args.threads}, repeat: {args.repeat} (LapStyle: {args.lapstyle_repeat})')
    try:
        cases = [
            sr_case('TransposeSRResNet-64x16-x4',
                    dict(name='TransposeSRResNet', num_feat=64, num_blocks=16, scale=4),
                    args.size, work),
            sr_case('demo-generator-32x4-x4',
                    dict(name='TransposeSRResNet', num_feat=32, num_blocks=4, scale=4,
                         norm='none', deconv_kernel=4, global_residual=True),
                    args.size, work),
        ]
        lapstyle = lapstyle_case(work, args.lapstyle_size, args.lapstyle_repeat)
        ceiling = ConvCeiling(args.threads)
        results, rates = {}, {}
        for case in cases + ([lapstyle] if lapstyle else []):
            case.skip_slow = args.skip_slow
            results[case.name], rates[case.name] = speed(case, args.threads, args.repeat, work,
                                                         ceiling)
        check_targets(results, {case.name: case.gflop for case in cases + [lapstyle] if case},
                      rates)
        if not args.skip_quality:
            quality(args.demo_dir, args.threads, work)
        if not args.skip_tiled:
            tiled_memory(cases[0].model_dir, args.tile, args.tile_overlap, args.threads, work)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
