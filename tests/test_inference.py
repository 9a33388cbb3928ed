"""``paddlegan infer``: outputs, metric table and CSV, skipping, tiling, memory, bad input."""
import csv
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from _export_helpers import (ROOT, dygraph_net, dygraph_run, env, error_lines, rgb_input,
                             save_weights, sr_config, to_png_pixels, write_photo_pairs)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """Tiny TransposeSRResNet x4 exported in-process, with its dynamic-graph twin."""
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model

    root = tmp_path_factory.mktemp('infer_model')
    config = sr_config(str(root / 'sr.yaml'))
    weights_file = str(root / 'w.pdparams')
    weights = save_weights(config, weights_file, seed=1)
    export_model(load_config(config), weights_file, str(root / 'model'))
    return dict(dir=str(root / 'model'), net=dygraph_net(config, weights), config=config,
                root=root)


@pytest.fixture(scope='module')
def data(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp('infer_data')
    dirs = write_photo_pairs(str(root), photos, ['astronaut', 'coffee', 'chelsea'])
    # one more image in a sub-folder, GT mirrored there
    os.makedirs(os.path.join(dirs['lq'], 'more'))
    os.makedirs(os.path.join(dirs['gt'], 'more'))
    for name in ('rocket',):
        sub = write_photo_pairs(str(root / 'tmp'), photos, [name], size=(64, 80))
        shutil.move(os.path.join(sub['lq'], name + '.png'), os.path.join(dirs['lq'], 'more'))
        shutil.move(os.path.join(sub['gt'], name + '.png'), os.path.join(dirs['gt'], 'more'))
    return dirs


def _psnr(a: np.ndarray, b: np.ndarray, border: int) -> float:
    a = a[border:-border, border:-border].astype(np.float64)
    b = b[border:-border, border:-border].astype(np.float64)
    return 10 * np.log10(255.0 ** 2 / np.mean((a - b) ** 2))


def _ssim(a: np.ndarray, b: np.ndarray, border: int) -> float:
    from skimage.metrics import structural_similarity

    a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return float(np.mean([structural_similarity(a[..., c], b[..., c], data_range=255,
                                                gaussian_weights=True, sigma=1.5,
                                                use_sample_covariance=False)
                          for c in range(a.shape[2])]))


def test_folder_with_gt_writes_pngs_table_and_csv(model, data, tmp_path, capsys):
    from ppgan_ext.cli import main

    out = str(tmp_path / 'sr')
    rc = main(['infer', '--model_dir', model['dir'], '--input', data['lq'], '--output', out,
               '--gt', data['gt']])
    stdout = capsys.readouterr().out
    assert rc == 0
    names = ['astronaut.png', 'chelsea.png', 'coffee.png', os.path.join('more', 'rocket.png')]
    for name in names:
        lq = os.path.join(data['lq'], name)
        written = cv2.imread(os.path.join(out, name), cv2.IMREAD_UNCHANGED)
        # the PNG is the dynamic-graph output, rounded (1 level for float ties)
        expected = to_png_pixels(dygraph_run(model['net'], rgb_input(lq)))
        assert written.shape == expected.shape == (4 * cv2.imread(lq).shape[0],
                                                   4 * cv2.imread(lq).shape[1], 3)
        assert np.abs(written.astype(int) - expected).max() <= 1
    with open(os.path.join(out, 'metrics.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [r['image'] for r in rows] == sorted(names) + ['mean']
    for row in rows[:-1]:
        sr = cv2.imread(os.path.join(out, row['image']))
        gt = cv2.imread(os.path.join(data['gt'], row['image']))
        assert float(row['psnr']) == pytest.approx(_psnr(sr, gt, 4), abs=1e-3)
        assert float(row['ssim']) == pytest.approx(_ssim(sr, gt, 4), abs=2e-3)
    mean_psnr = np.mean([float(r['psnr']) for r in rows[:-1]])
    assert float(rows[-1]['psnr']) == pytest.approx(mean_psnr, rel=1e-9)
    assert f'{mean_psnr:8.4f}' in stdout.splitlines()[-2]
    assert 'wrote 4 image(s)' in stdout


def test_gt_of_degrade_scale_is_cropped_as_degrade_cropped_it(model, photos, tmp_path, capsys):
    """`paddlegan degrade --scale 4` cuts photos to a multiple of 4; `infer --gt` scores
    against the same crop of the original instead of refusing the size."""
    from ppgan_ext.cli import main

    gt_dir, lq_dir, out = tmp_path / 'gt', tmp_path / 'lq', str(tmp_path / 'sr')
    gt_dir.mkdir()
    cv2.imwrite(str(gt_dir / 'coffee.png'), photos['coffee'][:103, :150])  # 103 = 4 * 25 + 3
    cv2.imwrite(str(gt_dir / 'wide.png'), photos['chelsea'][:64, :90])
    assert main(['degrade', str(gt_dir), str(lq_dir), '--scale', '4', '--prob', '0.05',
                 '--blur', '3']) == 0
    assert cv2.imread(str(lq_dir / 'coffee.png')).shape == (25, 37, 3)
    cv2.imwrite(str(gt_dir / 'wide.png'), photos['chelsea'][:64, :99])  # now 9 px too wide
    capsys.readouterr()
    assert main(['infer', '--model_dir', model['dir'], '--input', str(lq_dir), '--output', out,
                 '--gt', str(gt_dir)]) == 1   # one image could not be scored
    stderr = capsys.readouterr().err
    rows = list(csv.DictReader(open(os.path.join(out, 'metrics.csv'))))
    assert [r['image'] for r in rows] == ['coffee.png', 'mean']
    sr = cv2.imread(os.path.join(out, 'coffee.png'))
    assert sr.shape == (100, 148, 3)
    assert float(rows[0]['psnr']) == pytest.approx(
        _psnr(sr, photos['coffee'][:100, :148], 4), abs=1e-3)
    # a real size mismatch names the output and the ground-truth file with their sizes
    assert ('wide.png: output 88x64x3 differs from the ground truth 99x64x3 '
            f'{gt_dir / "wide.png"} (not scored)') in stderr


def test_existing_outputs_are_kept_unless_overwrite(model, data, tmp_path, capsys):
    from ppgan_ext.cli import main

    out = str(tmp_path / 'sr')
    args = ['infer', '--model_dir', model['dir'], '--input', data['lq'], '--output', out,
            '--gt', data['gt']]
    assert main(args) == 0
    target = os.path.join(out, 'coffee.png')
    good = cv2.imread(target)
    cv2.imwrite(target, np.zeros_like(good))  # a "finished" output that differs
    capsys.readouterr()
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert 'wrote 0 image(s)' in stdout and 'kept 4 existing' in stdout
    assert cv2.imread(target).max() == 0
    rows = {r['image']: r for r in csv.DictReader(open(os.path.join(out, 'metrics.csv')))}
    assert float(rows['coffee.png']['psnr']) < 10  # scored from the kept file
    assert main(args + ['--overwrite']) == 0
    assert np.array_equal(cv2.imread(target), good)


def test_tiled_equals_untiled(model, photos, tmp_path):
    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
    from ppgan_ext.image_io import read_input
    from ppgan_ext.tiling import tile_starts, tiled_apply

    path = str(tmp_path / 'lq.png')
    cv2.imwrite(path, photos['chelsea'][:75, :101])  # odd sizes: uneven tiles
    image = read_input(path)
    predictor = Predictor(model['dir'], threads=1)
    whole = tiled_apply(predictor, image, 4, 0, 0)
    assert np.abs(whole - dygraph_run(model['net'], image[None])[0]).max() < 1e-4
    tiled = tiled_apply(predictor, image, 4, 32, 16)
    assert len(tile_starts(75, 32, 16)) * len(tile_starts(101, 32, 16)) == 4 * 6
    assert np.abs(tiled - whole).max() < 1e-5
    # a too-small overlap is no longer exact, but the blend keeps it close
    rough = tiled_apply(predictor, image, 4, 24, 4)
    assert 1e-5 < np.abs(rough - whole).max() < 0.1

    from ppgan_ext.cli import main
    assert main(['infer', '--model_dir', model['dir'], '--input', path,
                 '--output', str(tmp_path / 'a')]) == 0
    assert main(['infer', '--model_dir', model['dir'], '--input', path,
                 '--output', str(tmp_path / 'b'), '--tile', '32', '--tile-overlap', '16']) == 0
    a = cv2.imread(str(tmp_path / 'a' / 'lq.png')).astype(int)
    b = cv2.imread(str(tmp_path / 'b' / 'lq.png')).astype(int)
    assert np.abs(a - b).max() <= 1 and np.mean(a != b) < 1e-3


def test_tile_grid_and_weights():
    from ppgan_ext.tiling import _axis_weights, tile_starts

    for length, tile, overlap in ((100, 32, 8), (75, 32, 16), (33, 32, 4), (20, 32, 4)):
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] == max(length - tile, 0)
        for a, b in zip(starts, starts[1:]):
            assert a + tile - b >= overlap
        weights = np.zeros(length * 2)
        for i, s in enumerate(starts):
            w = _axis_weights(starts, i, tile, length, 2, 0.375)
            weights[2 * s:2 * s + len(w)] += w
        assert np.allclose(weights, 1.0, atol=1e-6)  # two neighbours always sum to 1
    with pytest.raises(ValueError, match='overlap must be in'):
        tile_starts(100, 32, 32)


@pytest.mark.e2e
def test_tiled_4096_output_peak_memory_under_2gib(model, photos, tmp_path):
    big = cv2.resize(photos['astronaut'], (1024, 1024), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(tmp_path / 'big.png'), big)
    code = ("import sys; from ppgan_ext.cli import main; rc = main(sys.argv[1:]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print('PEAK_KB', hwm.split()[1]); sys.exit(rc)")
    proc = subprocess.run([sys.executable, '-c', code, 'infer', '--model_dir', model['dir'],
                           '--input', str(tmp_path / 'big.png'), '--output',
                           str(tmp_path / 'out'), '--tile', '256', '--tile-overlap', '16'],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    peak_kb = int(proc.stdout.split('PEAK_KB')[1].split()[0])
    assert peak_kb < 2 * 1024 * 1024, f'peak RSS {peak_kb / 1024:.0f} MiB'
    out = cv2.imread(str(tmp_path / 'out' / 'big.png'))
    assert out.shape == (4096, 4096, 3)


def test_model_dir_errors_are_one_line(model, data, tmp_path, capsys):
    from ppgan_ext.cli import main

    def run(model_dir, *extra):
        rc = main(['infer', '--model_dir', model_dir, '--input', data['lq'],
                   '--output', str(tmp_path / 'o')] + list(extra))
        lines = error_lines(capsys.readouterr().err)
        assert rc == 2 and len(lines) == 1, lines
        return lines[0]

    assert 'no such folder' in run(str(tmp_path / 'nope'))
    os.makedirs(tmp_path / 'empty')
    assert 'no model graph' in run(str(tmp_path / 'empty'))
    for missing in ('basesrmodel_generator.pdiparams', 'basesrmodel_generator.json',
                    'basesrmodel_generator.onnx'):
        broken = tmp_path / f'no_{missing}'
        shutil.copytree(model['dir'], broken)
        os.remove(broken / missing)
        assert f'{missing} is missing' in run(str(broken))
    truncated = tmp_path / 'truncated'
    shutil.copytree(model['dir'], truncated)
    params = truncated / 'basesrmodel_generator.pdiparams'
    params.write_bytes(params.read_bytes()[:1000])
    assert 'Paddle Inference cannot load basesrmodel_generator.json + ' in run(
        str(truncated), '--backend', 'paddle')
    onnx_file = truncated / 'basesrmodel_generator.onnx'
    onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    assert 'ONNX Runtime cannot load ' in run(str(truncated), '--backend', 'onnxruntime')
    assert 'OpenVINO cannot load ' in run(str(truncated), '--backend', 'openvino')
    bad_sidecar = tmp_path / 'bad_sidecar'
    shutil.copytree(model['dir'], bad_sidecar)
    (bad_sidecar / 'ppgan_ext.json').write_text('{"format": "something else"}')
    assert 'not a ppgan_ext.inference/1 sidecar' in run(str(bad_sidecar))
    assert '--tile-overlap must be in' in run(model['dir'], '--tile', '16', '--tile-overlap', '16')
    assert not os.path.exists(tmp_path / 'o')


def test_input_channel_handling(model, photos, tmp_path, capsys):
    from ppgan_ext.cli import main
    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
    from ppgan_ext.image_io import read_input

    rgb = photos['coffee'][:30, :40]
    gray = cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / 'gray.png'), gray)
    cv2.imwrite(str(tmp_path / 'gray3.png'), np.stack([gray] * 3, -1))
    opaque = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1)
    cv2.imwrite(str(tmp_path / 'opaque.png'), opaque)
    transparent = opaque.copy()
    transparent[:5, :5, 3] = 0
    cv2.imwrite(str(tmp_path / 'transparent.png'), transparent)
    cv2.imwrite(str(tmp_path / 'rgb.png'), rgb)
    cv2.imwrite(str(tmp_path / 'rgb16.png'), rgb.astype(np.uint16) * 257)

    # grayscale is copied to 3 channels; opaque alpha dropped; 16-bit scaled
    assert np.array_equal(read_input(str(tmp_path / 'gray.png')),
                          read_input(str(tmp_path / 'gray3.png')))
    assert np.array_equal(read_input(str(tmp_path / 'opaque.png')),
                          read_input(str(tmp_path / 'rgb.png')))
    assert np.allclose(read_input(str(tmp_path / 'rgb16.png')),
                       read_input(str(tmp_path / 'rgb.png')), atol=1e-6)
    rc = main(['infer', '--model_dir', model['dir'], '--input', str(tmp_path / 'gray.png'),
               '--output', str(tmp_path / 'out')])
    assert rc == 0 and cv2.imread(str(tmp_path / 'out' / 'gray.png')).shape == (120, 160, 3)

    rc = main(['infer', '--model_dir', model['dir'], '--input',
               str(tmp_path / 'transparent.png'), '--output', str(tmp_path / 'out')])
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1 and 'transparent.png: has transparency' in lines[0]

    # a 1-channel model refuses colour images rather than guessing a conversion
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model

    config = sr_config(str(tmp_path / 'gray.yaml'), in_channels=1, out_channels=1, scale=2)
    report = export_model(load_config(config), None, str(tmp_path / 'm1'),
                          parity_sizes=[(9, 11)])
    assert json.load(open(tmp_path / 'm1' / 'ppgan_ext.json'))['in_channels'] == 1
    assert report.max_abs_diff < 1e-4
    rc = main(['infer', '--model_dir', str(tmp_path / 'm1'), '--input',
               str(tmp_path / 'rgb.png'), '--output', str(tmp_path / 'out1')])
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1
    assert "rgb.png: 3-channel image, but the model takes 1-channel input" in lines[0]
    assert main(['infer', '--model_dir', str(tmp_path / 'm1'), '--input',
                 str(tmp_path / 'gray.png'), '--output', str(tmp_path / 'out1')]) == 0
    out = cv2.imread(str(tmp_path / 'out1' / 'gray.png'), cv2.IMREAD_UNCHANGED)
    assert out.shape == (60, 80)
    expected = Predictor(str(tmp_path / 'm1'), threads=1)(read_input(str(tmp_path / 'gray.png'),
                                                                      channels=1)[None])
    assert np.abs(out.astype(int) - np.rint(np.clip(expected[0, 0], 0, 1) * 255)).max() <= 1


