"""End to end through tools/main.py and paddlegan: train, chain draft -> level 1 -> 2, stylize."""
import glob
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest

import ppgan_ext  # noqa: F401
from ppgan_ext.datasets.lapstyle_dataset import write_lapstyle_samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml')


def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return env


def run_main(cwd, *overrides, check=True):
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'main.py'), '-c', TINY, '--no-cuda',
           '--seed', '0', '-o'] + list(overrides)
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def weight_file(out_dir, iters):
    found = glob.glob(os.path.join(out_dir, '*', f'iter_{iters}_weight.pdparams'))
    assert len(found) == 1, found
    return found[0]


def logged(out_dir, key):
    log = glob.glob(os.path.join(out_dir, '*', 'log.txt'))[0]
    with open(log) as f:
        return [float(v) for v in re.findall(rf'\b{key}: ([0-9.]+)', f.read())]


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp('lapstyle_run')
    write_lapstyle_samples(str(root / 'data' / 'lapstyle_tiny'), size=80)
    return root


@pytest.fixture(scope='module')
def draft_run(work):
    out = str(work / 'draft')
    run_main(work, f'output_dir={out}', 'total_iters=40', 'log_config.interval=1',
             'validate.interval=40', 'snapshot_config.interval=40', 'dataset.train.seed=0')
    return out


def test_draft_training_lowers_the_style_loss(draft_run):
    style = logged(draft_run, 'loss_s')
    assert len(style) == 40 and all(np.isfinite(style))
    first, last = np.mean(style[:5]), np.mean(style[-5:])
    assert last < 0.5 * first, (first, last)
    # validation ran with the configured metrics and wrote content | style | stylized panels
    with open(glob.glob(os.path.join(draft_run, '*', 'log.txt'))[0]) as f:
        text = f.read()
    assert re.search(r'Metric style_loss: [0-9.]+', text)
    assert re.search(r'Metric content_loss: [0-9.]+', text)
    panels = glob.glob(os.path.join(draft_run, '*', 'visual_test', '*_panel.png'))
    assert len(panels) == 5
    assert cv2.imread(panels[0]).shape == (32, 96, 3)


