"""``degrade`` / ``infer`` / ``stylize`` killed mid-folder: no partial outputs, reruns finish."""
import hashlib
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from _export_helpers import export_tiny_sr
from _helpers import ROOT, env

CLI = [sys.executable, '-m', 'ppgan_ext.cli']


def write_images(folder, count: int, sizes=((40, 56),)):
    """``count`` PNGs of real photo crops in ``folder`` (two sub-folders), sizes cycling."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        top, left = rng.integers(0, 512 - h), rng.integers(0, 512 - w)
        sub = os.path.join(folder, f'part{i % 2}')
        os.makedirs(sub, exist_ok=True)
        cv2.imwrite(os.path.join(sub, f'img{i:04d}.png'), photo[top:top + h, left:left + w])


def listing(folder):
    """{relative path: (sha256, mtime_ns)} of the visible files; hidden ones separately."""
    files, hidden = {}, []
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            if name.startswith('.'):
                hidden.append(name)
                continue
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            files[os.path.relpath(path, folder)] = (digest, os.stat(path).st_mtime_ns)
    return files, hidden


def decodes(path: str) -> bool:
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    return img is not None and img.size > 0


def kill_when(args, out_dir, count: int, timeout: float = 120):
    """Run ``args``; SIGKILL it once ``out_dir`` holds ``count`` PNGs. Returns the PNG count."""
    proc = subprocess.Popen(args, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    seen = 0
    try:
        while time.time() < deadline and proc.poll() is None:
            if os.path.isdir(out_dir):
                seen = sum(n.endswith('.png') and not n.startswith('.')
                           for _, _, names in os.walk(out_dir) for n in names)
                if seen >= count:
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.002)
        err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f'finished before the kill: {err[-2000:]}'
    return seen, proc.pid


def check_killed_then_rerun(args, out_dir, total: int, reference: dict, capsys_text):
    killed_at, pid = kill_when(args, out_dir, count=total // 5)
    after_kill, hidden = listing(out_dir)
    # what a kill in the middle of a write leaves (the temporary name atomic_write uses)
    with open(os.path.join(out_dir, 'part0', f'.tmp-{pid}-x1y2z3.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n partial')
    assert killed_at <= len(after_kill) < total
    for rel in after_kill:   # every visible output is whole
        assert decodes(os.path.join(out_dir, rel)), rel
        assert after_kill[rel][0] == reference[rel][0], rel
    proc = subprocess.run(args, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=180)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert 'Traceback' not in text
    final, hidden_after = listing(out_dir)
    assert not hidden_after          # the killed writer's temporary file is gone
    assert {k: v[0] for k, v in final.items()} == {k: v[0] for k, v in reference.items()}
    for rel, (digest, mtime) in after_kill.items():   # finished outputs untouched
        assert final[rel][1] == mtime, rel
    capsys_text.append((len(after_kill), len(hidden), text))
    return len(after_kill)


def test_degrade_killed_mid_folder_then_rerun(tmp_path):
    from ppgan_ext.cli import main

    src, dst, ref = tmp_path / 'src', tmp_path / 'dst', tmp_path / 'ref'
    total = 400
    write_images(str(src), total, sizes=((96, 96), (80, 112)))
    assert main(['degrade', str(src), str(ref), '--blur', '7']) == 0
    reference, _ = listing(str(ref))
    assert len(reference) == total
    runs = []
    done = check_killed_then_rerun(CLI + ['degrade', str(src), str(dst), '--blur', '7'],
                                   str(dst), total, reference, runs)
    assert f'{total - done} written, {done} skipped (already in DST), 0 bad' in runs[0][2]
    print(f'degrade: killed with {done}/{total} outputs ({runs[0][1]} temporary file left); '
          f'rerun wrote {total - done}')


@pytest.fixture(scope='module')
def sr_model(tmp_path_factory):
    return export_tiny_sr(str(tmp_path_factory.mktemp('killed_model')), seed=3)


def test_infer_killed_mid_folder_then_rerun(tmp_path, sr_model):
    from ppgan_ext.apps.infer import infer

    src, out, ref = tmp_path / 'src', tmp_path / 'out', tmp_path / 'ref'
    total = 200
    write_images(str(src), total, sizes=((24, 32),))
    infer(sr_model, str(src), str(ref), threads=1)
    reference, _ = listing(str(ref))
    assert len(reference) == total
    runs = []
    done = check_killed_then_rerun(CLI + ['infer', '--model_dir', sr_model, '--input', str(src),
                                          '--output', str(out)], str(out), total, reference,
                                   runs)
    assert f'wrote {total - done} image(s)' in runs[0][2]
    assert f'kept {done} existing' in runs[0][2]
    print(f'infer: killed with {done}/{total} outputs ({runs[0][1]} temporary file left); '
          f'rerun wrote {total - done}')


def test_stylize_file_loop_writes_atomically_and_skips_unreadable(tmp_path):
    """stylize's file loop (reruns and --overwrite: tests/test_lapstyle_export.py)."""
    from ppgan_ext.apps.stylizer import stylize_files

    src = tmp_path / 'src'
    write_images(str(src), 3, sizes=((24, 20),))
    os.symlink('nowhere.png', src / 'dangling.png')
    pairs = [(os.path.join(src, f'part{i % 2}', f'img{i:04d}.png'),
              os.path.join(tmp_path, 'out', f'img{i:04d}.png')) for i in range(3)]
    bad = [(str(src / 'dangling.png'), str(tmp_path / 'out' / 'dangling.png'))]

    def invert(content, style):   # any (content, style) -> image callable
        return 1.0 - content

    style = np.zeros((1, 3, 32, 32), np.float32)
    skipped = stylize_files(pairs[:1] + bad + pairs[1:], style, invert)
    assert len(skipped) == 1 and 'dangling.png' in skipped[0] and 'No such file' in skipped[0]
    out, hidden = listing(str(tmp_path / 'out'))
    assert not hidden and sorted(out) == ['img0000.png', 'img0001.png', 'img0002.png']
    for src_path, dst in pairs:
        np.testing.assert_array_equal(cv2.imread(dst), 255 - cv2.imread(src_path))
    # the last file left of a folder is still skipped (strict=False), a lone file raises
    assert len(stylize_files(bad, style, invert, strict=False)) == 1
    with pytest.raises(ValueError, match='dangling.png'):
        stylize_files(bad, style, invert)


@pytest.mark.e2e
def test_only_dead_writers_temporary_files_are_removed(tmp_path):
    from ppgan_ext.utils import atomic_write, remove_stale_temp_files, scan_images

    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    (tmp_path / 'sub').mkdir()
    stale = tmp_path / 'sub' / f'.tmp-{dead.pid}-abc.png'
    live = tmp_path / f'.tmp-{os.getpid()}-def.png'
    other = tmp_path / '.tmp-notapid.png'
    for path in (stale, live, other):
        path.write_bytes(b'partial')
    atomic_write(str(tmp_path / 'real.png'),
                 lambda tmp: cv2.imwrite(tmp, np.zeros((4, 4), np.uint8)))
    assert scan_images(str(tmp_path)) == [str(tmp_path / 'real.png')]
    assert remove_stale_temp_files(str(tmp_path)) == [str(stale)]
    assert live.exists() and other.exists() and not stale.exists()
