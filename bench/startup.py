"""Benchmark: time to result from the shell: one photo through `paddlegan infer`, every `--help`.

Each row is the wall time of a fresh process started from the shell (as a
user or a script calling the command per file would), the median of
``--repeat`` rounds; the rows of one round run one after the other, so they
share the machine's load. Rows:

* ``paddlegan infer`` on one 256x256 photo (x4: a 1024x1024 PNG) with
  ``--backend openvino`` and ``--backend onnxruntime``: first run (OpenVINO's
  compiled-model cache emptied before each of these runs) and second run
  (cache filled); OpenVINO with ``--precision bf16`` (CPUs with native bf16)
  and ``int8`` (when the folder holds ``paddlegan quantize``'s graph), second
  run;
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


def wall(cmd, env) -> float:
    """Seconds from spawn to exit of ``cmd``; raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-800:]}")
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
    from ppgan_ext.deploy.backends.openvino import cache_dir_for
    from ppgan_ext.deploy.cpu import bf16_flags, cpu_name, int8_flags

    args = _parse(argv)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS=str(args.threads))
    env.pop('PPGAN_EXT_OPENVINO_CACHE', None)
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_startup_')
    os.makedirs(work, exist_ok=True)
    model_dir, photo = prepare(args, work, env)
    py = [sys.executable]
    cli = py + ['-m', 'ppgan_ext.cli']
    cache = cache_dir_for(model_dir)

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
            if backend == 'openvino' and cache and os.path.isdir(cache):
                shutil.rmtree(cache)
            rows.setdefault(f'infer {backend}, first run', []).append(wall(infer(backend), env))
            rows.setdefault(f'infer {backend}, second run', []).append(wall(infer(backend), env))
        for precision in extra:   # OpenVINO, compiled-model cache filled by a first run
            wall(infer('openvino', precision), env)
            rows.setdefault(f'infer openvino {precision}, second run', []).append(
                wall(infer('openvino', precision), env))
        for command in [None] + list(COMMANDS):
            label = f"paddlegan {command + ' ' if command else ''}--help"
            rows.setdefault(label, []).append(
                wall(cli + ([command] if command else []) + ['--help'], env))
        for label, code in (('python -c pass', 'pass'),
                            ('import ppgan_ext', 'import ppgan_ext'),
                            ('import onnxruntime', 'import onnxruntime'),
                            ('import openvino', 'import openvino'),
                            ('import paddle', 'import paddle'),
                            ('import ppgan_ext + registries',
                             'import ppgan_ext; import ppgan.models.builder')):
            rows.setdefault(label, []).append(wall(py + ['-c', code], env))

    load = os.getloadavg()
    print(f'CPU: {cpu_name()}, {os.cpu_count()} logical cores (bf16: '
          f"{', '.join(bf16_flags()) or 'none'}; int8: {', '.join(int8_flags()) or 'none'}); "
          f'OMP_NUM_THREADS={args.threads}; load average at the end {load[0]:.1f} / '
          f'{load[1]:.1f} / {load[2]:.1f} (other processes share the machine when it is '
          f'above the thread count)')
    print(f'model: {model_dir}; photo: 256x256 -> 1024x1024; median of {args.repeat} rounds\n')
    width = max(len(k) for k in rows)
    verdicts = []
    for label, times in rows.items():
        median = statistics.median(times)
        goal = (GOALS['help'] if label.endswith('--help') else GOALS['infer first run']
                if 'first run' in label else GOALS['infer'] if label.startswith('infer') else None)
        mark = '' if goal is None else (f'  goal <= {goal:.1f} s: '
                                        + ('met' if median <= goal else 'NOT met'))
        if goal is not None:
            verdicts.append(median <= goal)
        print(f'{label:<{width}}  {median:6.2f} s  (min {min(times):.2f} s){mark}')
    print(f'\ngoals met: {sum(verdicts)} of {len(verdicts)}')
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