def test_folder_keeps_going_past_a_bad_file_and_never_overwrites_inputs(model, data, tmp_path,
                                                                        capsys):
    from ppgan_ext.cli import main

    src = tmp_path / 'src'
    shutil.copytree(data['lq'], src)
    (src / 'broken.png').write_bytes(b'not a png')
    rc = main(['infer', '--model_dir', model['dir'], '--input', str(src),
               '--output', str(tmp_path / 'out')])
    captured = capsys.readouterr()
    assert rc == 1
    assert 'skipped 1: ' in captured.err and 'broken.png: cannot be decoded' in captured.err
    assert len(os.listdir(tmp_path / 'out')) == 4  # 3 PNGs + the 'more' folder

    before = {p: open(os.path.join(src, p), 'rb').read() for p in ('coffee.png',)}
    rc = main(['infer', '--model_dir', model['dir'], '--input', str(src),
               '--output', str(src)])
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1 and 'would overwrite an input image' in lines[0]
    assert open(src / 'coffee.png', 'rb').read() == before['coffee.png']


def test_model_without_sidecar_is_probed(model, data, tmp_path):
    """A folder as PaddleGAN's own export leaves it (graph + weights only)."""
    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor

    bare = tmp_path / 'bare'
    shutil.copytree(model['dir'], bare)
    os.remove(bare / 'ppgan_ext.json')
    predictor = Predictor(str(bare), threads=1)
    assert (predictor.info.scale, predictor.info.in_channels, predictor.info.out_channels) == \
        (4, 3, 3)
    from ppgan_ext.cli import main
    lq = os.path.join(data['lq'], 'coffee.png')
    assert main(['infer', '--model_dir', str(bare), '--input', lq,
                 '--output', str(tmp_path / 'o')]) == 0
    expected = to_png_pixels(dygraph_run(model['net'], rgb_input(lq)))
    assert np.abs(cv2.imread(str(tmp_path / 'o' / 'coffee.png')).astype(int) - expected).max() <= 1


