"""bench/infer.py's yardsticks: the convolution count and the plain-convolution ceiling."""
import os

import numpy as np
import pytest

from _helpers import load_script


@pytest.fixture(scope='module')
def bench():
    return load_script(os.path.join('bench', 'infer.py'), 'bench_infer')


def test_conv_gflop_counts_every_convolution_and_transposed_convolution(bench):
    from ppgan_ext.models.generators.transpose_srresnet import TransposeSRResNet

    net = TransposeSRResNet(num_feat=8, num_blocks=1, scale=2, norm='none', deconv_kernel=4)
    net.eval()
    macs = (8 * 100 * 3 * 9          # head 3 -> 8 at 10x10
            + 2 * 8 * 100 * 8 * 9    # residual block
            + 8 * 100 * 8 * 9        # conv after body
            + 8 * 100 * 8 * 16       # transposed conv: input elements x out channels x 4x4
            + 3 * 400 * 8 * 9)       # output conv at 20x20
    x = np.zeros((1, 3, 10, 10), np.float32)
    assert bench.conv_gflop(net, x) == pytest.approx(2 * macs / 1e9)
    assert bench.conv_gflop(net, x) == pytest.approx(2 * macs / 1e9)  # hooks were removed


def test_conv_ceiling_runs_in_the_rounds_and_gives_a_rate_per_precision(bench):
    from ppgan_ext.deploy.cpu import native_bf16

    ceiling = bench.ConvCeiling(threads=1, layers=2, channels=8, size=16)
    assert ceiling.gflop == pytest.approx(2 * 2 * 8 * 8 * 9 * 16 * 16 / 1e9)
    assert ('bf16' in ceiling.runners) == native_bf16() != ('bf16' in ceiling.skipped)
    fns = {ceiling.label(p): fn for p, fn in ceiling.runners.items()}
    ms = bench.interleaved(fns, [np.zeros(1)], repeat=2)
    rates = ceiling.rates(ms)
    assert set(rates) == set(ceiling.runners) and 'fp32' in rates
    assert rates['fp32'] == pytest.approx(ceiling.gflop / ms[ceiling.label('fp32')] * 1000)
    assert all(r > 0.01 for r in rates.values())
