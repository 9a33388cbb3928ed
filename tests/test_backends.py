"""Backends: default choice, bf16 detection and refusal, `paddlegan infer --backend/--precision`,
and the bf16 quality guard on a briefly trained SR net."""
import math
import os

import cv2
import numpy as np
import pytest

from _export_helpers import (dygraph_net, dygraph_run, error_lines, rgb_input, save_weights,
                             sr_config, to_png_pixels, write_photo_pairs)
from ppgan_ext.deploy.backends import (BACKENDS, check_precision, choose_backend,
                                       create_predictor, installed_backends)
from ppgan_ext.deploy.cpu import bf16_flags, cpu_flags, native_bf16
from ppgan_ext.deploy.model_dir import ModelInfo

BF16_SKIP = pytest.mark.skipif(not native_bf16(),
                               reason='this CPU has no native bf16 (amx_bf16 / avx512_bf16)')


def test_cpu_flags_are_read_and_bf16_is_judged_from_them(tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_tile amx_bf16\n'
                       'processor\t: 1\nflags\t\t: fpu\n')
    flags = cpu_flags(str(cpuinfo))
    assert {'avx2', 'amx_bf16'} <= flags and 'avx512_bf16' not in flags
    assert native_bf16(flags) and bf16_flags(flags) == ['amx_bf16']
    assert not native_bf16({'avx2', 'avx512f', 'amx_tile'})
    assert cpu_flags(str(tmp_path / 'missing')) == frozenset()
    # this machine: the flags and OpenVINO's own view of the CPU agree
    if 'openvino' in installed_backends():
        from ppgan_ext.deploy.backends.openvino import cpu_capabilities

        assert native_bf16() == ('BF16' in cpu_capabilities())


def test_bf16_is_refused_in_one_line_where_it_is_not_native():
    for backend in BACKENDS:
        check_precision(backend, 'fp32', flags=set())
    check_precision('openvino', 'bf16', flags={'avx512_bf16'})
    with pytest.raises(ValueError, match=r'no native bf16 .*amx_bf16, avx512_bf16.*fp32$'):
        check_precision('openvino', 'bf16', flags={'avx2', 'avx512f'})
    with pytest.raises(ValueError, match='paddle backend has no bf16'):
        check_precision('paddle', 'bf16', flags={'amx_bf16'})
    with pytest.raises(ValueError, match='ONNX Runtime.*no bf16'):
        check_precision('onnxruntime', 'bf16', flags={'amx_bf16'})
    with pytest.raises(ValueError, match="--precision must be one of fp32, bf16, int8, got 'fp16'"):
        check_precision('openvino', 'fp16')


def test_default_backend_is_the_fastest_installed_that_runs_the_folder():
    both = ModelInfo('m', 'm/g.json', 'm/g.pdiparams', onnx_file='m/g.onnx')
    paddle_only = ModelInfo('m', 'm/g.json', 'm/g.pdiparams')
    onnx_only = ModelInfo('m', None, None, onnx_file='m/g.onnx')
    everything = ['paddle', 'onnxruntime', 'openvino']
    assert choose_backend(both, installed=everything) == 'openvino'
    assert choose_backend(both, installed=['paddle', 'onnxruntime']) == 'onnxruntime'
    assert choose_backend(both, installed=['paddle']) == 'paddle'
    assert choose_backend(paddle_only, installed=everything) == 'paddle'
    assert choose_backend(onnx_only, installed=['paddle', 'onnxruntime']) == 'onnxruntime'
    assert choose_backend(both, device='gpu', installed=everything) == 'paddle'
    assert choose_backend(both, precision='bf16', installed=everything) == 'openvino'
    # the LapStyle pyramid ran fastest with ONNX Runtime in fp32
    pyramid = ModelInfo('m', 'm/g.json', 'm/g.pdiparams', kind='stylize', onnx_file='m/g.onnx')
    assert choose_backend(pyramid, installed=everything) == 'onnxruntime'
    assert choose_backend(pyramid, installed=['paddle', 'openvino']) == 'openvino'
    assert choose_backend(pyramid, precision='bf16', installed=everything) == 'openvino'
    with pytest.raises(ValueError, match='--precision bf16: needs the openvino backend'):
        choose_backend(paddle_only, precision='bf16', installed=everything)
    with pytest.raises(ValueError, match='no installed backend runs formats onnx'):
        choose_backend(onnx_only, installed=['paddle'])
    assert set(installed_backends()) == set(BACKENDS)  # all three are requirements


@pytest.fixture(scope='module')
def sr(tmp_path_factory, photos):
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model

    root = tmp_path_factory.mktemp('backends')
    config = sr_config(str(root / 'sr.yaml'), norm='none', global_residual=True)
    weights = save_weights(config, str(root / 'w.pdparams'), seed=6)
    export_model(load_config(config), str(root / 'w.pdparams'), str(root / 'model'),
                 parity_sizes=[(9, 11)])
    dirs = write_photo_pairs(str(root / 'data'), photos, ['coffee', 'rocket'], size=(64, 88))
    return dict(root=root, dir=str(root / 'model'), net=dygraph_net(config, weights), **dirs)


