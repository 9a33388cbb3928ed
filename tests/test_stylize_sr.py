"""Stylize + upscale: `stylize --upscale`, the fused export, StylizedSRDataset and their configs."""
import json
import os

import cv2
import numpy as np
import paddle
import pytest
import yaml

from _export_helpers import error_lines, save_weights, sr_config
from _fusion_helpers import png_pixels, read_rgb_float, write_lapstyle_weights, write_photo
from ppgan_ext.cli import main
from ppgan_ext.config import load_config, validate_config
from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
from ppgan_ext.deploy.export import export_model
from ppgan_ext.models.generators.lapstyle_pyramid import pyramid_from_weights
from ppgan_ext.models.generators.stylize_sr import StylizeSRNet
from ppgan_ext.tiling import tiled_apply

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = dict(scale=2, norm='none', global_residual=True)


@pytest.fixture(scope='module')
def parts(tmp_path_factory):
    """Tiny 1-level LapStyle weights, a tiny x2 SR net (weights + config + export), images."""
    root = tmp_path_factory.mktemp('stylize_sr')
    lap = write_lapstyle_weights(str(root / 'lap.pdparams'), levels=1, seed=4)
    config = sr_config(str(root / 'sr.yaml'), **SR)
    weights = str(root / 'sr.pdparams')
    save_weights(config, weights, seed=5)
    sr_dir = str(root / 'sr_model')
    export_model(load_config(config), weights, sr_dir, parity_sizes=[(12, 10)])
    photo = write_photo(str(root / 'in' / 'coffee.png'), 'coffee', (45, 62))
    style = write_photo(str(root / 'style.png'), 'brick', (70, 90))
    return dict(root=root, lap=lap, config=config, weights=weights, sr_dir=sr_dir,
                photo=photo, style=style)


def _stylized(parts):
    """The pyramid's float output for the photo, computed here from the weight file."""
    from ppgan_ext.apps.stylizer import resize_style, to_batch
    from ppgan_ext.datasets.lapstyle_dataset import read_rgb

    net = pyramid_from_weights(parts['lap'])
    style = to_batch(resize_style(read_rgb(parts['style']), 256, net.semantics))
    with paddle.no_grad():
        return net(paddle.to_tensor(read_rgb_float(parts['photo'])),
                   paddle.to_tensor(style)).numpy()


def _stylize(parts, out, *extra):
    argv = ['stylize', '--content', parts['photo'], '--style', parts['style'], '--weights',
            parts['lap'], '--output', out, '--no-cuda'] + list(extra)
    assert main(argv) == 0
    return cv2.imread(os.path.join(out, 'coffee.png'))


def test_stylize_upscale_is_the_pyramid_then_the_tiled_sr_model(parts, capsys):
    root = parts['root']
    got = _stylize(parts, str(root / 'up_dir'), '--upscale', parts['sr_dir'],
                   '--upscale-tile', '16', '--upscale-tile-overlap', '4')
    stylized = np.clip(_stylized(parts), 0, 1)
    predictor = Predictor(parts['sr_dir'], threads=1)
    ref = tiled_apply(predictor, stylized[0], 2, 16, 4)[None]
    want = png_pixels(ref)
    assert got.shape == (90, 124, 3)
    assert np.abs(got.astype(int) - want).max() <= 1 and np.mean(got != want) < 0.01
    assert got.std() > 2
    # not just any x2 of the stylization: bicubic of it is far from the result
    bicubic = cv2.resize(png_pixels(stylized), (124, 90), interpolation=cv2.INTER_CUBIC)
    assert np.abs(got.astype(int) - bicubic).mean() > 1

    # weights + config run the same net as a dynamic graph: the same pixels up to rounding
    by_weights = _stylize(parts, str(root / 'up_weights'), '--upscale', parts['weights'],
                          '--upscale-config', parts['config'], '--upscale-tile', '16',
                          '--upscale-tile-overlap', '4')
    assert np.abs(by_weights.astype(int) - got).max() <= 1

    # --work-size shrinks the content first: 45x62 -> 22x31 (22.5 rounded to even) -> x2
    small = _stylize(parts, str(root / 'up_small'), '--upscale', parts['sr_dir'],
                     '--work-size', '31')
    assert small.shape == (44, 62, 3)
    capsys.readouterr()


def _one_error(argv, capsys):
    rc = main(argv)
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1, lines
    return lines[0]


