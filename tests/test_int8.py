"""int8: paddlegan quantize on a briefly trained SR net, the parity guard, --precision int8."""
import json
import os

import cv2
import numpy as np
import pytest

from ppgan_ext.cli import main
from ppgan_ext.deploy.cpu import int8_flags
from ppgan_ext.deploy.model_dir import read_model_dir
from ppgan_ext.deploy.sidecar import SIDECAR_NAME


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A TransposeSRResNet x2 trained briefly on scikit-image photos, exported (fp32 + ONNX)."""
    from ppgan_ext.engine.brief_sr import train_brief_sr

    root = tmp_path_factory.mktemp('int8')
    run = train_brief_sr(str(root / 'train'), iters=60, batch=4)
    model_dir = str(root / 'model')
    assert main(['export', '-c', run['config'], '--load', run['weights'], '--output_dir',
                 model_dir, '--no-parity']) == 0
    return root, run, model_dir


def _error(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def _fp32_copy(model_dir: str, folder: str) -> str:
    """A copy of the exported folder without any int8 graph (whatever earlier tests wrote)."""
    import shutil

    shutil.copytree(model_dir, folder)
    with open(os.path.join(folder, SIDECAR_NAME)) as f:
        sidecar = json.load(f)
    sidecar.pop('int8', None)
    with open(os.path.join(folder, SIDECAR_NAME), 'w') as f:
        json.dump(sidecar, f)
    for name in os.listdir(folder):
        if name.endswith('.int8.onnx'):
            os.unlink(os.path.join(folder, name))
    return folder


def _photo(root) -> str:
    """A 96x64 photo beside the trained model (written once)."""
    from ppgan_ext.sample_data import sample_image

    photo = str(root / 'photo.png')
    if not os.path.isfile(photo):
        cv2.imwrite(photo, cv2.resize(cv2.cvtColor(sample_image('coffee'), cv2.COLOR_RGB2BGR),
                                      (96, 64), interpolation=cv2.INTER_AREA))
    return photo


def test_int8_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('model name\t: Some CPU\nflags\t\t: fpu sse2 avx2 avx512_vnni amx_int8\n')
    from ppgan_ext.deploy.cpu import cpu_flags, cpu_name

    assert int8_flags(cpu_flags(str(cpuinfo))) == ['amx_int8', 'avx512_vnni']
    assert int8_flags({'avx2', 'fma'}) == []
    assert cpu_name(str(cpuinfo)) == 'Some CPU'


def test_quantize_keeps_quality_and_int8_runs_beside_fp32(trained, tmp_path, capsys):
    root, run, model_dir = trained
    assert main(['quantize', '--model_dir', model_dir]) == 0
    out = capsys.readouterr().out
    info = read_model_dir(model_dir)
    record = info.sidecar.int8
    assert info.int8_file == os.path.join(model_dir, 'basesrmodel_generator.int8.onnx')
    assert os.path.isfile(info.int8_file) and record['quantizer'].startswith('nncf ')
    # the guard's figures: held-out PSNR of both, the loss within the margin
    assert record['psnr_fp32_db'] > 25.0 and record['margin_db'] == 0.1
    assert record['loss_db'] == pytest.approx(record['psnr_fp32_db'] - record['psnr_int8_db'],
                                              abs=1e-3)
    assert record['loss_db'] <= 0.1 and 'run it with --precision int8' in out

    photo = _photo(root)
    outs = {}
    for precision in ('fp32', 'int8'):
        dst = str(tmp_path / precision)
        assert main(['infer', '--model_dir', model_dir, '--input', photo, '--output', dst,
                     '--precision', precision]) == 0
        assert f'backend: openvino, precision: {precision}' in capsys.readouterr().out
        outs[precision] = cv2.imread(os.path.join(dst, 'photo.png')).astype(np.float64)
    assert outs['int8'].shape == (128, 192, 3)
    diff = outs['int8'] - outs['fp32']
    assert 0 < np.abs(diff).max() and 10 * np.log10(255 ** 2 / np.mean(diff ** 2)) > 35


def test_int8_is_refused_when_calibration_misleads_it(trained, tmp_path, capsys):
    """Calibrated on near-black images, the int8 ranges clip real photos: refused, nothing kept."""
    root, run, model_dir = trained
    refused_dir = _fp32_copy(model_dir, str(tmp_path / 'model'))
    dark = tmp_path / 'dark'
    dark.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(dark / f'{i}.png'), rng.integers(0, 6, (48, 48, 3), dtype=np.uint8))
    before = sorted(os.listdir(refused_dir))
    assert main(['quantize', '--model_dir', refused_dir, '--calibration', str(dark)]) == 1
    line = _error(capsys)
    assert line.startswith('error: int8 refused: it loses ') and 'margin 0.1 dB' in line
    assert sorted(os.listdir(refused_dir)) == before
    assert read_model_dir(refused_dir).int8_file is None


def test_int8_requests_that_cannot_run_are_one_line(trained, tmp_path, capsys):
    root, run, _ = trained
    plain = str(tmp_path / 'plain')
    assert main(['export', '-c', run['config'], '--load', run['weights'], '--output_dir', plain,
                 '--no-parity']) == 0
    capsys.readouterr()
    photo = _photo(root)   # also when this test runs alone
    assert main(['infer', '--model_dir', plain, '--input', photo, '--output',
                 str(tmp_path / 'o'), '--precision', 'int8']) == 2
    assert f'paddlegan quantize --model-dir {plain}' in _error(capsys)
    assert main(['infer', '--model_dir', plain, '--input', photo, '--output',
                 str(tmp_path / 'o'), '--precision', 'int8', '--backend', 'onnxruntime']) == 2
    assert '--backend openvino' in _error(capsys)


def test_reexport_drops_the_int8_graph(trained, tmp_path, capsys):
    root, run, model_dir = trained
    if read_model_dir(model_dir).int8_file is None:
        assert main(['quantize', '--model_dir', model_dir]) == 0
    assert main(['export', '-c', run['config'], '--load', run['weights'], '--output_dir',
                 model_dir, '--no-parity']) == 0
    info = read_model_dir(model_dir)
    assert info.int8_file is None and info.sidecar.int8 is None
    assert not [n for n in os.listdir(model_dir) if n.endswith('.int8.onnx')]


def test_quantize_heldout_from_degrade_crops_the_ground_truth(trained, tmp_path, capsys):
    """Held-out inputs made by `paddlegan degrade --scale 2` from odd-sized photos: the ground
    truth is cropped as degrade cropped it, instead of a size error."""
    from ppgan_ext.sample_data import sample_image

    root, run, model_dir = trained
    folder = _fp32_copy(model_dir, str(tmp_path / 'model'))
    gt, lq = tmp_path / 'gt', tmp_path / 'lq'
    gt.mkdir()
    for name in ('chelsea', 'rocket'):
        photo = cv2.resize(sample_image(name), (97, 65), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(gt / f'{name}.png'), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    assert main(['degrade', str(gt), str(lq), '--scale', '2', '--prob', '0.05',
                 '--blur', '3']) == 0
    assert cv2.imread(str(lq / 'chelsea.png')).shape == (32, 48, 3)
    capsys.readouterr()
    assert main(['quantize', '--model-dir', folder, '--heldout', str(lq), '--heldout-gt',
                 str(gt), '--margin', '5']) == 0, capsys.readouterr().err
    record = read_model_dir(folder).sidecar.int8
    assert record['heldout'] == str(lq) and record['psnr_fp32_db'] > 20.0