@pytest.mark.e2e
def test_checkpoints_chain_draft_level1_level2_and_stylize(work, draft_run):
    draft_w = weight_file(draft_run, 40)
    rev1 = str(work / 'rev1')
    # a glob pattern in the config value picks the draft run's file
    run_main(work, f'output_dir={rev1}', 'total_iters=4', 'validate.interval=4',
             'model.stage=revision', 'model.levels=1',
             f"model.draft_weights={os.path.join(draft_run, '*', 'iter_40_weight.pdparams')}")
    rev1_w = weight_file(rev1, 4)
    rev2 = str(work / 'rev2')
    run_main(work, f'output_dir={rev2}', 'total_iters=3', 'validate.interval=3',
             'log_config.interval=1',
             'model.stage=revision', 'model.levels=2', f'model.draft_weights={draft_w}',
             f'model.revision_weights=[{rev1_w}]', 'model.emd_layers=[r41]',
             'dataset.train.crop_size=64', 'dataset.train.load_size=72',
             'dataset.test.crop_size=64', 'dataset.test.load_size=72')
    rev2_w = weight_file(rev2, 3)
    d, r1, r2 = (paddle.load(p, return_numpy=True) for p in (draft_w, rev1_w, rev2_w))
    assert sorted(k for k in r2 if isinstance(r2[k], dict)) == \
        ['netD', 'net_dec', 'net_enc', 'net_rev', 'net_rev_2']
    for key in d['net_dec']:  # the frozen levels pass through unchanged
        np.testing.assert_array_equal(r2['net_dec'][key], d['net_dec'][key])
        np.testing.assert_array_equal(r1['net_dec'][key], d['net_dec'][key])
    for key in r1['net_rev']:
        np.testing.assert_array_equal(r2['net_rev'][key], r1['net_rev'][key])
    for key in d['net_enc']:
        np.testing.assert_array_equal(r2['net_enc'][key], d['net_enc'][key])
    assert logged(rev2, 'loss_gan_G')

    # stylize odd-sized images at their own size with the 2-level pyramid
    src = work / 'photos'
    src.mkdir()
    rng = np.random.default_rng(0)
    sizes = {'a.png': (101, 77), 'b.jpg': (45, 130), 'sub/c.png': (20, 21)}
    for name, (h, w) in sizes.items():
        os.makedirs(os.path.dirname(src / name), exist_ok=True)
        cv2.imwrite(str(src / name), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    (src / 'broken.png').write_bytes(b'xx')
    out = work / 'stylized'
    proc = subprocess.run([sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--content', str(src),
                           '--style', str(work / 'data/lapstyle_tiny/style/gravel.png'),
                           '--weights', rev2_w, '--output', str(out), '--no-cuda'],
                          cwd=work, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'stylized 3 image(s)' in proc.stdout and '(2 revision level(s))' in proc.stdout
    assert 'skipped 1 unreadable file(s)' in proc.stdout
    for name, (h, w) in sizes.items():
        img = cv2.imread(str(out / (os.path.splitext(name)[0] + '.png')))
        assert img.shape == (h, w, 3) and img.std() > 0, name

    # more levels than the weights hold: one error line
    proc = subprocess.run([sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--content',
                           str(src / 'a.png'), '--style', str(src / 'a.png'), '--weights', draft_w,
                           '--levels', '1', '--output', str(out), '--no-cuda'],
                          cwd=work, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith('error: --levels 1: ')


@pytest.mark.e2e
def test_stylize_refuses_to_overwrite_its_sources(work, draft_run, tmp_path):
    cv2.imwrite(str(tmp_path / 'p.png'), np.zeros((40, 40, 3), np.uint8))
    proc = subprocess.run([sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--content',
                           str(tmp_path), '--style', str(tmp_path / 'p.png'),
                           '--weights', weight_file(draft_run, 40), '--output', str(tmp_path),
                           '--no-cuda'],
                          cwd=work, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert 'would overwrite an input image' in proc.stderr
    assert cv2.imread(str(tmp_path / 'p.png')).max() == 0


@pytest.mark.e2e
def test_corrupt_vgg_file_is_one_clear_error_line(work, tmp_path):
    bad = tmp_path / 'vgg_normalised.pdparams'
    bad.write_bytes(b'\x80\x02}q\x00(X\x08')  # a truncated pickle
    proc = run_main(work, f'output_dir={tmp_path}/out', 'model.encoder_generator.random_init=false',
                    'model.encoder_generator.base_channels=64',
                    'model.draft_generator.base_channels=64',
                    f'model.encoder_generator.weights_path={bad}', check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith('error:')]
    assert len(lines) == 1
    assert str(bad) in lines[0] and 'truncated or corrupt' in lines[0]
    assert 'vgg_normalised.pdparams' in lines[0] and 'weights_path' in lines[0]


@pytest.mark.e2e
def test_data_parallel_training_with_frozen_nets(work, draft_run):
    """paddle.distributed.launch on 2 CPU processes: frozen nets are not wrapped (DataParallel
    refuses nets with nothing to train) and the weight file keeps plain parameter names."""
    out = str(work / 'ddp')
    cmd = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '2',
           '--log_dir', str(work / 'ddp_log'), os.path.join(ROOT, 'tools', 'main.py'), '-c', TINY,
           '--no-cuda', '-o', f'output_dir={out}', 'total_iters=2', 'validate.interval=-1',
           'model.stage=revision', 'model.levels=1',
           f'model.draft_weights={weight_file(draft_run, 40)}']
    proc = subprocess.run(cmd, cwd=work, env=_env(), capture_output=True, text=True, timeout=600)
    log = ''.join(open(p).read() for p in glob.glob(str(work / 'ddp_log' / 'workerlog.*')))
    assert proc.returncode == 0, log[-3000:]
    state = paddle.load(weight_file(out, 2), return_numpy=True)
    assert 'DownBlock.1.weight' in state['net_rev'] and 'enc_1.0.weight' in state['net_enc']
