"""Real training through tools/main.py: stock configs, our generator, resume, Ctrl-C, 2 workers."""
import glob
import os
import pickle
import re
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
    text = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--seed', '1', '-o'] + opts))
    assert logged_iters(text) == [2, 4]
    # Four iterations of a 4-channel net: the metric must be reported and finite; how close
    # the output already is to the ground truth depends on the CPU's rounding, not on us.
    psnr = logged(text, 'Metric psnr')
    assert len(psnr) == 1 and 0 < psnr[0] < 60
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
    # resuming the finished run is refused in one line, and makes no empty run folder
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '--resume',
                     os.path.join(run, 'iter_3_checkpoint.pdparams'), '-o'] + opts)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'is a finished run (iteration 3 of total_iters 3)' in errors[0]
    assert run_dirs(str(out)) == [run]


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
    assert len(run_dirs(str(out))) == 1    # the evaluation wrote nothing but its log


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
    """2 processes train; their validation of 3 images scores what one process scores."""
    out = tmp_path / 'out'
    train = sr_data[0]
    opts = [f'output_dir={out}'] + stock_sr_opts(train, train) + [
        OURS, 'total_iters=4', 'log_config.interval=2', 'snapshot_config.interval=4',
        'validate.interval=4', 'dataset.train.batch_size=1']
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

    # ppgan pads 3 images to 4 for 2 processes and would count one twice
    with open(os.path.join(run, 'log.txt')) as f:
        both = f.read()
    single = _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--evaluate-only', '--load',
                           os.path.join(run, 'iter_4_weight.pdparams'), '-o'] + opts))
    assert 'Test iter: [2/3]' in both and '/6]' not in both
    for metric in ('Metric psnr', 'Metric ssim'):
        assert len(logged(both, metric)) == 1
        assert logged(both, metric) == logged(single, metric), metric


# ------------------------------------------------ run folders, checkpoints kept, resume
def test_every_run_gets_its_own_folder(tmp_path):
    from ppgan_ext.engine.run import run_folder

    folders = [run_folder(str(tmp_path / 'out'), 'configs/some_config.yaml') for _ in range(3)]
    assert len(set(folders)) == 3 and all(os.path.isdir(f) for f in folders)
    first = os.path.basename(folders[0])
    assert first.startswith('some_config-') and len(first.split('-')) == 7   # to the second
    assert all(os.path.basename(f).startswith(first) for f in folders)


def test_paddlegans_flags_are_accepted():
    import argparse

    from ppgan_ext.engine.run import add_arguments

    parser = add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(['-c', 'x.yaml', '--source_path', 'a.png', '--reference_dir', 'r',
                              '--model_path', 'm.pdparams', '-p', 'batch_range=[1, 2]',
                              '--val-interval', '2', '--seed', '0', '--no-cuda',
                              '--evaluate-only', '--load', 'w', '-o', 'a=1', 'b=2'])
    assert args.source_path == 'a.png' and args.reference_dir == 'r'
    assert args.model_path == 'm.pdparams' and args.profiler_options == 'batch_range=[1, 2]'
    assert args.seed == 0 and args.opt == ['a=1', 'b=2']


def _checkpoint_iters(run):
    return sorted(int(os.path.basename(p).split('_')[1])
                  for p in glob.glob(os.path.join(run, 'iter_*_checkpoint.pdparams')))


@pytest.mark.e2e
def test_keep_checkpoints_and_resume_leaves_its_source_alone(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=6', 'log_config.interval=2',
                                       'snapshot_config.interval=2', 'validate.interval=-1',
                                       '+snapshot_config.keep_checkpoints=2']
    _ok(run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts))
    run = run_dirs(str(out))[0]
    assert _checkpoint_iters(run) == [4, 6]
    assert len(glob.glob(os.path.join(run, 'iter_*_weight.pdparams'))) == 3   # all weights
    source = os.path.join(run, 'iter_4_checkpoint.pdparams')
    with open(source, 'rb') as f:
        before = f.read()
    # resume into the same output_dir, keeping only one checkpoint: a new folder
    opts2 = [o for o in opts if not o.startswith(('total_iters=', '+snapshot'))]
    opts2 += ['total_iters=8', '+snapshot_config.keep_checkpoints=1']
    _ok(run_main(['-c', STOCK_SR, '--no-cuda', '--resume', source, '-o'] + opts2))
    runs = run_dirs(str(out))
    assert len(runs) == 2 and run in runs
    new = [r for r in runs if r != run][0]
    assert _checkpoint_iters(new) == [8]
    assert _checkpoint_iters(run) == [4, 6]
    with open(source, 'rb') as f:
        assert f.read() == before