@pytest.mark.parametrize('backend', ['auto'] + list(BACKENDS))
def test_infer_runs_every_backend_and_says_which(sr, backend, tmp_path, capsys):
    from ppgan_ext.cli import main

    out = str(tmp_path / 'out')
    assert main(['infer', '--model_dir', sr['dir'], '--input', sr['lq'], '--output', out,
                 '--gt', sr['gt'], '--backend', backend, '--threads', '1']) == 0
    printed = capsys.readouterr().out
    used = 'openvino' if backend == 'auto' else backend
    assert f'backend: {used}, precision: fp32' in printed
    for name in ('coffee.png', 'rocket.png'):
        written = cv2.imread(os.path.join(out, name))
        expected = to_png_pixels(dygraph_run(sr['net'], rgb_input(os.path.join(sr['lq'], name))))
        assert written.shape == expected.shape
        assert np.abs(written.astype(int) - expected).max() <= 1, (backend, name)
    # tiling is the same job for every backend: tiles blend back to the whole image
    tiled = str(tmp_path / 'tiled')
    assert main(['infer', '--model_dir', sr['dir'], '--input', sr['lq'], '--output', tiled,
                 '--backend', backend, '--tile', '12', '--tile-overlap', '4',
                 '--threads', '1']) == 0
    capsys.readouterr()
    for name in ('coffee.png', 'rocket.png'):
        diff = np.abs(cv2.imread(os.path.join(tiled, name)).astype(int)
                      - cv2.imread(os.path.join(out, name)).astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.05, (backend, name)


def test_infer_backend_errors_are_one_line(sr, tmp_path, capsys):
    from ppgan_ext.cli import main

    out = str(tmp_path / 'never')

    def error(*extra):
        rc = main(['infer', '--model_dir', sr['dir'], '--input', sr['lq'], '--output', out]
                  + list(extra))
        lines = error_lines(capsys.readouterr().err)
        assert rc == 2 and len(lines) == 1, lines
        return lines[0]

    assert 'the paddle backend has no bf16' in error('--backend', 'paddle', '--precision', 'bf16')
    assert "ONNX Runtime's CPU provider has no bf16" in error('--backend', 'onnxruntime',
                                                              '--precision', 'bf16')
    msg = error('--backend', 'openvino', '--no-onednn')
    assert "options ['onednn'] are for the paddle backend" in msg
    assert not os.path.exists(out)
    # --no-onednn alone means Paddle Inference without oneDNN
    assert main(['infer', '--model_dir', sr['dir'], '--input', sr['lq'], '--output', out,
                 '--no-onednn', '--threads', '1']) == 0
    assert 'backend: paddle, precision: fp32' in capsys.readouterr().out


@BF16_SKIP
def test_bf16_runs_with_openvino_close_to_fp32(sr):
    fp32 = create_predictor(sr['dir'], 'openvino', 'fp32', threads=1)
    bf16 = create_predictor(sr['dir'], 'openvino', 'bf16', threads=1)
    assert bf16.precision == 'bf16' and bf16.describe() == 'openvino bf16'
    x = rgb_input(os.path.join(sr['lq'], 'coffee.png'))
    a, b = fp32(x), bf16(x)
    diff = np.abs(a - b)
    assert 0 < diff.max() < 0.05  # bf16 really ran (not fp32), and stayed close


@BF16_SKIP
@pytest.mark.e2e
def test_bf16_quality_guard_on_a_trained_net(tmp_path):
    """A briefly trained SR net on the held-out photos: bf16 vs fp32 >= 40 dB, and the
    PSNR/SSIM table against ground truth moves by at most 0.05 dB."""
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.apps.precision_check import compare_precisions
    from ppgan_ext.engine.brief_sr import train_brief_sr
    from ppgan_ext.sample_data import write_heldout_pairs

    trained = train_brief_sr(str(tmp_path / 'train'), iters=400, batch=8)
    model_dir = str(tmp_path / 'model')
    export_model(load_config(trained['config']), trained['weights'], model_dir,
                 parity_sizes=[(16, 16), (17, 23), (30, 32)])
    data = write_heldout_pairs(str(tmp_path / 'data'), scale=2, size=160)
    result = compare_precisions(model_dir, data['lq'], data['gt'], str(tmp_path / 'cmp'),
                                threads=2)
    assert len(result.rows) == 3
    # trained, not random: better than the bilinear upsampling it starts from
    bilinear = []
    for name in ('chelsea', 'coffee', 'rocket'):
        gt = cv2.imread(os.path.join(data['gt'], f'{name}.png'))
        lq = cv2.imread(os.path.join(data['lq'], f'{name}.png'))
        up = cv2.resize(lq, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        mse = np.mean((up[2:-2, 2:-2].astype(float) - gt[2:-2, 2:-2]) ** 2)
        bilinear.append(10 * np.log10(255 ** 2 / mse))
    assert result.mean('psnr_fp32') > np.mean(bilinear) + 0.5, (result.table(), bilinear)
    assert 40.0 <= result.min_bf16_vs_fp32 < math.inf, result.table()  # bf16 changed pixels
    assert result.max_psnr_change <= 0.05, result.table()
    assert result.max_ssim_change <= 0.005, result.table()
