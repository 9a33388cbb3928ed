"""The README's quick start runs as written, and says what it writes."""
import csv
import glob
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from _helpers import ROOT, env

BEGIN, END = '<!-- quickstart:begin -->', '<!-- quickstart:end -->'


def quickstart_script() -> str:
    """The bash block between the README's quick-start markers."""
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    match = re.search(r'```bash\n(.*?)```', block, re.S)
    assert match, 'the quick start has no bash block'
    return match.group(1)


def test_quickstart_activates_the_venv_and_uses_its_own_folders():
    script = quickstart_script()
    assert script.splitlines()[0] == 'source .venv/bin/activate'
    outputs = re.findall(r'(?:output_dir=|--output-dir |--output |paddlegan degrade \S+ |'
                         r'sample_photos.py )(\S+)', script)
    assert outputs and all(o.startswith('quickstart/') for o in outputs)
    assert len(set(outputs)) == len(outputs)   # one folder per step


@pytest.mark.e2e
def test_quickstart_walk_runs_as_written(tmp_path):
    """In a fresh folder holding only the repository's configs and tools, with the test's
    Python environment standing in for .venv."""
    for name in ('configs', 'tools'):
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    venv_bin = tmp_path / '.venv' / 'bin'
    venv_bin.mkdir(parents=True)
    (venv_bin / 'activate').write_text(
        f'export PATH={os.path.dirname(sys.executable)}:$PATH\n')
    proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', quickstart_script()],
                          cwd=tmp_path, env=env(PPGAN_EXT_CACHE=str(tmp_path / 'cache')),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / 'quickstart'
    assert glob.glob(str(out / 'train' / '*' / 'iter_100_weight.pdparams'))
    assert (out / 'model' / 'ppgan_ext.json').is_file()
    test_photos = sorted(os.listdir(tmp_path / 'data' / 'saltpepper' / 'test'))
    assert sorted(os.listdir(out / 'degraded')) == test_photos
    rows = list(csv.DictReader(open(out / 'restored' / 'metrics.csv')))
    assert [r['image'] for r in rows] == test_photos + ['mean']
    assert all(15 < float(r['psnr']) < 40 for r in rows)
    for name in test_photos:   # x4 of the degraded input
        lq = cv2.imread(str(out / 'degraded' / name))
        sr = cv2.imread(str(out / 'restored' / name))
        assert sr.shape == (4 * lq.shape[0], 4 * lq.shape[1], 3)
    contents = sorted(os.listdir(tmp_path / 'data' / 'lapstyle_tiny' / 'content'))
    stylized = sorted(os.listdir(out / 'stylized'))
    assert [os.path.splitext(n)[0] for n in stylized] == \
        [os.path.splitext(n)[0] for n in contents]
    for name in ('chelsea', 'astronaut'):   # Magenta's stylization, upscaled x2
        photo = cv2.imread(str(out / 'photos' / f'{name}.png'))
        art = cv2.imread(str(out / 'magenta' / f'{name}.png'))
        assert art.shape == (2 * photo.shape[0], 2 * photo.shape[1], 3)
        small = cv2.resize(art, photo.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert 5 < np.abs(small.astype(float) - photo).mean() and art.std() > 10
    for name in test_photos:
        lq = cv2.imread(str(out / 'degraded' / name))
        assert cv2.imread(str(out / 'realesrgan' / name)).shape == \
            (4 * lq.shape[0], 4 * lq.shape[1], 3)
