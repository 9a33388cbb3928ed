"""Find the oneDNN passes that break an exported model on CPU.

Runs the model through Paddle Inference with oneDNN, each attempt in its own
process (a broken pass may segfault), and compares it with oneDNN off:

1. oneDNN as Paddle ships it;
2. if that crashes, fails or gives other numbers: oneDNN with each candidate
   pass deleted in turn, keeping a deletion that changes the failure and
   stopping at the first set that runs and matches;
3. the set ppgan-ext deletes for this graph (``ppgan_ext.deploy.backends.paddle.build_config``).

    python tools/onednn_probe.py --model_dir inference_model/demo_x4
    python tools/onednn_probe.py --model_dir DIR --candidates "onednn|mkldnn|conv"

Candidates are the names ``Config.pass_builder().all_passes()`` lists with
oneDNN on (the names ``Config.delete_pass`` takes), filtered by ``--candidates``.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [[64, 64], [75, 97]]  # (H, W) of every input; large enough for pyramid models
sys.path.insert(0, ROOT)

_CHILD = r'''
import json, sys
import numpy as np
from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
from ppgan_ext.deploy.model_dir import read_model_dir
args = json.loads(sys.argv[1])
info = read_model_dir(args['model_dir'])
p = Predictor(info, threads=1, onednn=args['onednn'], delete_passes=args['delete'])
rng = np.random.default_rng(0)
outs = []
for h, w in args['sizes']:
    feeds = []
    for spec in info.inputs:
        shape = [d if d > 0 else 1 for d in (spec.get('shape') or [-1, 3, -1, -1])]
        shape[2:] = [h, w]
        feeds.append(rng.random(shape, dtype=np.float32))
    outs.append(p(*feeds))
np.savez(args['out'], *outs)
'''


def attempt(model_dir: str, onednn: bool, delete: Optional[List[str]], out: str):
    """(return code, last error line) of one child-process run."""
    payload = json.dumps(dict(model_dir=model_dir, onednn=onednn, delete=delete, out=out,
                              sizes=SIZES))
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', _CHILD, payload], env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stderr.splitlines() if 'Error' in ln or 'error' in ln]
    return proc.returncode, (lines[-1].strip()[:160] if lines else '')


def max_diff(a: str, b: str) -> float:
    import numpy as np

    x, y = np.load(a), np.load(b)
    return max(float(np.abs(x[k] - y[k]).max()) for k in x.files)


def candidate_passes(pattern: str) -> List[str]:
    from paddle import inference

    config = inference.Config()
    config.enable_mkldnn()
    names = list(dict.fromkeys(config.pass_builder().all_passes()))
    return [n for n in names if re.search(pattern, n)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model_dir', required=True)
    parser.add_argument('--candidates', default='.', metavar='REGEX',
                        help='only try deleting passes whose name matches (default: all)')
    parser.add_argument('--atol', type=float, default=1e-4)
    args = parser.parse_args(argv)

    import ppgan_ext  # noqa: F401
    from ppgan_ext.deploy.model_dir import read_model_dir
    from ppgan_ext.deploy.onednn import graph_ops, onednn_passes_to_delete

    info = read_model_dir(args.model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, 'ref.npz')
        rc, err = attempt(args.model_dir, False, None, ref)
        if rc != 0:
            print(f'oneDNN off: fails too (rc {rc}): {err}')
            return 1

        def run(delete: List[str], label: str):
            out = os.path.join(tmp, 'try.npz')
            rc, err = attempt(args.model_dir, True, delete, out)
            diff = max_diff(out, ref) if rc == 0 else None
            ok = rc == 0 and diff <= args.atol
            state = (f'ok, max diff {diff:.2g}' if ok else
                     f'wrong numbers, max diff {diff:.2g}' if rc == 0 else
                     'SEGFAULT' if rc in (-11, 139) else f'rc {rc}: {err}')
            print(f'{label:<60} {state}')
            return ok, (rc, err if rc else 'diff')

        deleted: List[str] = []
        ok, outcome = run([], 'oneDNN, all passes')
        for _ in range(3):  # a graph may need several deletions
            if ok:
                break
            progress = None
            for name in candidate_passes(args.candidates):
                if name in deleted:
                    continue
                tried, tried_outcome = run(deleted + [name], '  delete ' + ', '.join(
                    deleted + [name]))
                if tried:
                    ok, deleted = True, deleted + [name]
                    break
                if tried_outcome != outcome and progress is None:
                    progress = name  # the failure moved on: this pass was one culprit
            if ok or progress is None:
                break
            deleted.append(progress)
            ok, outcome = run(deleted, '  keep deleting ' + ', '.join(deleted))
        print(f'passes to delete: {deleted if ok else "none found"}')
        policy = onednn_passes_to_delete(graph_ops(info.model_file))
        run(policy, f'ppgan-ext policy: {policy}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
