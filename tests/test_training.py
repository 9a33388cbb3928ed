"""Real training through tools/main.py: stock configs, our generator, resume, Ctrl-C, 2 workers."""
import glob
import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

from _helpers import (MAIN, ROOT, STOCK_SR, env, logged, logged_iters, run_dirs, run_main,
                      stock_sr_opts, write_sr_pairs)

OURS = ("model.generator={name: TransposeSRResNet, num_feat: 16, num_blocks: 2, "
        "scale: 4, norm: none}")


@pytest.fixture(scope='module')
def sr_data(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp('sr')
    train = write_sr_pairs(str(root / 'train'), photos, ['astronaut', 'coffee', 'chelsea'])
    test = write_sr_pairs(str(root / 'test'), photos, ['rocket'])
    return train, test


def _data_opts(sr_data, out):
    return [f'output_dir={out}'] + stock_sr_opts(*sr_data)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.e2e
def test_stock_paddlegan_config_runs_unchanged(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [
        'total_iters=4', 'model.generator.nf=4', 'model.generator.nb=1',
        'validate.interval=4', 'log_config.interval=2', 'snapshot_config.interval=4']
    text = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts))
    assert logged_iters(text) == [2, 4]
    psnr = logged(text, 'Metric psnr')
    assert len(psnr) == 1 and 5 < psnr[0] < 60
    run = run_dirs(str(out))[0]
    assert os.path.basename(run).startswith('stock_esrgan_psnr_x4-')
    for name in ('iter_4_weight.pdparams', 'iter_4_checkpoint.pdparams'):
        assert os.path.isfile(os.path.join(run, name))


@pytest.mark.e2e
def test_loss_goes_down_then_resume_continues_iteration_and_lr(sr_data, tmp_path):
    """Train 15 iterations, resume to 30: iterations and the LR schedule carry on."""
    out = tmp_path / 'out'
    sched = ('lr_scheduler={name: MultiStepDecay, learning_rate: 0.002, '
             'milestones: [20], gamma: 0.1}')
    opts = _data_opts(sr_data, out) + [
        OURS, sched, 'total_iters=15', 'log_config.interval=5', 'snapshot_config.interval=15',
        'validate.interval=-1']
    text = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--seed', '1', '-o'] + opts))
    assert logged_iters(text) == [5, 10, 15]
    run = run_dirs(str(out))[0]
    ckpt = os.path.join(run, 'iter_15_checkpoint.pdparams')
    with open(ckpt, 'rb') as f:
        state = pickle.load(f)
    assert state['epoch'] == 15 and 'generator' in state and 'optim' in state
    assert state['optim']['LR_Scheduler']['last_epoch'] == 15

    out2 = tmp_path / 'resumed'
    opts2 = [o for o in opts if not o.startswith(('output_dir=', 'total_iters='))]
    opts2 += [f'output_dir={out2}', 'total_iters=30']
    text2 = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--resume', ckpt, '-o'] + opts2))
    assert 'Resumed from' in text2 and 'at iteration 16' in text2
    assert logged_iters(text2) == [20, 25, 30]
    lrs = dict(zip(logged_iters(text2), logged(text2, 'lr')))
    assert lrs[20] == pytest.approx(2e-3) and lrs[25] == pytest.approx(2e-4)
    loss = logged(text, 'loss_pixel') + logged(text2, 'loss_pixel')
    assert len(loss) == 6
    assert sum(loss[-2:]) / 2 < 0.8 * loss[0], loss
    run2 = run_dirs(str(out2))[0]
    assert sorted(os.listdir(run2)) == ['iter_30_checkpoint.pdparams', 'iter_30_weight.pdparams',
                                        'log.txt']


@pytest.mark.e2e
def test_final_iteration_is_saved_off_interval(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=3', 'snapshot_config.interval=100',
                                       'log_config.interval=1', 'validate.interval=-1']
    _ok(run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts))
    run = run_dirs(str(out))[0]
    assert sorted(os.listdir(run)) == ['iter_3_checkpoint.pdparams', 'iter_3_weight.pdparams',
                                       'log.txt']


@pytest.mark.e2e
def test_evaluate_only_with_load(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=2', 'log_config.interval=1']
    _ok(run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts))
    weights = glob.glob(os.path.join(run_dirs(str(out))[0], 'iter_2_weight.pdparams'))[0]
    text = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--evaluate-only', '--load', weights,
                         '-o'] + opts))
    assert 'Loaded pretrained weight for net generator' in text
    assert len(logged(text, 'Metric psnr')) == 1 and len(logged(text, 'Metric ssim')) == 1


@pytest.mark.e2e
def test_ctrl_c_saves_a_checkpoint_that_resumes(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=100000', 'log_config.interval=1',
                                       'snapshot_config.interval=100000', 'validate.interval=-1']
    proc = subprocess.Popen([sys.executable, MAIN, '-c', STOCK_SR, '--no-cuda', '-o'] + opts,
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = ''
    deadline = time.time() + 240
    while time.time() < deadline:
        line = proc.stdout.readline()
        seen += line
        if 'Iter: 5/' in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, seen + rest
    ckpts = glob.glob(os.path.join(run_dirs(str(out))[0], 'iter_*_checkpoint.pdparams'))
    assert len(ckpts) == 1
    done = int(os.path.basename(ckpts[0]).split('_')[1])
    assert done >= 5 and f'saved checkpoint of iteration {done}' in rest
    opts2 = [o if o != 'total_iters=100000' else f'total_iters={done + 2}' for o in opts]
    text = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--resume', ckpts[0], '-o'] + opts2))
    assert logged_iters(text) == [done + 1, done + 2]


@pytest.mark.e2e
def test_two_process_data_parallel_training(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=4', 'log_config.interval=2',
                                       'snapshot_config.interval=4', 'validate.interval=-1',
                                       'dataset.train.batch_size=1']
    launcher = ['-m', 'paddle.distributed.launch', '--nproc_per_node', '2',
                '--log_dir', str(tmp_path / 'launch_logs')]
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts, cwd=str(tmp_path),
                    launcher=launcher, timeout=400)
    logs = ''.join(open(p).read() for p in glob.glob(str(tmp_path / 'launch_logs' / '*')))
    assert proc.returncode == 0, proc.stdout[-2000:] + logs[-4000:]
    assert 'nranks' in logs or 'world_size' in logs or 'trainers_num' in logs.lower()
    run = run_dirs(str(out))[0]
    assert os.path.isfile(os.path.join(run, 'iter_4_checkpoint.pdparams'))
    assert os.path.isfile(os.path.join(run, 'log.txt.rank1'))
