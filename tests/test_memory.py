"""Long runs: resident memory of training stays flat after warm-up."""
import re
import subprocess
import sys
import threading
import time

import pytest

from _helpers import (MAIN, ROOT, STOCK_SR, env, rss_mib, slope_per_step, stock_sr_opts,
                      write_sr_pairs)


@pytest.mark.e2e
def test_training_memory_does_not_grow(tmp_path, photos):
    train = write_sr_pairs(str(tmp_path / 'sr'), photos, ['astronaut', 'coffee'])
    opts = [f'output_dir={tmp_path / "out"}'] + stock_sr_opts(train) + [
        "model.generator={name: TransposeSRResNet, num_feat: 8, num_blocks: 1, scale: 4}",
        'total_iters=600', 'log_config.interval=10', 'snapshot_config.interval=200',
        'validate.interval=-1']
    proc = subprocess.Popen([sys.executable, MAIN, '-c', STOCK_SR, '--no-cuda', '-o'] + opts,
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    samples = []  # (iteration, rss)

    def reader():
        for line in proc.stdout:
            m = re.search(r'Iter: (\d+)/', line)
            if m:
                samples.append((int(m.group(1)), rss_mib(proc.pid)))

    t = threading.Thread(target=reader)
    t.start()
    proc.wait(timeout=600)
    t.join()
    assert proc.returncode == 0
    steady = [(i, r) for i, r in samples if i > 150]
    assert len(steady) >= 40
    slope = slope_per_step(*zip(*steady)) * 100  # MiB per 100 iterations
    growth = steady[-1][1] - steady[0][1]
    print(f'training RSS: {steady[0][1]:.0f} -> {steady[-1][1]:.0f} MiB, '
          f'slope {slope:.3f} MiB/100 iters')
    assert slope < 1.0, f'RSS grows {slope:.2f} MiB per 100 iterations'
    assert growth < 20, growth


@pytest.mark.e2e
def test_infer_memory_is_flat_over_a_folder(tmp_path):
    """A few hundred small images of varying sizes through ``paddlegan infer``: RSS stays flat."""
    import os

    from _export_helpers import export_tiny_sr
    from test_killed_outputs import write_images

    model_dir = export_tiny_sr(str(tmp_path), seed=2, num_feat=16, num_blocks=2)
    total = 400
    src, out = tmp_path / 'src', tmp_path / 'out'
    write_images(str(src), total, sizes=((24, 32), (40, 40), (33, 47), (48, 28), (36, 36)))
    proc = subprocess.Popen([sys.executable, '-m', 'ppgan_ext.cli', 'infer', '--model_dir',
                             model_dir, '--input', str(src), '--output', str(out)],
                            cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    samples = []  # (outputs written, rss)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        done = sum(len(names) for _, _, names in os.walk(out)) if out.exists() else 0
        rss = rss_mib(proc.pid)
        if rss:
            samples.append((done, rss))
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == 0
    assert sum(len(names) for _, _, names in os.walk(out)) == total
    steady = [(n, r) for n, r in samples if n >= 100]
    assert len({n for n, _ in steady}) >= 20, samples[-5:]
    slope = slope_per_step(*zip(*steady)) * 100  # MiB per 100 images
    growth = steady[-1][1] - steady[0][1]
    print(f'infer RSS over {total} images: {steady[0][1]:.0f} -> {steady[-1][1]:.0f} MiB '
          f'(images {steady[0][0]}..{steady[-1][0]}), slope {slope:.3f} MiB/100 images')
    assert slope < 2.0, f'RSS grows {slope:.2f} MiB per 100 images'
    assert growth < 10, growth
