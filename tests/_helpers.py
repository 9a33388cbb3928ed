"""Helpers shared by the tests: running tools/main.py for real, serving files on 127.0.0.1."""
import contextlib
import glob
import http.server
import os
import re
import subprocess
import sys
import threading
from typing import Dict, Iterator, List, Sequence, Tuple

import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, 'tools', 'main.py')
STOCK_SR = os.path.join(ROOT, 'tests', 'data', 'stock_esrgan_psnr_x4.yaml')


def load_script(relpath: str, name: str):
    """Import a script of the repository (e.g. ``bench/infer.py``) as module ``name``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_folder(root: str) -> Iterator[Tuple[str, str]]:
    """An HTTP server on 127.0.0.1 serving ``root``: yields (root, base URL)."""
    handler = lambda *a, **k: _QuietFiles(*a, directory=str(root), **k)   # noqa: E731
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield root, f'http://127.0.0.1:{httpd.server_address[1]}'
    finally:
        httpd.shutdown()
        httpd.server_close()


def env(**extra) -> Dict[str, str]:
    e = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    e.update(extra)
    return e


def write_sr_pairs(root: str, photos: dict, names: Sequence[str], size: int = 96,
                   scale: int = 4):
    """Crop ``size``x``size`` GT patches and their bicubic x``scale`` LQ into root/{gt,lq}."""
    gt_dir, lq_dir = os.path.join(root, 'gt'), os.path.join(root, 'lq')
    os.makedirs(gt_dir, exist_ok=True)
    os.makedirs(lq_dir, exist_ok=True)
    for name in names:
        img = photos[name]
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        gt = img[top:top + size, left:left + size]
        lq = cv2.resize(gt, (size // scale, size // scale), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(os.path.join(gt_dir, name + '.png'), gt)
        cv2.imwrite(os.path.join(lq_dir, name + '.png'), lq)
    return gt_dir, lq_dir


def stock_sr_opts(train, test=None) -> List[str]:
    """``-o`` overrides pointing the stock SR config at generated (gt, lq) folders, small batches."""
    (gt, lq), (tgt, tlq) = train, test or train
    return [f'dataset.train.gt_folder={gt}', f'dataset.train.lq_folder={lq}',
            f'dataset.test.gt_folder={tgt}', f'dataset.test.lq_folder={tlq}',
            'dataset.train.num_workers=0', 'dataset.train.batch_size=2',
            'dataset.train.preprocess.2.pipeline.0.gt_patch_size=32']


def run_main(args: List[str], cwd: str = ROOT, timeout: int = 300, launcher=None):
    cmd = [sys.executable] + (launcher or []) + [MAIN] + args
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=timeout)


def run_dirs(output_dir: str) -> List[str]:
    return sorted(d for d in glob.glob(os.path.join(output_dir, '*')) if os.path.isdir(d))


def logged(text: str, key: str) -> List[float]:
    """Values of ``key: <float>`` in ppgan's training log lines, in order."""
    return [float(v) for v in re.findall(rf'\b{re.escape(key)}: ([-+0-9.eE]+)', text)]


def logged_iters(text: str) -> List[int]:
    return [int(v) for v in re.findall(r'Iter: (\d+)/\d+', text)]


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (Linux /proc), 0 once it has exited."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def slope_per_step(xs, ys) -> float:
    """Least-squares slope of ys over xs."""
    import numpy as np
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])
