"""A worker of a 2-process ``paddle.distributed.launch`` run dies: the job ends, resume works."""
import glob
import os
import pickle
import re
import signal
import subprocess
import sys
import time

import pytest

from _helpers import MAIN, STOCK_SR, env, logged_iters, run_dirs, write_sr_pairs

LAUNCH = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '2']


def child_pids(pid: int):
    """Pids of the direct children of ``pid`` (from /proc/*/stat)."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def trainer_rank(pid: int):
    """PADDLE_TRAINER_ID of a launched worker, or None."""
    try:
        with open(f'/proc/{pid}/environ', 'rb') as f:
            environ = f.read().split(b'\0')
    except OSError:
        return None
    for item in environ:
        if item.startswith(b'PADDLE_TRAINER_ID='):
            return int(item.split(b'=', 1)[1])
    return None


def checkpoints(run: str):
    return sorted(glob.glob(os.path.join(run, 'iter_*_checkpoint.pdparams')),
                  key=lambda p: int(re.search(r'iter_(\d+)_', p).group(1)))


@pytest.mark.e2e
def test_worker_killed_job_ends_nonzero_and_resume_works(tmp_path, photos):
    gt, lq = write_sr_pairs(str(tmp_path / 'sr'), photos, ['astronaut', 'coffee', 'chelsea'])
    out = tmp_path / 'out'
    opts = [f'output_dir={out}', f'dataset.train.gt_folder={gt}', f'dataset.train.lq_folder={lq}',
            f'dataset.test.gt_folder={gt}', f'dataset.test.lq_folder={lq}',
            'dataset.train.num_workers=0', 'dataset.train.batch_size=1',
            'dataset.train.preprocess.2.pipeline.0.gt_patch_size=32',
            "model.generator={name: TransposeSRResNet, num_feat: 8, num_blocks: 1, scale: 4, "
            "norm: none}", 'validate.interval=-1', 'log_config.interval=1',
            'snapshot_config.interval=10']
    logs = tmp_path / 'logs'
    launcher = subprocess.Popen(
        LAUNCH + ['--log_dir', str(logs), MAIN, '-c', STOCK_SR, '--no-cuda', '-o']
        + opts + ['total_iters=1000000'],
        cwd=str(tmp_path), env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and launcher.poll() is None:
            runs = run_dirs(str(out))
            if runs and any(int(re.search(r'iter_(\d+)_', c).group(1)) >= 20
                            for c in checkpoints(runs[0])):
                break
            time.sleep(0.2)
        assert launcher.poll() is None, launcher.communicate()[0][-3000:]
        workers = {trainer_rank(p): p for p in child_pids(launcher.pid)}
        assert set(workers) == {0, 1}, workers
        os.kill(workers[1], signal.SIGKILL)
        text, _ = launcher.communicate(timeout=300)   # a hang guard, not a speed check
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    # the launcher stops the surviving worker and exits non-zero, with a message
    assert launcher.returncode != 0
    assert 'Container failed' in text and 'Exit code' in text, text[-3000:]
    for pid in workers.values():
        assert not os.path.exists(f'/proc/{pid}') or \
            open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0] == 'Z'

    # the newest checkpoint is whole; resume it, again on two processes
    run = run_dirs(str(out))[0]
    ckpt = checkpoints(run)[-1]
    done = int(re.search(r'iter_(\d+)_', ckpt).group(1))
    with open(ckpt, 'rb') as f:
        state = pickle.load(f)
    assert state['epoch'] == done >= 20
    assert state['optim']['LR_Scheduler']['last_epoch'] == done
    out2 = tmp_path / 'resumed'
    opts2 = [o if not o.startswith('output_dir=') else f'output_dir={out2}' for o in opts]
    logs2 = tmp_path / 'logs2'
    proc = subprocess.run(
        LAUNCH + ['--log_dir', str(logs2), MAIN, '-c', STOCK_SR, '--no-cuda', '--resume', ckpt,
                  '-o'] + opts2 + [f'total_iters={done + 4}'],
        cwd=str(tmp_path), env=env(), capture_output=True, text=True, timeout=300)
    worker0 = open(logs2 / 'workerlog.0').read()
    assert proc.returncode == 0, proc.stdout[-2000:] + worker0[-3000:]
    assert f'at iteration {done + 1}' in worker0
    assert logged_iters(worker0) == list(range(done + 1, done + 5))
    with open(os.path.join(run_dirs(str(out2))[0], f'iter_{done + 4}_checkpoint.pdparams'),
              'rb') as f:
        assert pickle.load(f)['epoch'] == done + 4