def test_tta_writes_the_mean_of_the_eight_transformed_dygraph_outputs(model, photos, tmp_path,
                                                                       capsys):
    from ppgan_ext.cli import main
    from ppgan_ext.image_io import read_input

    path = str(tmp_path / 'lq.png')
    cv2.imwrite(path, photos['coffee'][:30, :41])   # not square: the transposed runs differ
    assert main(['infer', '--model_dir', model['dir'], '--input', path,
                 '--output', str(tmp_path / 'tta'), '--tta']) == 0
    assert 'self-ensemble x8' in capsys.readouterr().out
    image = read_input(path)[None]
    expected = np.zeros((3, 120, 164), np.float64)
    for k in range(4):   # rotations by k * 90 degrees, with and without a flip
        for flip in (False, True):
            x = np.rot90(image[..., ::-1] if flip else image, k, axes=(2, 3))
            y = np.rot90(dygraph_run(model['net'], np.ascontiguousarray(x)), -k, axes=(2, 3))
            expected += (y[..., ::-1] if flip else y)[0] / 8
    written = cv2.imread(str(tmp_path / 'tta' / 'lq.png')).astype(int)
    assert np.abs(written - to_png_pixels(expected[None])).max() <= 1
    plain = to_png_pixels(dygraph_run(model['net'], image))
    assert np.abs(written - plain).max() > 2   # the ensemble changed the output
    assert main(['infer', '--model', 'realesr-animevideov3-x4', '--input', path, '--output',
                 str(tmp_path / 'x'), '--tta']) == 2
    assert '--tta runs an exported --model-dir' in capsys.readouterr().err
