"""``paddlegan degrade SRC DST`` through ppgan_ext.cli.main."""
import hashlib
import os

import cv2
import numpy as np
import pytest
from skimage import data

from ppgan_ext.cli import build_parser, main
from ppgan_ext.cli.degrade import file_seed
from ppgan_ext.degradations import degrade, mod_crop
from ppgan_ext.image_io import read_image


def tree_digest(folder):
    """{relative path: sha256} of every file under ``folder``."""
    out = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture
def src(tmp_path):
    root = tmp_path / 'src'
    (root / 'sub' / 'deeper').mkdir(parents=True)
    astronaut = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(root / 'astronaut.png'), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / 'sub' / 'coffee.jpg'),
                cv2.cvtColor(cv2.resize(data.coffee(), (90, 60)), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / 'sub' / 'deeper' / 'camera.tif'),
                cv2.resize(data.camera(), (50, 70)).astype(np.uint16) * 257)
    (root / 'notes.txt').write_text('not an image, not picked up')
    return str(root)


def run_cli(capsys, *args):
    rc = main(['degrade', *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


EXPECTED = {'astronaut.png', os.path.join('sub', 'coffee.png'),
            os.path.join('sub', 'deeper', 'camera.png')}


def test_writes_degraded_pngs_and_leaves_src_alone(src, tmp_path, capsys):
    before = tree_digest(src)
    dst = tmp_path / 'dst'
    rc, out, err = run_cli(capsys, src, dst, '--prob', 0.2, '--blur', 3, '--seed', 7)
    assert rc == 0
    assert set(tree_digest(dst)) == EXPECTED
    assert tree_digest(src) == before
    assert '3 written, 0 skipped (already in DST), 0 bad' in out
    assert 'degrade' in err   # progress bar on stderr
    # each output is exactly degrade() of its source with the per-file seed
    for rel in ('astronaut.png', os.path.join('sub', 'coffee.jpg'),
                os.path.join('sub', 'deeper', 'camera.tif')):
        img = read_image(os.path.join(src, rel))
        expected = degrade(img, np.random.default_rng(file_seed(7, rel)), prob=0.2, blur=3)
        written = cv2.imread(str(dst / (os.path.splitext(rel)[0] + '.png')), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(cv2.cvtColor(written, cv2.COLOR_BGR2RGB), expected)


def test_deterministic_whatever_the_order_and_jobs(src, tmp_path, capsys):
    assert run_cli(capsys, src, tmp_path / 'a', '--seed', 3)[0] == 0
    assert run_cli(capsys, src, tmp_path / 'b', '--seed', 3, '--jobs', 3)[0] == 0
    assert run_cli(capsys, src, tmp_path / 'c', '--seed', 4)[0] == 0
    a, b, c = (tree_digest(tmp_path / n) for n in 'abc')
    assert a == b
    assert all(a[k] != c[k] for k in a)


def test_scale_and_ranges(src, tmp_path, capsys):
    dst = tmp_path / 'dst'
    rc, out, _ = run_cli(capsys, src, dst, '--scale', 4, '--prob', '0.05,0.2', '--blur', '1,5',
                         '--per-channel')
    assert rc == 0
    img = cv2.imread(str(dst / 'sub' / 'coffee.png'))
    assert img.shape == (60 // 4, 88 // 4, 3)        # 90 wide -> mod-crop 88 -> 22
    expected = degrade(mod_crop(read_image(os.path.join(src, 'sub', 'coffee.jpg')), 4),
                       np.random.default_rng(file_seed(0, os.path.join('sub', 'coffee.jpg'))),
                       prob=[0.05, 0.2], blur=[1, 5], per_channel=True, scale=4)
    np.testing.assert_array_equal(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), expected)


def test_rerun_skips_and_overwrite_rewrites(src, tmp_path, capsys):
    dst = tmp_path / 'dst'
    assert run_cli(capsys, src, dst)[0] == 0
    target = dst / 'astronaut.png'
    good = target.read_bytes()
    target.write_bytes(b'stale')
    rc, out, _ = run_cli(capsys, src, dst)
    assert rc == 0 and '0 written, 3 skipped (already in DST)' in out
    assert target.read_bytes() == b'stale'
    rc, out, _ = run_cli(capsys, src, dst, '--overwrite')
    assert rc == 0 and '3 written, 0 skipped' in out
    assert target.read_bytes() == good
    assert not [n for n in os.listdir(dst) if n.startswith('.tmp')]


def test_dst_inside_or_equal_to_src_is_refused(src, tmp_path, capsys):
    before = tree_digest(src)
    for dst in (os.path.join(src, 'out'), src, os.path.join(src, 'sub')):
        rc, out, err = run_cli(capsys, src, dst)
        assert rc == 2
        assert err.startswith('error: DST') and err.count('\n') == 1
    # SRC inside DST: outputs could land on source files
    rc, _, err = run_cli(capsys, src, tmp_path)
    assert rc == 2 and 'contains SRC' in err
    assert tree_digest(src) == before
    assert not os.path.exists(os.path.join(src, 'out'))


def test_bad_files_are_skipped_and_summarised(src, tmp_path, capsys):
    with open(os.path.join(src, 'astronaut.png'), 'rb') as f:
        png = f.read()
    with open(os.path.join(src, 'sub', 'broken.png'), 'wb') as f:
        f.write(png[:len(png) // 3])
    with open(os.path.join(src, 'text.jpg'), 'w') as f:
        f.write('hello')
    # same output name as astronaut.png
    cv2.imwrite(os.path.join(src, 'astronaut.bmp'), np.zeros((8, 8, 3), np.uint8))
    dst = tmp_path / 'dst'
    rc, out, err = run_cli(capsys, src, dst)
    assert rc == 0
    assert '3 written, 0 skipped (already in DST), 3 bad (skipped)' in out
    summary = out.splitlines()[-1]
    assert summary.startswith('bad files: ')
    for name in (os.path.join('sub', 'broken.png'), 'text.jpg', 'astronaut.bmp'):
        assert name in summary
    assert 'warning: skipping text.jpg' in err
    assert set(tree_digest(dst)) == EXPECTED


def test_missing_empty_and_unreadable_src(tmp_path, capsys):
    rc, _, err = run_cli(capsys, tmp_path / 'nope', tmp_path / 'dst')
    assert rc == 2 and err.startswith('error: SRC') and 'does not exist' in err
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'a.txt').write_text('x')
    rc, _, err = run_cli(capsys, empty, tmp_path / 'dst')
    assert rc == 2 and 'no image files' in err and err.count('\n') == 1
    (empty / 'a.png').write_text('x')
    rc, out, err = run_cli(capsys, empty, tmp_path / 'dst')
    assert rc == 1 and 'none of the 1 image files' in err and 'a.png' in out
    assert not (tmp_path / 'dst').exists() or not os.listdir(tmp_path / 'dst')


@pytest.mark.parametrize('args, key', [
    (['--prob', '1.5'], '--prob'),
    (['--prob', '0.3,0.1'], 'min > max'),
    (['--blur', '-1'], '--blur'),
    (['--scale', '0'], '--scale'),
    (['--salt-ratio', '2'], '--salt-ratio'),
])
def test_bad_options(src, tmp_path, capsys, args, key):
    rc, _, err = run_cli(capsys, src, tmp_path / 'dst', *args)
    assert rc == 2 and err.startswith('error:') and key in err
    assert not os.path.exists(tmp_path / 'dst')


def test_listed_in_paddlegan_help():
    help_text = build_parser().format_help()
    assert 'degrade' in help_text