def test_stylize_upscale_errors_are_one_line_and_write_nothing(parts, tmp_path, capsys):
    out = str(tmp_path / 'out')
    base = ['stylize', '--content', parts['photo'], '--style', parts['style'], '--weights',
            parts['lap'], '--output', out]
    msg = _one_error(base + ['--upscale-config', parts['config']], capsys)
    assert msg == 'error: --upscale-config needs --upscale SR_MODEL'
    msg = _one_error(base + ['--upscale', parts['weights']], capsys)
    assert f"--upscale {parts['weights']}: a weight file needs its training config" in msg
    msg = _one_error(base + ['--upscale', str(tmp_path / 'nowhere')], capsys)
    assert 'no such file or folder' in msg
    msg = _one_error(base + ['--upscale', parts['sr_dir'], '--upscale-tile', '8',
                             '--upscale-tile-overlap', '8'], capsys)
    assert '--upscale-tile-overlap must be in [0, --upscale-tile)' in msg
    msg = _one_error(base + ['--upscale', parts['sr_dir'], '--upscale-config',
                             parts['config']], capsys)
    assert 'is an exported model folder, which needs no config' in msg
    same_size = sr_config(str(tmp_path / 'x1.yaml'), scale=1, norm='none')
    w1 = str(tmp_path / 'x1.pdparams')
    save_weights(same_size, w1)
    msg = _one_error(base + ['--upscale', w1, '--upscale-config', same_size], capsys)
    assert "the model's scale is x1; an upscaler must enlarge" in msg
    assert not os.path.exists(out)


def _fused_config(path, parts, **model):
    cfg = yaml.safe_load(open(os.path.join(ROOT, 'configs', 'stylize_sr_x4.yaml')))
    gen = yaml.safe_load(open(parts['config']))['model']['generator']
    cfg['model'].update(lapstyle_weights=parts['lap'], sr_weights=parts['weights'],
                        generator=gen, **model)
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)
    return str(path)


def test_fused_export_is_one_graph_matching_pyramid_then_upscaler(parts, tmp_path, capsys):
    config = _fused_config(tmp_path / 'fused.yaml', parts)
    out = str(tmp_path / 'fused_model')
    assert main(['export', '-c', config, '--output_dir', out]) == 0
    printed = capsys.readouterr().out
    assert 'exported stylize_sr (stylize, draft + 1 revision level(s)' in printed
    assert sorted(os.listdir(out)) == ['ppgan_ext.json', 'stylize_sr.json', 'stylize_sr.onnx',
                                       'stylize_sr.pdiparams']
    meta = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    assert meta['formats'] == ['paddle', 'onnx'] and meta['onnx_parity']['max_abs_diff'] < 1e-4
    assert meta['kind'] == 'stylize' and meta['levels'] == 1 and meta['upscale'] == 2
    assert [i['name'] for i in meta['inputs']] == ['content', 'style']
    assert meta['parity']['max_abs_diff'] < 1e-4 and len(meta['parity']['sizes']) == 3

    # the graph is the pyramid followed by the SR net, at new (odd) sizes
    pyramid = pyramid_from_weights(parts['lap'])
    from _export_helpers import dygraph_net
    sr = dygraph_net(parts['config'], {'generator': _generator_state(parts['weights'])})
    fused = StylizeSRNet(pyramid, sr)
    predictor = Predictor(out, threads=1)
    rng = np.random.default_rng(7)
    style = rng.random((1, 3, 40, 52), dtype=np.float32)
    for h, w in ((29, 37), (50, 21)):
        content = rng.random((1, 3, h, w), dtype=np.float32)
        got = predictor(content, style)
        with paddle.no_grad():
            ref = fused(paddle.to_tensor(content), paddle.to_tensor(style)).numpy()
            stylized = pyramid(paddle.to_tensor(content), paddle.to_tensor(style))
            upscaled = np.clip(sr(stylized).numpy(), 0, 1)
        assert got.shape == (1, 3, 2 * h, 2 * w)
        assert np.abs(got - ref).max() < 1e-4
        assert np.abs(ref - upscaled).max() < 1e-6
        assert got.std() > 0.01

    # `stylize --model_dir` runs the fused graph: the pixels of --weights + --upscale
    by_graph = str(tmp_path / 'by_graph')
    assert main(['stylize', '--content', parts['photo'], '--style', parts['style'],
                 '--model_dir', out, '--output', by_graph]) == 0
    a = cv2.imread(os.path.join(by_graph, 'coffee.png')).astype(int)
    b = _stylize(parts, str(tmp_path / 'by_parts'), '--upscale', parts['weights'],
                 '--upscale-config', parts['config'], '--upscale-tile', '0').astype(int)
    assert a.shape == (90, 124, 3) and np.abs(a - b).max() <= 1
    capsys.readouterr()


