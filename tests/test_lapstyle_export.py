"""LapStyle export: one (content, style) -> stylized graph, parity, stylize --model_dir, errors."""
import json
import os

import cv2
import numpy as np
import paddle
import pytest

import ppgan_ext  # noqa: F401

from _export_helpers import error_lines, run_tool, save_weights, sr_config
from _fusion_helpers import WIDTH, write_lapstyle_weights
from ppgan_ext.cli import main
from ppgan_ext.deploy.backends import choose_backend, create_predictor
from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
from ppgan_ext.deploy.model_dir import read_model_dir
from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet
from ppgan_ext.weight_files import read_state_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml')


def _revision_overrides(levels):
    return ['-o', 'model.stage=revision', f'model.levels={levels}']


def _dygraph(weights, levels):
    net = LapStylePyramidNet(levels, base_channels=WIDTH, num_feat=WIDTH)
    net.load_weights(read_state_file(weights), weights)
    net.eval()
    return net


def _run(net, content, style):
    with paddle.no_grad():
        return net(paddle.to_tensor(content), paddle.to_tensor(style)).numpy()


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp('lapstyle_export')
    weights = write_lapstyle_weights(root / 'rev2_weight.pdparams', levels=2)
    exports = {}
    # level 2 through tools/export_model.py (its own process), level 1 through `paddlegan export`
    out2 = str(root / 'model_l2')
    proc = run_tool([os.path.join('tools', 'export_model.py'), '-c', TINY, '--load', weights,
                     '--output_dir', out2] + _revision_overrides(2))
    assert proc.returncode == 0, proc.stderr[-3000:]
    exports[2] = (out2, proc.stdout)
    out1 = str(root / 'model_l1')
    assert main(['export', '-c', TINY, '--load', weights, '--output_dir', out1]
                + _revision_overrides(1)) == 0
    exports[1] = (out1, '')
    return root, weights, exports


@pytest.mark.parametrize('levels', [1, 2])
def test_export_writes_one_pyramid_graph_that_matches_the_dynamic_graph(work, levels):
    root, weights, exports = work
    out, stdout = exports[levels]
    assert sorted(os.listdir(out)) == ['lapstyle_pyramid.json', 'lapstyle_pyramid.onnx',
                                       'lapstyle_pyramid.pdiparams', 'ppgan_ext.json']
    meta = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    assert meta['kind'] == 'stylize' and meta['levels'] == levels
    assert [i['name'] for i in meta['inputs']] == ['content', 'style']
    assert all(i['shape'][2:] == [-1, -1] for i in meta['inputs'])  # dynamic H, W
    expected_nets = ['net_enc', 'net_dec', 'net_rev', 'net_rev_2'][:levels + 2]
    assert meta['graph_nets'] == expected_nets
    assert meta['parity']['sizes'] == [[64, 64], [47, 33], [101, 65]]  # the config's, odd ones
    assert 0 <= meta['parity']['max_abs_diff'] < 1e-4
    assert meta['onnx_parity']['sizes'] == meta['parity']['sizes']
    assert 0 <= meta['onnx_parity']['max_abs_diff'] < 1e-4
    assert meta['formats'] == ['paddle', 'onnx']
    # the pyramid semantics the weights give the net is recorded ('exact' for nets without one)
    assert meta['semantics'] == getattr(_dygraph(weights, levels), 'semantics', 'exact')
    if stdout:
        assert 'draft + 2 revision level(s)' in stdout
        assert 'over 64x64, 47x33, 101x65 (limit 1e-4)' in stdout

    # new sizes, odd and below the pyramid's padding multiple, and a non-square style
    net = _dygraph(weights, levels)
    fewer = _dygraph(weights, levels - 1)
    predictors = [Predictor(out, threads=1)] + [create_predictor(out, b, threads=1)
                                                for b in ('onnxruntime', 'openvino')]
    rng = np.random.default_rng(3)
    style = rng.random((1, 3, 70, 93), dtype=np.float32)
    for h, w in ((37, 53), (90, 31), (20, 21)):
        content = rng.random((1, 3, h, w), dtype=np.float32)
        ref = _run(net, content, style)
        for predictor in predictors:
            got = predictor(content, style)
            assert got.shape == (1, 3, h, w), predictor.backend
            assert np.abs(got - ref).max() < 1e-4, predictor.backend
        assert 0.0 <= got.min() and got.max() <= 1.0 and got.std() > 0.01
        # the top revision level is in the graph: without it the result differs
        assert np.abs(got - _run(fewer, content, style)).max() > 1e-3


def _photos(folder, sizes):
    from skimage import data

    os.makedirs(folder, exist_ok=True)
    photo = data.astronaut()[:, :, ::-1]
    for name, (h, w) in sizes.items():
        cv2.imwrite(os.path.join(folder, name), cv2.resize(photo, (w, h)))


