"""Startup: the ONNX paths and every ``--help`` load neither Paddle nor ppgan; registration works.

Each command runs in its own interpreter, wrapped so that the names in
``sys.modules`` are written to a file when the process exits (after the
command's own ``sys.exit``); the assertions read that list.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from _export_helpers import env, save_weights, sr_config
from _fusion_helpers import write_lapstyle_weights, write_photo
from ppgan_ext.cli import COMMANDS, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_LAPSTYLE = os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml')
HEAVY = ('paddle', 'ppgan')

# argv: modules-file, then the code to run (or '-m' and the command line of `paddlegan`)
_WRAPPER = (
    "import atexit, json, runpy, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: json.dump(sorted(sys.modules), open(out, 'w')))\n"
    "if sys.argv[2] == '-m':\n"
    "    sys.argv = ['paddlegan'] + sys.argv[3:]\n"
    "    runpy.run_module('ppgan_ext.cli', run_name='__main__', alter_sys=True)\n"
    "else:\n"
    "    exec(sys.argv[2])\n")


def heavy(names) -> list:
    return sorted(n for n in names if n.split('.')[0] in HEAVY)


def run_python(args, tmp_path, timeout=240):
    """Run the wrapper with ``args``; (completed process, modules loaded at exit)."""
    listing = str(tmp_path / f'modules_{len(os.listdir(tmp_path))}.json')
    proc = subprocess.run([sys.executable, '-c', _WRAPPER, listing] + list(args), cwd=ROOT,
                          env=env(), capture_output=True, text=True, timeout=timeout)
    with open(listing) as f:
        return proc, set(json.load(f))


def paddlegan(args, tmp_path, **kwargs):
    return run_python(['-m'] + list(args), tmp_path, **kwargs)


@pytest.mark.e2e
def test_importing_the_package_and_its_shells_loads_neither_paddle_nor_ppgan(tmp_path):
    proc, names = run_python(['import ppgan_ext, ppgan_ext.cli, ppgan_ext.deploy, '
                              'ppgan_ext.deploy.backends.onnxruntime, '
                              'ppgan_ext.deploy.backends.openvino, ppgan_ext.zoo, '
                              'ppgan_ext.upscale, ppgan_ext.image_io'], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'ppgan_ext.deploy.backends.openvino' in names
    assert heavy(names) == []


@pytest.mark.e2e
@pytest.mark.parametrize('command', [None] + sorted(COMMANDS))
def test_every_help_answers_without_paddle_or_ppgan(command, tmp_path):
    proc, names = paddlegan(([command] if command else []) + ['--help'], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'usage: paddlegan' in proc.stdout
    assert heavy(names) == []


_REGISTERED = (
    "from ppgan.models.generators.builder import GENERATORS\n"
    "from ppgan.datasets.builder import DATASETS\n"
    "from ppgan.models.builder import MODELS\n"
    "from ppgan.metrics.builder import METRICS\n"
    "names = [GENERATORS.get('TransposeSRResNet'), GENERATORS.get('LapStylePyramidNet'),\n"
    "         DATASETS.get('SaltPepperDataset'), MODELS.get('SRGANModel'),\n"
    "         METRICS.get('StyleTransferLoss')]\n"
    "print(' '.join(c.__module__ for c in names))\n")


@pytest.mark.e2e
@pytest.mark.parametrize('first', [
    'import ppgan_ext',                                      # the plugin hook, then ppgan
    'import ppgan_ext.cli',                                  # a shell module, then ppgan
    'import ppgan_ext.metrics.style_loss_metric',            # registration starts inside ...
    'import ppgan_ext.models.lapstyle_model',                # ... a component module
    'import ppgan_ext.datasets.stylization_pairs_dataset',
    'import ppgan_ext.config',
    'from ppgan_ext import compat; compat.apply(); import ppgan.models; import ppgan_ext',
])
def test_components_are_registered_whichever_module_imports_ppgan_first(first, tmp_path):
    proc, names = run_python([first + '\n' + _REGISTERED], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = proc.stdout.split()
    assert len(modules) == 5 and all(m.startswith('ppgan_ext.') for m in modules), proc.stdout
    assert 'paddle' in names and 'ppgan.models' in names   # the modules list is read correctly


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """An exported tiny SR folder and LapStyle pyramid (one revision level), photos."""
    root = tmp_path_factory.mktemp('startup')
    sr_dir, lap_dir = str(root / 'sr'), str(root / 'lapstyle')
    config = sr_config(str(root / 'sr.yaml'))
    weights = str(root / 'sr_weight.pdparams')
    save_weights(config, weights, seed=0)
    assert main(['export', '-c', config, '--load', weights, '--output_dir', sr_dir,
                 '--no-parity']) == 0
    weights = write_lapstyle_weights(str(root / 'lap_weight.pdparams'), levels=1)
    assert main(['export', '-c', TINY_LAPSTYLE, '--load', weights, '--output_dir', lap_dir,
                 '--no-parity', '-o', 'model.stage=revision', 'model.levels=1']) == 0
    photo = write_photo(str(root / 'photo.png'), 'coffee', size=(64, 64))
    style = write_photo(str(root / 'style.png'), 'astronaut', size=(64, 64))
    return root, sr_dir, lap_dir, photo, style


def test_openvino_caches_the_compiled_model_and_a_reexport_invalidates_it(exported, monkeypatch):
    from ppgan_ext.deploy.backends import create_predictor
    from ppgan_ext.deploy.backends.openvino import CACHE_DIR_NAME, CACHE_ENV

    root, _, _, _, _ = exported
    monkeypatch.delenv(CACHE_ENV, raising=False)
    config = str(root / 'sr.yaml')
    model_dir = str(root / 'sr_cached')
    x = np.random.default_rng(0).random((1, 3, 24, 20), dtype=np.float32)

    def export(seed):
        weights = str(root / f'cache_weight_{seed}.pdparams')
        save_weights(config, weights, seed=seed)
        assert main(['export', '-c', config, '--load', weights, '--output_dir', model_dir,
                     '--no-parity']) == 0

    def run_both():
        ov = create_predictor(model_dir, 'openvino', threads=1)
        expected = create_predictor(model_dir, 'onnxruntime', threads=1)(x)
        np.testing.assert_allclose(ov(x), expected, atol=1e-4)
        return ov, expected

    export(seed=1)
    first, out1 = run_both()
    assert os.path.dirname(first.cache_dir) == os.path.join(model_dir, CACHE_DIR_NAME)
    assert not first.loaded_from_cache
    blobs = [n for n in os.listdir(first.cache_dir) if n.endswith('.blob')]
    assert len(blobs) == 1
    second, _ = run_both()
    assert second.loaded_from_cache   # OpenVINO's LOADED_FROM_CACHE: nothing compiled
    export(seed=2)                     # same file name and size, other weights
    third, out3 = run_both()           # (run_both checks that the new graph ran)
    assert not third.loaded_from_cache
    assert np.abs(out3 - out1).max() > 1e-3
    # one version's blobs are kept: the first export's went with the re-export
    assert os.listdir(os.path.dirname(third.cache_dir)) == [os.path.basename(third.cache_dir)]
    export(seed=3)   # a re-export removes the compiled blobs of the graph it replaces
    assert not os.path.exists(os.path.dirname(third.cache_dir))
    monkeypatch.setenv(CACHE_ENV, 'off')
    assert create_predictor(model_dir, 'openvino', threads=1).cache_dir is None


@pytest.mark.e2e
@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_onnx_paths_run_without_paddle_or_ppgan(exported, backend):
    root, sr_dir, lap_dir, photo, style = exported
    out = root / f'out_{backend}'
    gt = write_photo(str(root / 'gt' / 'photo.png'), 'coffee', size=(256, 256))
    proc, names = paddlegan(['infer', '--model_dir', sr_dir, '--input', photo,
                             '--output', str(out / 'sr'), '--backend', backend,
                             '--gt', os.path.dirname(gt)], root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f'ppgan_ext.deploy.backends.{backend}' in names
    assert 'ppgan_ext.deploy.metrics' in names and 'photo.png' in proc.stdout   # scored
    assert heavy(names) == []
    assert cv2.imread(str(out / 'sr' / 'photo.png')).shape == (256, 256, 3)
    with open(out / 'sr' / 'metrics.csv') as f:
        psnr_value = float(f.read().splitlines()[1].split(',')[1])
    assert 5.0 < psnr_value < 60.0

    proc, names = paddlegan(['stylize', '--content', photo, '--style', style, '--model_dir',
                             lap_dir, '--backend', backend, '--style-size', '64',
                             '--upscale', sr_dir, '--upscale-backend', backend,
                             '--output', str(out / 'stylized')], root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert heavy(names) == []
    img = cv2.imread(str(out / 'stylized' / 'photo.png'))
    assert img.shape == (256, 256, 3) and np.std(img) > 1.0


@pytest.mark.e2e
def test_export_and_infer_print_no_third_party_warnings(exported, tmp_path):
    root, sr_dir, _, photo, _ = exported
    out = str(tmp_path / 'model')
    proc, _ = paddlegan(['export', '-c', str(root / 'sr.yaml'), '--output_dir', out], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # ours only: no Paddle ccache / PIR 'place' warnings, no glog "W1203 ..." lines
    assert proc.stderr.splitlines() == [
        'warning: no --load given; exporting the weights the model is built with']
    proc, _ = paddlegan(['infer', '--model_dir', out, '--input', photo, '--output',
                         str(tmp_path / 'sr')], tmp_path)
    assert proc.returncode == 0 and proc.stderr == '', proc.stderr[-2000:]


@pytest.mark.e2e
def test_batchnorm_training_steps_do_not_warn_once_ppgan_ext_is_imported(tmp_path):
    code = ("import ppgan_ext, paddle\n"
            "bn = paddle.nn.BatchNorm2D(3)\n"
            "bn.train()\n"
            "for _ in range(3):\n"
            "    bn(paddle.rand([2, 3, 4, 4]))\n"
            "print(float(bn._mean.abs().sum()) > 0)\n")
    proc, _ = run_python([code], tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == 'True', proc.stderr[-2000:]
    assert 'track global mean' not in proc.stderr and 'ccache' not in proc.stderr