@pytest.mark.e2e
def test_weights_of_another_width_are_refused_unless_partial(sr_data, tmp_path):
    out = tmp_path / 'out'
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=2', 'log_config.interval=1',
                                       'validate.interval=-1']
    _ok(run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts))
    weights = os.path.join(run_dirs(str(out))[0], 'iter_2_weight.pdparams')
    narrow = opts + ['model.generator.num_feat=8']
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '--evaluate-only', '--load', weights,
                     '-o'] + narrow)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in proc.stderr
    assert weights in errors[0] and "net 'generator'" in errors[0]
    assert 'of another shape' in errors[0] and '(file 16x3x3x3, model 8x3x3x3)' in errors[0]
    assert 'Metric psnr' not in proc.stdout
    assert len(run_dirs(str(out))) == 1    # the refused run left no folder
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '--evaluate-only', '--load', weights,
                     '--allow-partial-load', '-o'] + narrow)
    text = _ok(proc)
    assert 'partial load' in text and len(logged(text, 'Metric psnr')) == 1


@pytest.mark.e2e
def test_divergence_before_any_checkpoint_says_there_is_none(sr_data, tmp_path):
    out = tmp_path / 'out'
    sched = 'lr_scheduler={name: MultiStepDecay, learning_rate: 1.0e+30, milestones: [1000]}'
    opts = _data_opts(sr_data, out) + [OURS, sched, 'total_iters=50', 'log_config.interval=1',
                                       'snapshot_config.interval=1000', 'validate.interval=-1']
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1
    assert 'no checkpoint was saved (the first is due at iteration 1000)' in errors[0]
    run = run_dirs(str(out))[0]   # the log of the iterations before the NaN is kept
    assert not glob.glob(os.path.join(run, '*.pdparams')) and os.listdir(run) == ['log.txt']


@pytest.mark.e2e
def test_an_error_inside_paddle_shows_its_frames_and_exits_1(sr_data, tmp_path):
    out = tmp_path / 'out'
    # a 1-channel generator fed RGB batches: Paddle's conv raises in the first iteration
    opts = _data_opts(sr_data, out) + [OURS, 'total_iters=2', 'validate.interval=-1',
                                       'model.generator.in_channels=1']
    proc = run_main(['-c', STOCK_SR, '--no-cuda', '-o'] + opts, timeout=200)
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    first = [i for i, line in enumerate(lines) if line.startswith('error:')]
    assert len(first) == 1 and 'Traceback' not in proc.stderr
    assert lines[first[0]].startswith('error: Paddle raised '), lines
    frames = [line for line in lines[first[0] + 1:] if line.startswith('  at ')]
    assert frames and all(re.match(r'  at \S+\.py:\d+ in \w+', f) for f in frames)
    assert frames[-1].startswith('  at paddle/'), frames
    assert run_dirs(str(out)) == []   # it failed in its first iteration: no folder is left


def test_two_runs_in_one_process_each_log_to_their_own_folder(sr_data, tmp_path):
    """``train_config`` twice in a process (the benches do): ppgan sets its logger up once per
    process, so the second run used to log into the first run's log.txt."""
    from ppgan_ext.engine.run import train_config

    (gt, _), (test_gt, _) = sr_data
    config = os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml')
    runs = []
    for i in range(2):
        weights = train_config(config, [
            f'output_dir={tmp_path / "out"}', f'dataset.train.gt_folder={gt}',
            f'dataset.test.gt_folder={test_gt}', f'total_iters={2 + i}',
            f'lr_scheduler.periods=[{2 + i}]', 'log_config.interval=1',
            'dataset.train.batch_size=2', f'validate.interval={2 + i}',
            f'snapshot_config.interval={2 + i}', 'model.generator.num_feat=8'])
        runs.append(os.path.dirname(weights))
    assert runs[0] != runs[1]
    for i, run in enumerate(runs):
        with open(os.path.join(run, 'log.txt')) as f:
            assert logged_iters(f.read()) == list(range(1, 3 + i))