def test_stylize_model_dir_matches_weights_at_odd_sizes_and_keeps_finished(work, capsys):
    root, weights, exports = work
    src = str(root / 'photos')
    sizes = {'a.png': (101, 77), 'b.jpg': (45, 130), 'c.png': (20, 21)}
    _photos(src, sizes)
    style = str(root / 'gravel.png')
    from skimage import data
    cv2.imwrite(style, data.gravel())
    by_model, by_weights = str(root / 'by_model'), str(root / 'by_weights')
    assert main(['stylize', '--content', src, '--style', style, '--model_dir', exports[2][0],
                 '--output', by_model, '--no-cuda']) == 0
    printed = capsys.readouterr().out
    assert 'stylized 3 image(s)' in printed
    assert f'backend: {choose_backend(read_model_dir(exports[2][0]))}, precision: fp32' in printed
    assert main(['stylize', '--content', src, '--style', style, '--weights', weights,
                 '--levels', '2', '--output', by_weights, '--no-cuda']) == 0
    capsys.readouterr()
    for name, (h, w) in sizes.items():
        png = os.path.splitext(name)[0] + '.png'
        a = cv2.imread(os.path.join(by_model, png)).astype(int)
        b = cv2.imread(os.path.join(by_weights, png)).astype(int)
        assert a.shape == (h, w, 3) and a.std() > 2, name
        assert np.abs(a - b).max() <= 1 and np.mean(a != b) < 0.01, name

    # finished outputs are kept, --overwrite recomputes them
    spoiled = os.path.join(by_model, 'a.png')
    cv2.imwrite(spoiled, np.zeros((101, 77, 3), np.uint8))
    assert main(['stylize', '--content', src, '--style', style, '--model_dir', exports[2][0],
                 '--output', by_model, '--no-cuda']) == 0
    assert 'stylized 0 image(s)' in capsys.readouterr().out
    assert cv2.imread(spoiled).max() == 0
    assert main(['stylize', '--content', os.path.join(src, 'a.png'), '--style', style,
                 '--model_dir', exports[2][0], '--output', by_model, '--no-cuda',
                 '--overwrite']) == 0
    assert 'stylized 1 image(s)' in capsys.readouterr().out
    np.testing.assert_array_equal(cv2.imread(spoiled), cv2.imread(os.path.join(by_model, 'a.png')))
    assert cv2.imread(spoiled).std() > 2


def _one_error(argv, capsys):
    rc = main(argv)
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1, lines
    return lines[0]


def test_kind_mismatch_and_flag_errors_are_one_line(work, tmp_path, capsys):
    root, weights, exports = work
    lap_dir = exports[2][0]
    src = str(tmp_path / 'in')
    _photos(src, {'p.png': (33, 41)})
    photo = os.path.join(src, 'p.png')

    config = sr_config(str(tmp_path / 'sr.yaml'), scale=2, norm='none')
    sr_weights = str(tmp_path / 'sr.pdparams')
    save_weights(config, sr_weights)
    sr_dir = str(tmp_path / 'sr_model')
    assert main(['export', '-c', config, '--load', sr_weights, '--output_dir', sr_dir]) == 0
    capsys.readouterr()

    out = str(tmp_path / 'out')
    msg = _one_error(['stylize', '--content', photo, '--style', photo, '--model_dir', sr_dir,
                      '--output', out], capsys)
    assert f"--model-dir {sr_dir}: a 'sr' model" in msg and 'paddlegan infer' in msg
    msg = _one_error(['infer', '--model-dir', lap_dir, '--input', photo, '--output', out],
                     capsys)
    assert f"--model-dir {lap_dir}: a 'stylize' model" in msg
    assert 'paddlegan stylize --model-dir' in msg
    msg = _one_error(['stylize', '--content', photo, '--style', photo, '--model-dir', lap_dir,
                      '--weights', weights, '--output', out], capsys)
    assert 'mutually exclusive' in msg
    msg = _one_error(['stylize', '--content', photo, '--style', photo, '--output', out], capsys)
    assert '--load' in msg and '--model-dir' in msg
    msg = _one_error(['stylize', '--content', photo, '--style', photo, '--model_dir', lap_dir,
                      '--levels', '1', '--output', out], capsys)
    assert msg.startswith('error: --levels 1: ') and '2 revision level(s)' in msg
    msg = _one_error(['stylize', '--content', photo, '--style', photo, '--model_dir', lap_dir,
                      '--backend', 'paddle', '--precision', 'bf16', '--output', out], capsys)
    assert msg.startswith('error: --precision bf16: the paddle backend')
    msg = _one_error(['stylize', '--content', photo, '--style', photo, '--weights', weights,
                      '--precision', 'bf16', '--output', out], capsys)
    assert '--backend/--precision' in msg and '--load' in msg
    assert not os.path.exists(out)

    # a level-1 weight file cannot make the 2-level pyramid of the config
    level1 = write_lapstyle_weights(tmp_path / 'rev1_weight.pdparams', levels=1)
    msg = _one_error(['export', '-c', TINY, '--load', level1, '--output_dir',
                      str(tmp_path / 'never')] + _revision_overrides(2), capsys)
    assert f'--load {level1}: ' in msg and "no 'net_rev_2' weights" in msg
    assert not os.path.exists(tmp_path / 'never')
