"""One training process with every core vs data-parallel processes of one thread each.

Trains the demo recipe (``configs/demo_saltpepper_x4.yaml``, global batch 8)
for ``--iters`` iterations through ppgan's Trainer, alternately in one process
(Paddle's default threads) and in ``--procs`` processes under
``paddle.distributed.launch`` (``tools/demo.py``'s way), ``--rounds`` times, and
prints the median seconds per iteration each way (from the Trainer's logged
``batch_cost``), the wall time with start-up, and the ratio. Interleaving the
rounds keeps the comparison fair on a machine whose speed drifts.

Usage::

    python bench/train_procs.py                  # 200 iterations, 2 rounds
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import demo  # noqa: E402
from ppgan_ext.sample_data import build_sr_split  # noqa: E402


def batch_costs(run_dir: str):
    """The Trainer's logged seconds per iteration, without the first interval (warm-up)."""
    with open(os.path.join(run_dir, 'log.txt')) as f:
        costs = [float(v) for v in re.findall(r'batch_cost: ([0-9.]+)', f.read())]
    return costs[1:] or costs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml'))
    p.add_argument('--iters', type=int, default=200)
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--procs', type=int, default=2)
    args = p.parse_args(argv)
    if args.iters < 100:
        raise SystemExit('--iters must be >= 100 (the Trainer logs every 50 iterations)')

    with tempfile.TemporaryDirectory() as tmp:
        split = build_sr_split(os.path.join(tmp, 'data'))
        results = {1: ([], []), args.procs: ([], [])}
        for r in range(args.rounds):
            for procs in results:
                out = os.path.join(tmp, f'run{r}_{procs}')
                overrides = [f"dataset.train.gt_folder={split['train']}",
                             f"dataset.test.gt_folder={split['test']}", f'output_dir={out}',
                             'log_config.interval=50'] + demo.iterations(args.iters)
                start = time.time()
                weights = demo.train(args.config, overrides, procs)
                wall = time.time() - start
                costs = batch_costs(os.path.dirname(weights))
                results[procs][0].append(statistics.median(costs))
                results[procs][1].append(wall)
                print(f'round {r + 1}, {procs} process(es): {statistics.median(costs):.3f} s '
                      f'per iteration, {wall:.1f} s with start-up', flush=True)

    print(f'\n{args.iters} iterations of {os.path.basename(args.config)} (global batch as '
          f'configured), {os.cpu_count()} cores, median over {args.rounds} interleaved rounds\n')
    print('| processes x threads | s / iteration | wall s (with start-up) |')
    print('|---|---|---|')
    rows = {}
    for procs, (costs, walls) in results.items():
        rows[procs] = statistics.median(costs), statistics.median(walls)
        label = f'1 x {os.cpu_count()}' if procs == 1 else f'{procs} x 1'
        print(f'| {label} | {rows[procs][0]:.3f} | {rows[procs][1]:.1f} |')
    one, many = rows[1], rows[args.procs]
    print(f'\nspeed-up of {args.procs} processes: {one[0] / many[0]:.2f}x per iteration, '
          f'{one[1] / many[1]:.2f}x wall')
    return 0


if __name__ == '__main__':
    sys.exit(main())
