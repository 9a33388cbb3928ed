"""Run PaddleGAN's own configs for a few iterations through both entry points; print a table.

    python tools/check_stock_configs.py PADDLEGAN_DIR [--configs NAME ...] [--extra FILE ...]

``PADDLEGAN_DIR`` is a PaddleGAN source tree (``configs/`` and ``tools/main.py``;
use the release that matches the installed ppgan, e.g. ``git archive v2.1.0``).
Each config is copied with only what a small offline run needs changed:
``total_iters`` (``--iters``, default 2), snapshot/log/validation intervals,
batch size 1, no loader workers, and every data path pointed at small data
generated here from scikit-image's photos (one layout per dataset class).
The copy then runs through PaddleGAN's own ``tools/main.py`` (with only the
stand-in that lets ``ppgan`` import on Paddle 3) and through ours, each in a
fresh process. Nothing is downloaded (ours runs with ``PPGAN_EXT_OFFLINE=1``): a
model that needs a weight file that is not cached fails, and the table says so.

Prints a Markdown table (config, model, PaddleGAN's result, ours) and writes
the raw results to ``--json``.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OURS = os.path.join(ROOT, 'tools', 'main.py')
# PaddleGAN's tools/main.py with only the import stand-in ppgan 2.1.0 needs on Paddle 3
THEIRS = ("import runpy, sys; from ppgan_ext import compat; compat.apply(); "
          "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")

PATH_KEYS = ('dataroot', 'dataroot_a', 'dataroot_b', 'gt_folder', 'lq_folder', 'content_root',
             'style_root', 'rgb_dir', 'ann_file', 'inp_dir', 'filelists_path')


# ------------------------------------------------------------------ data
def _photos(size: int) -> List[np.ndarray]:
    from ppgan_ext.sample_data import sample_image

    out = []
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket'):
        img = cv2.cvtColor(sample_image(name), cv2.COLOR_RGB2BGR)
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        out.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
    return out


def _write(folder: str, images: List[np.ndarray], prefix: str = 'img') -> str:
    os.makedirs(folder, exist_ok=True)
    for i, img in enumerate(images):
        cv2.imwrite(os.path.join(folder, f'{prefix}{i:03d}.png'), img)
    return folder


def make_data(root: str, name: str, ds: dict) -> Optional[Dict[str, str]]:
    """Generate a small dataset for ppgan dataset class ``name``; return path overrides.

    None when there is no generator for the class (the row says so).
    """
    big = _photos(256)
    scale = int(ds.get('scale', 4) or 4)
    small = [cv2.resize(p, (256 // scale, 256 // scale), interpolation=cv2.INTER_CUBIC)
             for p in big]
    d = os.path.join(root, name)
    if name == 'SRDataset':
        return {'gt_folder': _write(f'{d}/gt', big), 'lq_folder': _write(f'{d}/lq', small)}
    if name == 'PairedDataset':
        return {'dataroot': _write(f'{d}/ab', [np.concatenate([a, b], axis=1)
                                               for a, b in zip(big, big[::-1])])}
    if name == 'UnpairedDataset':
        return {'dataroot_a': _write(f'{d}/a', big[:2]), 'dataroot_b': _write(f'{d}/b', big[2:])}
    if name in ('SingleDataset', 'AnimeGANV2Dataset'):
        return {'dataroot': _write(f'{d}/single', big)}
    if name == 'LapStyleDataset':
        _write(f'{d}/style', big[:1])
        return {'content_root': _write(f'{d}/content', big),
                'style_root': os.path.join(d, 'style', 'img000.png')}
    if name == 'StarGANv2Dataset':
        _write(f'{d}/domains/cat', big[:2])
        _write(f'{d}/domains/dog', big[2:])
        return {'dataroot': f'{d}/domains'}
    if name == 'MPRTrain' or name == 'MPRVal':
        _write(f'{d}/rgb/target', big)
        _write(f'{d}/rgb/input', [cv2.GaussianBlur(p, (9, 9), 3) for p in big])
        return {'rgb_dir': f'{d}/rgb'}
    if name == 'FirstOrderDataset':
        frame = ds.get('frame_shape', [256, 256, 3])
        for phase in ('train', 'test'):
            for v, img in enumerate(big[:2]):
                frames = [np.roll(cv2.resize(img, (frame[1], frame[0])), 4 * t, axis=1)
                          for t in range(4)]
                _write(f'{d}/fom/{phase}/video{v}', frames, 'frame')
        return {'dataroot': f'{d}/fom'}
    if name == 'REDSDataset':
        for v in ('001', '002'):
            for t in range(100):
                for kind, imgs in (('gt', big), ('lq', small)):
                    folder = f'{d}/reds/{kind}/{v}'
                    os.makedirs(folder, exist_ok=True)
                    cv2.imwrite(f'{folder}/{t:08d}.png', np.roll(imgs[int(v) % 4], t, axis=1))
        return {'gt_folder': f'{d}/reds/gt', 'lq_folder': f'{d}/reds/lq'}
    return None


# ------------------------------------------------------------------ configs
def _inner(ds: dict) -> dict:
    return ds['dataset'] if ds.get('name') == 'RepeatDataset' and 'dataset' in ds else ds


def small_config(cfg: dict, data_root: str, iters: int, out: str) -> Tuple[dict, str]:
    """The config with a short run on generated data; returns (config, note)."""
    cfg = dict(cfg)
    cfg.pop('epochs', None)
    cfg['total_iters'] = iters
    cfg['output_dir'] = out
    cfg['snapshot_config'] = dict(cfg.get('snapshot_config') or {}, interval=iters)
    cfg['log_config'] = dict(cfg.get('log_config') or {}, interval=1, visiual_interval=10 ** 6)
    if isinstance(cfg.get('validate'), dict):
        cfg['validate'] = dict(cfg['validate'], interval=iters)
    note = ''
    for split in ('train', 'test'):
        ds = (cfg.get('dataset') or {}).get(split)
        if not isinstance(ds, dict):
            continue
        ds = dict(ds)
        cfg['dataset'][split] = ds
        for key in ('batch_size', 'num_workers'):
            if key in ds:
                ds[key] = 1 if key == 'batch_size' else 0
        if ds.get('name') == 'RepeatDataset':
            ds['times'] = 1
            ds['dataset'] = dict(ds['dataset'])
        inner = _inner(ds)
        for key in ('num_repeats',):
            if key in inner:
                inner[key] = 1
        paths = make_data(data_root, str(inner.get('name')), inner)
        if paths is None:
            note = f"no generated data for {inner.get('name')}"
            continue
        for key in PATH_KEYS:
            if key in inner and key not in paths:
                paths.setdefault(key, inner[key])
        inner.update(paths)
    return cfg, note


# ------------------------------------------------------------------ running
def _outcome(proc, ours: bool, log: str = '', iters: int = 2, timeout: int = 0) -> str:
    if proc is None:
        if f'Iter: {iters}/{iters}' in log:
            return f'trains ({iters} iterations; validation cut by the {timeout} s limit)'
        return f'timed out ({timeout} s) before iteration {iters}'
    if proc.returncode == 0:
        return 'trains'
    err = proc.stderr.strip().splitlines()
    if ours:
        line = next((line for line in err if line.startswith('error:')), err[-1] if err else '')
        line = line[len('error: '):] if line.startswith('error: ') else line
    else:
        pattern = r'^\w[\w.]*(Error|Exception|Exit|Interrupt)\b'
        line = next((line for line in reversed(err) if re.match(pattern, line)),
                    err[-1] if err else f'exit {proc.returncode}')
    return f'fails (exit {proc.returncode}): {line.strip()[:240]}'


def run(cmd: List[str], timeout: int, cwd: str) -> Optional[subprocess.CompletedProcess]:
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1', PPGAN_EXT_OFFLINE='1')
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('paddlegan', help='PaddleGAN source tree (configs/, tools/main.py)')
    parser.add_argument('--configs', nargs='*', default=None,
                        help='config names under PADDLEGAN/configs (default: all)')
    parser.add_argument('--extra', nargs='*', default=[],
                        help='more config files (e.g. from other PaddleGAN releases)')
    parser.add_argument('--iters', type=int, default=2)
    parser.add_argument('--timeout', type=int, default=900, help='seconds per run')
    parser.add_argument('--work', default=None, help='work folder (default: a temporary one)')
    parser.add_argument('--json', default=None, help='write the results here too')
    parser.add_argument('--table-from', nargs='*', default=None, metavar='JSON',
                        help='print the table of earlier --json results and exit')
    args = parser.parse_args(argv)
    if args.table_from is not None:
        rows = {}
        for path in args.table_from:   # a later file's row for the same config wins
            with open(path) as f:
                rows.update((r['config'], r) for r in json.load(f))
        return print_table(list(rows.values()))

    theirs_main = os.path.join(args.paddlegan, 'tools', 'main.py')
    if not os.path.isfile(theirs_main):
        parser.error(f'{theirs_main} not found: PADDLEGAN must be a PaddleGAN source tree')
    folder = os.path.join(args.paddlegan, 'configs')
    names = args.configs or sorted(n for n in os.listdir(folder) if n.endswith('.yaml'))
    files = [os.path.join(folder, n if n.endswith('.yaml') else n + '.yaml') for n in names]
    files += args.extra
    work = args.work or tempfile.mkdtemp(prefix='stock-configs-')
    rows = []
    for path in files:
        label = os.path.relpath(path, args.paddlegan) if path.startswith(args.paddlegan) \
            else os.path.basename(os.path.dirname(path)) + '/' + os.path.basename(path)
        with open(path) as f:
            cfg = yaml.safe_load(f)
        stem = os.path.splitext(os.path.basename(path))[0]
        case = os.path.join(work, stem)
        os.makedirs(case, exist_ok=True)
        small, note = small_config(cfg, os.path.join(case, 'data'), args.iters,
                                   os.path.join(case, 'output'))
        config_file = os.path.join(case, os.path.basename(path))
        with open(config_file, 'w') as f:
            yaml.safe_dump(small, f, sort_keys=False)
        row = {'config': label, 'model': str(cfg.get('model', {}).get('name')), 'note': note}
        for who, cmd in (('paddlegan', [sys.executable, '-c', THEIRS, theirs_main]),
                         ('ours', [sys.executable, OURS])):
            start = time.time()
            outputs = os.path.join(case, 'output')
            before = set(os.listdir(outputs)) if os.path.isdir(outputs) else set()
            proc = run(cmd + ['-c', config_file, '--no-cuda'], args.timeout, case)
            log = ''
            for run_dir in set(os.listdir(outputs) if os.path.isdir(outputs) else ()) - before:
                path = os.path.join(outputs, run_dir, 'log.txt')
                if os.path.isfile(path):
                    with open(path, errors='replace') as f:
                        log += f.read()
            row[who] = _outcome(proc, who == 'ours', log, args.iters, args.timeout)
            row[f'{who}_seconds'] = round(time.time() - start, 1)
            if proc is not None:
                with open(os.path.join(case, f'{who}.log'), 'w') as f:
                    f.write(proc.stdout + '\n----- stderr -----\n' + proc.stderr)
        rows.append(row)
        print(f"{label}: PaddleGAN {row['paddlegan']} | ours {row['ours']}", file=sys.stderr,
              flush=True)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(rows, f, indent=1)
    return print_table(rows)


def _short(text: str) -> str:
    """A result cell without the noise of urllib3's connection errors."""
    return re.sub(r"HTTPSConnectionPool\(host='([^']+)'.*?url: (\S+).*",
                  r'cannot reach https://\1\2 (no network)', text)


def print_table(rows: List[dict]) -> int:
    """Print the Markdown table and a summary; 1 if a config trains only through PaddleGAN's."""
    print('| config | model | PaddleGAN `tools/main.py` | ppgan-ext `tools/main.py` |')
    print('|---|---|---|---|')
    for r in rows:
        cells = [_short(r['paddlegan']), _short(r['ours'])]
        if r['note']:
            cells = [f"{c} ({r['note']})" for c in cells]
        cells = [c.replace('|', '\\|') for c in cells]
        print(f"| {r['config']} | {r['model']} | {cells[0]} | {cells[1]} |")

    def trains(text):
        return text.startswith('trains')

    both = sum(trains(r['paddlegan']) and trains(r['ours']) for r in rows)
    only_theirs = [r['config'] for r in rows if trains(r['paddlegan']) and not trains(r['ours'])]
    print(f"\n{len(rows)} configs: {both} train through both, "
          f"{sum(trains(r['ours']) for r in rows)} through ours, "
          f"{sum(trains(r['paddlegan']) for r in rows)} through PaddleGAN's; "
          f"PaddleGAN's only: {', '.join(only_theirs) or 'none'}")
    return 1 if only_theirs else 0


if __name__ == '__main__':
    sys.exit(main())
