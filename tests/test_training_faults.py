"""Training that goes wrong: SIGKILL mid-run, a diverging loss, bad configs and inputs."""
import glob
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from _helpers import (MAIN, ROOT, STOCK_SR, env, logged, logged_iters, run_dirs, run_main,
                      stock_sr_opts, write_sr_pairs)

OURS = ("model.generator={name: TransposeSRResNet, num_feat: 8, num_blocks: 1, "
        "scale: 4, norm: none}")


@pytest.fixture(scope='module')
def sr_opts(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp('sr')
    train = write_sr_pairs(str(root / 'train'), photos, ['astronaut', 'coffee'])
    return stock_sr_opts(train) + [OURS, 'validate.interval=-1']


@pytest.mark.e2e
def test_sigkill_then_resume_keeps_iterations_and_lr_schedule(sr_opts, tmp_path):
    out = tmp_path / 'out'
    sched = ('lr_scheduler={name: MultiStepDecay, learning_rate: 0.001, '
             'milestones: [20, 30], gamma: 0.1}')
    opts = sr_opts + [f'output_dir={out}', sched, 'total_iters=40', 'log_config.interval=1',
                      'snapshot_config.interval=5']
    proc = subprocess.Popen([sys.executable, MAIN, '-c', STOCK_SR, '--no-cuda', '-o'] + opts,
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        if 'Iter: 13/' in proc.stdout.readline():
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    run = run_dirs(str(out))[0]
    ckpts = sorted(glob.glob(os.path.join(run, 'iter_*_checkpoint.pdparams')),
                   key=lambda p: int(os.path.basename(p).split('_')[1]))
    # snapshot_config.keep_checkpoints defaults to 0: every checkpoint is kept
    assert [os.path.basename(c) for c in ckpts] == ['iter_5_checkpoint.pdparams',
                                                    'iter_10_checkpoint.pdparams']
    ckpts = ckpts[-1:]
    with open(ckpts[0], 'rb') as f:
        assert pickle.load(f)['epoch'] == 10

    out2 = tmp_path / 'resumed'
    opts2 = [o if not o.startswith('output_dir=') else f'output_dir={out2}' for o in opts]
    proc2 = run_main(['-c', STOCK_SR, '--no-cuda', '--resume', ckpts[0], '-o'] + opts2)
    text = proc2.stdout + proc2.stderr
    assert proc2.returncode == 0, text[-3000:]
    iters = logged_iters(text)
    assert iters == list(range(11, 41))
    lr = dict(zip(iters, logged(text, 'lr')))
    assert lr[11] == pytest.approx(1e-3) and lr[20] == pytest.approx(1e-3)
    assert lr[21] == pytest.approx(1e-4) and lr[31] == pytest.approx(1e-5)
    assert os.path.isfile(os.path.join(run_dirs(str(out2))[0], 'iter_40_weight.pdparams'))


@pytest.mark.e2e
def test_diverging_loss_stops_names_iteration_and_keeps_last_checkpoint(sr_opts, tmp_path):
    out = tmp_path / 'out'
    sched = 'lr_scheduler={name: MultiStepDecay, learning_rate: 1.0e+30, milestones: [1000]}'
    opts = sr_opts + [f'output_dir={out}', sched, 'total_iters=50', 'log_config.interval=1',
                      'snapshot_config.interval=1']
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    err = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(err) == 1, proc.stderr[-2000:]
    assert 'loss loss_pixel is' in err[0] and ('nan' in err[0] or 'inf' in err[0])
    bad_iter = int(err[0].split('at iteration ')[1].split(';')[0])
    run = run_dirs(str(out))[0]
    assert not glob.glob(os.path.join(run, f'iter_{bad_iter}_*'))
    if bad_iter > 1:
        last = os.path.join(run, f'iter_{bad_iter - 1}_checkpoint.pdparams')
        with open(last, 'rb') as f:
            state = pickle.load(f)
        assert state['epoch'] == bad_iter - 1
        assert all(np.isfinite(v).all() for v in state['generator'].values())


@pytest.mark.parametrize('opts,message', [
    (['model.generator.name=TransposeSRResnet'], "did you mean 'TransposeSRResNet'"),
    (['total_iter=3'], "override key 'total_iter' does not exist"),
    (['dataset.train.gt_folder=/nonexistent/folder'], '/nonexistent/folder'),
])
@pytest.mark.e2e
def test_bad_config_is_one_line_error(sr_opts, tmp_path, opts, message):
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + sr_opts +
                    [f'output_dir={tmp_path}'] + opts)
    assert proc.returncode == 2
    assert proc.stderr.strip().count('\n') == 0, proc.stderr
    assert proc.stderr.startswith('error: ') and message in proc.stderr


@pytest.mark.e2e
def test_missing_config_and_resume_files(tmp_path):
    proc = run_main(['-c', str(tmp_path / 'none.yaml')])
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"error: config file not found: {tmp_path / 'none.yaml'}")
    proc = run_main(['-c', STOCK_SR, '--resume', str(tmp_path / 'x.pdparams')])
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: --resume: file not found: {tmp_path / 'x.pdparams'}"
