"""Benchmark: time to result from the shell: one photo through `paddlegan infer`, every `--help`.

Each row is the wall time of a fresh process started from the shell (as a
user or a script calling the command per file would), the median of
``--repeat`` rounds; the rows of one round run one after the other, so they
share the machine's load. Rows:

* ``paddlegan infer`` on one 256x256 photo (x4: a 1024x1024 PNG) with
  ``--backend openvino`` and ``--backend onnxruntime``: first run (OpenVINO's
  compiled-model cache and ONNX Runtime's rewritten graph removed before each
  of these runs) and second run (caches filled); ONNX Runtime on the graph as
  exported (``PPGAN_EXT_ONNXRUNTIME_REWRITE=off``: what the sub-pixel rewrite
  gains); OpenVINO with ``--precision bf16`` (CPUs with native bf16) and
  ``int8`` (when the folder holds ``paddlegan quantize``'s graph), second run;
* ``paddlegan --help`` and ``paddlegan COMMAND --help`` for every command;
* for scale: ``python -c pass``, ``import ppgan_ext``, ``import onnxruntime``,
  ``import openvino``, ``import paddle``, ``import ppgan_ext`` + ppgan's
  registries (what training pays).

Goals (printed with the measured values): infer <= 1.0 s (first run
<= 1.5 s), every ``--help`` <= 0.5 s. The model is ``make demo``'s
(``demo_output/inference_model``) when present, else the demo config
exported with its initial weights (the speed does not depend on the values).

    python bench/startup.py [--repeat 5] [--threads 2]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

GOALS = {'infer': 1.0, 'infer first run': 1.5, 'help': 0.5}


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=5, help='rounds (default 5)')
    p.add_argument('--threads', type=int, default=2, help='OMP_NUM_THREADS (default 2)')
    p.add_argument('--model-dir', default=os.path.join(ROOT, 'demo_output', 'inference_model'),
                   help="exported SR folder (default: make demo's; exported when missing)")
    p.add_argument('--work-dir', default=None, help='keep files here (default: a temp folder)')
    return p.parse_args(argv)


CPU_SECONDS = {}   # row label -> CPU seconds (user + system) of each run


def wall(cmd, env, label=None) -> float:
    """Seconds from spawn to exit of ``cmd``; raises if it fails.

    The CPU seconds (user + system) the process used are kept in
    :data:`CPU_SECONDS` under ``label``: under load the wall time grows with
    the other processes, the CPU time much less.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-800:]}")
    if label is not None:
        CPU_SECONDS.setdefault(label, []).append(
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def prepare(args, work: str, env) -> tuple:
    """(model folder, 256x256 photo) for the infer rows."""
    import cv2

    from ppgan_ext.sample_data import sample_image

    photo = os.path.join(work, 'photo256.png')
    cv2.imwrite(photo, cv2.resize(cv2.cvtColor(sample_image('coffee'), cv2.COLOR_RGB2BGR),
                                  (256, 256), interpolation=cv2.INTER_AREA))
    model_dir = args.model_dir
    if not os.path.isfile(os.path.join(model_dir, 'ppgan_ext.json')):
        model_dir = os.path.join(work, 'demo_model')
        subprocess.run([sys.executable, '-m', 'ppgan_ext.cli', 'export', '-c',
                        os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml'),
                        '--output_dir', model_dir, '--no-parity'], env=env, check=True,
                       capture_output=True)
    return model_dir, photo


def main(argv=None) -> int:
    from ppgan_ext.cli import COMMANDS
    from ppgan_ext.deploy.backends import onnxruntime as ort_backend
    from ppgan_ext.deploy.backends.openvino import cache_dir_for
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name, int8_flags

    args = _parse(argv)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS=str(args.threads))
    for name in ('PPGAN_EXT_OPENVINO_CACHE', ort_backend.CACHE_ENV, ort_backend.REWRITE_ENV):
        env.pop(name, None)
    plain_env = dict(env, **{ort_backend.REWRITE_ENV: 'off'})
    load_before = os.getloadavg()
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_startup_')
    os.makedirs(work, exist_ok=True)
    model_dir, photo = prepare(args, work, env)
    py = [sys.executable]
    cli = py + ['-m', 'ppgan_ext.cli']
    caches = {'openvino': cache_dir_for(model_dir),
              'onnxruntime': os.path.join(model_dir, ort_backend.CACHE_DIR_NAME)}

    def infer(backend, precision='fp32'):
        return cli + ['infer', '--model_dir', model_dir, '--input', photo, '--output',
                      os.path.join(work, f'out_{backend}'), '--backend', backend, '--overwrite',
                      '--threads', str(args.threads), '--precision', precision]

    from ppgan_ext.deploy.cpu import native_bf16
    from ppgan_ext.deploy.model_dir import read_model_dir

    extra = (['bf16'] if native_bf16() else []) + \
        (['int8'] if read_model_dir(model_dir).int8_file else [])

    rows = {}
    for _ in range(args.repeat):
        for backend in ('openvino', 'onnxruntime'):
            if caches[backend] and os.path.isdir(caches[backend]):
                shutil.rmtree(caches[backend])
            for run in ('first', 'second'):
                label = f'infer {backend}, {run} run'
                rows.setdefault(label, []).append(wall(infer(backend), env, label))
        label = 'infer onnxruntime, graph as exported'
        rows.setdefault(label, []).append(wall(infer('onnxruntime'), plain_env, label))
        for precision in extra:   # OpenVINO, compiled-model cache filled by a first run
            wall(infer('openvino', precision), env)
            label = f'infer openvino {precision}, second run'
            rows.setdefault(label, []).append(wall(infer('openvino', precision), env, label))
        for command in [None] + list(COMMANDS):
            label = f"paddlegan {command + ' ' if command else ''}--help"
            rows.setdefault(label, []).append(
                wall(cli + ([command] if command else []) + ['--help'], env, label))
        for label, code in (('python -c pass', 'pass'),
                            ('import ppgan_ext', 'import ppgan_ext'),
                            ('import onnxruntime', 'import onnxruntime'),
                            ('import openvino', 'import openvino'),
                            ('import paddle', 'import paddle'),
                            ('import ppgan_ext + registries',
                             'import ppgan_ext; import ppgan.models.builder')):
            rows.setdefault(label, []).append(wall(py + ['-c', code], env, label))

    load = os.getloadavg()
    print(f'CPU: {cpu_name()}, {os.cpu_count()} logical cores (bf16: '
          f"{', '.join(bf16_flags()) or 'none'}; int8: {', '.join(int8_flags()) or 'none'}); "
          f'OMP_NUM_THREADS={args.threads}')
    print(f'load average (1 / 5 / 15 min): {load_before[0]:.1f} / {load_before[1]:.1f} / '
          f'{load_before[2]:.1f} at the start, {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at '
          f'the end (above {args.threads}: other processes shared the cores, times are high)')
    print(f'model: {model_dir}; photo: 256x256 -> 1024x1024; {args.repeat} rounds, the rows of '
          f'a round run one after the other; median and min wall time from the shell, median '
          f'CPU time (user + system, all threads) of the process\n')
    width = max(len(k) for k in rows)
    print(f"{'row':<{width}}  {'median':>7}  {'min':>6}  {'CPU':>6}  {'goal':>7}  verdict")
    verdicts = []
    for label, times in rows.items():
        median = statistics.median(times)
        goal = (GOALS['help'] if label.endswith('--help') else GOALS['infer first run']
                if 'first run' in label else GOALS['infer']
                if label.startswith('infer') and 'as exported' not in label else None)
        if goal is not None:
            verdicts.append(median <= goal)
        verdict = '' if goal is None else ('met' if median <= goal else 'NOT met')
        goal_text = f'<= {goal:.1f}' if goal is not None else ''
        cpu = statistics.median(CPU_SECONDS.get(label, [float('nan')]))
        print(f'{label:<{width}}  {median:6.2f}s  {min(times):5.2f}s  {cpu:5.2f}s  '
              f'{goal_text:>7}  {verdict}')
    plain = rows['infer onnxruntime, graph as exported']
    rewritten = rows['infer onnxruntime, second run']
    print(f'\nONNX Runtime, graph as exported / sub-pixel rewrite (second run): '
          f'{statistics.median(plain) / statistics.median(rewritten):.2f}x '
          f'(median of the per-round ratios '
          f'{statistics.median(p / r for p, r in zip(plain, rewritten)):.2f}x)')
    print(f'goals met: {sum(verdicts)} of {len(verdicts)}')
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