def _generator_state(path):
    from ppgan_ext.weight_files import read_state_file
    return read_state_file(path)['generator']


def test_fused_export_errors_name_the_key(parts, tmp_path, capsys):
    config = _fused_config(tmp_path / 'bad.yaml', parts)
    msg = _one_error(['export', '-c', config, '--output_dir', str(tmp_path / 'o'), '-o',
                      'model.levels=3'], capsys)
    assert 'model.lapstyle_weights' in msg and 'revision levels 0..1' in msg
    msg = _one_error(['export', '-c', config, '--output_dir', str(tmp_path / 'o'), '-o',
                      f"model.sr_weights={parts['lap']}"], capsys)
    assert "model.sr_weights" in msg and "no 'generator' weights" in msg
    msg = _one_error(['export', '-c', config, '--output_dir', str(tmp_path / 'o'), '-o',
                      'model.generator.num_feat=4'], capsys)
    assert 'model.sr_weights' in msg and 'shape' in msg
    assert not os.path.exists(tmp_path / 'o')


# ------------------------------------------------------------------ dataset
def _content_dir(root):
    folder = str(root / 'content')
    for name in ('astronaut', 'camera'):
        write_photo(os.path.join(folder, name + '.png'), name, (70, 80))
    return folder


def test_stylized_sr_dataset_pairs_are_the_pyramids_outputs(parts, tmp_path):
    from ppgan_ext.apps.stylizer import to_batch
    from ppgan_ext.datasets.lapstyle_dataset import read_rgb, resize_short_side
    from ppgan_ext.datasets.stylization_pairs_dataset import StylizedSRDataset

    content = _content_dir(tmp_path)
    common = dict(content_root=content, style_root=parts['style'],
                  lapstyle_weights=parts['lap'], scale=4, gt_size=64)
    test = StylizedSRDataset(mode='test', **common)
    assert len(test) == 2
    sample = test[1]
    assert sample['gt'].shape == (3, 64, 64) and sample['lq'].shape == (3, 16, 16)
    assert sample['gt'].dtype == np.float32 and sample['gt'].std() > 0.01
    # gt: a centre crop of the pyramid's stylization of the whole photo (cut to a multiple
    # of the scale: 68x80); lq: the matching crop of its area downscale
    img = read_rgb(os.path.join(content, 'camera.png'))[:68, :80]
    full = img.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    style = to_batch(resize_short_side(read_rgb(parts['style']), 256))
    net = pyramid_from_weights(parts['lap'])
    with paddle.no_grad():
        gt_full = net(paddle.to_tensor(full), paddle.to_tensor(style)).numpy()[0]
    np.testing.assert_allclose(sample['gt'], gt_full[:, 0:64, 8:72], atol=1e-5)
    lq_full = cv2.resize(gt_full.transpose(1, 2, 0), (20, 17), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(sample['lq'], lq_full.transpose(2, 0, 1)[:, 0:16, 2:18],
                               atol=1e-5)
    np.testing.assert_array_equal(test[1]['gt'], sample['gt'])   # test mode: same every time

    restyle = StylizedSRDataset(mode='test', lq_source='restylize', **common)[1]
    np.testing.assert_allclose(restyle['gt'], sample['gt'], atol=1e-6)
    small = cv2.resize(full[0].transpose(1, 2, 0), (20, 17), interpolation=cv2.INTER_AREA)
    with paddle.no_grad():
        lq2 = net(paddle.to_tensor(small.transpose(2, 0, 1)[None].copy()),
                  paddle.to_tensor(style)).numpy()[0]
    np.testing.assert_allclose(restyle['lq'], lq2[:, 0:16, 2:18], atol=1e-5)
    assert np.abs(restyle['lq'] - sample['lq']).max() > 1e-3

    train = StylizedSRDataset(mode='train', repeat=3, seed=1, **common)
    assert len(train) == 6
    a, b = train[0], train[0]
    assert a['gt'].shape == (3, 64, 64) and not np.array_equal(a['gt'], b['gt'])


def test_stylized_sr_dataset_errors(parts, tmp_path):
    from ppgan_ext.datasets.stylization_pairs_dataset import StylizedSRDataset

    content = _content_dir(tmp_path)
    common = dict(content_root=content, style_root=parts['style'],
                  lapstyle_weights=parts['lap'])
    with pytest.raises(ValueError, match='gt_size must be a multiple of scale 4'):
        StylizedSRDataset(gt_size=66, **common)
    with pytest.raises(ValueError, match=r"lq_source must be one of \('downscale', 'restylize'\)"):
        StylizedSRDataset(lq_source='bicubic', **common)
    with pytest.raises(ValueError, match='astronaut.png is 80x70, smaller than gt_size 96'):
        StylizedSRDataset(gt_size=96, **common)
    with pytest.raises(ValueError, match='not a LapStyle weight file'):
        StylizedSRDataset(**dict(common, lapstyle_weights=parts['weights']))
    with pytest.raises(FileNotFoundError, match='dataset.lapstyle_weights'):
        StylizedSRDataset(**dict(common, lapstyle_weights=str(tmp_path / 'none.pdparams')))


# ------------------------------------------------------------------ configs
@pytest.mark.parametrize('name', ['stylized_sr_x4.yaml', 'stylize_sr_x4.yaml'])
def test_fusion_configs_start_with_their_command_and_build(name, parts, tmp_path):
    from ppgan.datasets.builder import build_dataset
    from ppgan.models.builder import build_model

    path = os.path.join(ROOT, 'configs', name)
    head = ''.join(open(path).readlines()[:8])
    assert head.startswith('#') and name in head
    if name == 'stylized_sr_x4.yaml':
        content = _content_dir(tmp_path)
        opts = [f'dataset.{s}.{k}={v}' for s in ('train', 'test') for k, v in
                (('content_root', content), ('style_root', parts['style']),
                 ('lapstyle_weights', parts['lap']))]
        opts += ['dataset.train.gt_size=64', 'dataset.test.gt_size=64']
        cfg = load_config(path, opts)
        validate_config(cfg, source=path)
        model = build_model(cfg.model)
        assert model.nets['generator'].scale == 4
        sample = build_dataset({k: v for k, v in cfg.dataset.train.items()
                                if k not in ('batch_size', 'num_workers')})[0]
        assert sample['gt'].shape == (3, 64, 64) and sample['lq'].shape == (3, 16, 16)
    else:
        x4 = sr_config(str(tmp_path / 'x4.yaml'),
                       **load_config(path).model.generator)
        w4 = str(tmp_path / 'x4.pdparams')
        save_weights(x4, w4)
        cfg = load_config(path, [f"model.lapstyle_weights={parts['lap']}",
                                 f'model.sr_weights={w4}'])
        validate_config(cfg, is_train=False, source=path)
        model = build_model(cfg.model)
        assert model.levels == 1
        with paddle.no_grad():
            out = model.fused_net()(paddle.rand([1, 3, 24, 20]), paddle.rand([1, 3, 40, 40]))
        assert out.shape == [1, 3, 96, 80]


@pytest.mark.e2e
def test_stylized_sr_config_trains_and_validates_through_ppgans_trainer(parts, tmp_path):
    from _helpers import logged, run_main

    content = _content_dir(tmp_path)
    opts = [f'dataset.{s}.{k}={v}' for s in ('train', 'test') for k, v in
            (('content_root', content), ('style_root', parts['style']),
             ('lapstyle_weights', parts['lap']), ('gt_size', 64))]
    opts += [f'output_dir={tmp_path}/runs', 'total_iters=4', 'dataset.train.batch_size=2',
             'lr_scheduler.periods=[4]', 'validate.interval=4', 'snapshot_config.interval=4',
             'log_config.interval=2']
    proc = run_main(['-c', os.path.join(ROOT, 'configs', 'stylized_sr_x4.yaml'), '--no-cuda',
                     '--seed', '1', '-o'] + opts)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert len(logged(text, 'loss_pixel')) == 2
    psnr = logged(text, 'Metric psnr')
    assert len(psnr) == 1 and 5 < psnr[0] < 60
    [run] = os.listdir(tmp_path / 'runs')
    assert os.path.isfile(tmp_path / 'runs' / run / 'iter_4_weight.pdparams')
