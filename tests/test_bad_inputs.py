"""Every entry point against the bad-input corpus (tests/bad_inputs.py).

Each input is either handled (converted, or skipped with a warning and counted)
or refused with ONE ``error:`` line naming the file and the reason; never a
traceback, never a hang (commands that walk the whole corpus run in child
processes with a timeout).
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from _export_helpers import error_lines, export_tiny_sr
from _helpers import MAIN, ROOT, STOCK_SR, env
from bad_inputs import BAD, GOOD, SMALL, build_corpus

CLI = [sys.executable, '-m', 'ppgan_ext.cli']
TIMEOUT = 180
# every file the folder scan finds that cannot be read: BAD and the second link of the loop
UNREADABLE = sorted(list(BAD) + ['loop2.png'])
# why each BAD entry is refused (a part of the message)
REASONS = {
    'zero.png': 'empty file (0 bytes)',
    'truncated.png': 'corrupt or truncated',
    'half.jpg': 'truncated JPEG',
    'text.png': 'cannot be decoded',
    'huge.png': 'the header claims 10000000000 pixels, more than the limit of 134217728',
    'loop.png': 'Too many levels of symbolic links',
    'dangling.png': 'No such file or directory',
}


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp('corpus'))


def run(args, cwd=ROOT, **extra_env):
    return subprocess.run(args, cwd=cwd, env=env(**extra_env), capture_output=True, text=True,
                          timeout=TIMEOUT)


def one_error(stderr: str) -> str:
    lines = error_lines(stderr)   # also: no 'Traceback'
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def decoded(path: str) -> np.ndarray:
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


def outputs(folder: str):
    """{relative path: decoded image} of every file under ``folder`` (all must decode)."""
    found = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, folder)] = decoded(path)
    return found


def png_name(name: str) -> str:
    return os.path.splitext(name)[0] + '.png'


# ------------------------------------------------------------------ datasets
def test_image_checks_name_each_reason(corpus):
    from ppgan_ext.image_io import check_image_file, read_image

    for name in BAD:
        with pytest.raises(ValueError, match=REASONS[name].replace('(', r'\(').replace(')', r'\)')):
            read_image(corpus.path(name))
    for name in GOOD:
        h, w = check_image_file(corpus.path(name))
        assert read_image(corpus.path(name)).shape == (h, w, 3)


def test_pixel_limit_is_configurable(corpus, monkeypatch):
    from ppgan_ext.image_io import check_image_file

    monkeypatch.setenv('PPGAN_EXT_MAX_IMAGE_PIXELS', str(96 * 80 - 1))
    with pytest.raises(ValueError, match='96x80 = 7680 pixels, more than the limit of 7679'):
        check_image_file(corpus.path('photo.png'))
    monkeypatch.setenv('PPGAN_EXT_MAX_IMAGE_PIXELS', str(96 * 80))
    assert check_image_file(corpus.path('photo.png')) == (80, 96)


def test_saltpepper_dataset_fails_listing_or_skips(corpus):
    from ppgan_ext.datasets.saltpepper_dataset import SaltPepperDataset

    with pytest.raises(ValueError) as err:
        SaltPepperDataset(corpus.root, gt_size=32)
    msg = str(err.value)
    assert '\n' not in msg and '10 of 17 image files' in msg and 'skip_bad: True' in msg

    with pytest.warns(UserWarning, match='skipping 10 of 17 image files'):
        ds = SaltPepperDataset(corpus.root, gt_size=32, skip_bad=True)
    reasons = {os.path.basename(p): why for p, why in ds.skipped_files}
    assert sorted(reasons) == sorted(UNREADABLE + list(SMALL))
    for name, reason in REASONS.items():
        assert reason in reasons[name], (name, reasons[name])
    assert 'smaller than gt_size=32' in reasons['tiny.png']
    assert len(ds) == len(GOOD) - len(SMALL)
    for i in range(len(ds)):
        item = ds[i]
        assert item['gt'].shape == (3, 32, 32) and item['lq'].shape == (3, 32, 32)
        assert 0.0 <= item['gt'].min() and item['gt'].max() <= 1.0

    # whole images (test mode, no noise): the conversions give the photo's pixels
    with pytest.warns(UserWarning, match='skipping 8 of 17'):
        ds = SaltPepperDataset(corpus.root, mode='test', prob=0.0, blur=0, skip_bad=True)
    gt = {os.path.basename(p): ds[i]['gt'] for i, p in enumerate(ds.paths)}
    assert sorted(gt) == sorted(GOOD)
    photo = gt['photo.png']
    for name in ('deep16.png', 'rgba.png'):
        np.testing.assert_array_equal(gt[name], photo)
    np.testing.assert_array_equal(gt['caf\u00e9 na\u00efve \u5199\u771f.png'], photo[:, ::-1])
    gray = cv2.cvtColor(decoded(corpus.path('photo.png')), cv2.COLOR_BGR2GRAY) / np.float32(255)
    for c in range(3):
        np.testing.assert_allclose(gt['gray.png'][c], gray, atol=1e-6)
    assert gt['tiny.png'].shape == (3, 1, 1) and gt['small.png'].shape == (3, 20, 24)

    for folder in (corpus.empty_dir, corpus.no_images_dir):
        with pytest.raises(FileNotFoundError, match='no image files'):
            SaltPepperDataset(folder)
    # a folder symlink loop is walked once
    assert len(SaltPepperDataset(corpus.good_dir, mode='test')) == len(GOOD)


def test_lapstyle_dataset_fails_listing_or_skips(corpus):
    from ppgan_ext.datasets.lapstyle_dataset import LapStyleContentStyleDataset

    style = corpus.path('camera.jpg')
    with pytest.raises(ValueError) as err:
        LapStyleContentStyleDataset(corpus.root, style, crop_size=32)
    msg = str(err.value)
    assert '\n' not in msg and '8 of 17 image files of content_root' in msg
    assert 'skip_bad: True' in msg

    with pytest.warns(UserWarning, match='skipping 8 of 17'):
        ds = LapStyleContentStyleDataset(corpus.root, style, crop_size=32, test_mode=True,
                                         skip_bad=True)
    assert ds.skipped == 8
    assert sorted(os.path.basename(p) for p, _ in ds.skipped_files) == UNREADABLE
    assert sorted(os.path.basename(p) for p in ds.content_paths) == sorted(GOOD)
    for i in range(len(ds)):   # small and 1x1 images are scaled up to load_size
        item = ds[i]
        assert item['ci'].shape == (3, 32, 32) and item['si'].shape == (3, 32, 32)
        assert 0.0 <= item['ci'].min() and item['ci'].max() <= 1.0

    with pytest.raises(ValueError) as err:
        LapStyleContentStyleDataset(corpus.good_dir, corpus.path('huge.png'), crop_size=32)
    assert 'style_root' in str(err.value) and 'huge.png (the header claims' in str(err.value)
    for folder in (corpus.empty_dir, corpus.no_images_dir):
        with pytest.raises(ValueError, match='content_root: no images'):
            LapStyleContentStyleDataset(folder, style)


# ------------------------------------------------------------------ degrade
@pytest.mark.e2e
def test_degrade_skips_and_summarises(corpus, tmp_path, capsys):
    from ppgan_ext.cli import main

    dst = tmp_path / 'dst'
    proc = run(CLI + ['degrade', corpus.root, str(dst), '--blur', '3'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert f'{len(GOOD)} written, 0 skipped (already in DST), {len(UNREADABLE)} bad' in proc.stdout
    summary = proc.stdout.splitlines()[-1]
    assert summary.startswith('bad files: ')
    listed = dict(item.split(' (', 1) for item in summary[len('bad files: '):].split('; '))
    assert sorted(listed) == UNREADABLE
    for name in UNREADABLE:
        assert f'warning: skipping {name}: ' in proc.stderr
    for name, reason in REASONS.items():
        assert reason in listed[name], (name, listed[name])
    written = outputs(str(dst))
    assert sorted(written) == sorted(png_name(n) for n in GOOD)
    for name in GOOD:
        src = decoded(corpus.path(name))
        assert written[png_name(name)].shape[:2] == src.shape[:2]
        assert written[png_name(name)].shape[2:] == (3,)

    for folder in (corpus.empty_dir, corpus.no_images_dir):
        assert main(['degrade', folder, str(tmp_path / 'none')]) == 2
        assert 'no image files' in one_error(capsys.readouterr().err)
    assert not os.path.exists(tmp_path / 'none')


# ------------------------------------------------------------------ infer
@pytest.fixture(scope='module')
def sr_model(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('bad_inputs_model'))
    return dict(dir=export_tiny_sr(root, seed=1), config=os.path.join(root, 'sr.yaml'),
                weights=os.path.join(root, 'w.pdparams'))


@pytest.mark.e2e
def test_infer_skips_bad_files_and_refuses_one_in_one_line(corpus, sr_model, tmp_path, capsys):
    from ppgan_ext.cli import main

    out = tmp_path / 'out'
    proc = run(CLI + ['infer', '--model_dir', sr_model['dir'], '--input', corpus.root,
                      '--output', str(out)])
    refused = UNREADABLE + ['rgba.png']   # real transparency: the model takes RGB
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert f'wrote {len(GOOD) - 1} image(s)' in proc.stdout
    assert f'skipped {len(refused)}: ' in proc.stderr
    written = outputs(str(out))
    assert sorted(written) == sorted(png_name(n) for n in GOOD if n != 'rgba.png')
    for name in GOOD:
        if name != 'rgba.png':
            h, w = decoded(corpus.path(name)).shape[:2]
            assert written[png_name(name)].shape == (4 * h, 4 * w, 3), name

    for name in list(BAD) + ['rgba.png']:
        rc = main(['infer', '--model_dir', sr_model['dir'], '--input', corpus.path(name),
                   '--output', str(tmp_path / 'single')])
        line = one_error(capsys.readouterr().err)
        assert rc == 2 and corpus.path(name) in line, line
        assert REASONS.get(name, 'has transparency') in line, line
    assert not os.path.exists(tmp_path / 'single')
    # a bad ground truth: the output is written, the score refused in one line
    for name in ('huge.png', 'half.jpg', 'loop.png'):
        rc = main(['infer', '--model_dir', sr_model['dir'], '--input', corpus.path('photo.png'),
                   '--output', str(tmp_path / 'scored'), '--gt', corpus.path(name)])
        line = one_error(capsys.readouterr().err)
        assert rc == 2 and REASONS[name] in line, line
        assert ('broken symbolic link' if name == 'loop.png' else 'no output could be scored') \
            in line, line
    assert os.path.isfile(tmp_path / 'scored' / 'photo.png')
    for folder in (corpus.empty_dir, corpus.no_images_dir):
        assert main(['infer', '--model_dir', sr_model['dir'], '--input', folder,
                     '--output', str(tmp_path / 'none')]) == 2
        assert '--input: no images' in one_error(capsys.readouterr().err)


# ------------------------------------------------------------------ export
def test_export_refuses_bad_weight_files_in_one_line(corpus, sr_model, tmp_path, capsys):
    from ppgan_ext.cli import main

    weights = open(sr_model['weights'], 'rb').read()
    cases = {'zero.pdparams': b'', 'truncated.pdparams': weights[:len(weights) // 2],
             'image.pdparams': open(corpus.path('photo.png'), 'rb').read(),
             'text.pdparams': b'not weights\n'}
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
    os.symlink('loop-b.pdparams', tmp_path / 'loop-a.pdparams')
    os.symlink('loop-a.pdparams', tmp_path / 'loop-b.pdparams')
    for name in list(cases) + ['loop-a.pdparams']:
        path = str(tmp_path / name)
        rc = main(['export', '-c', sr_model['config'], '--load', path, '--output_dir',
                   str(tmp_path / 'never')])
        line = one_error(capsys.readouterr().err)
        assert rc == 2 and path in line, line
    assert not os.path.exists(tmp_path / 'never')
    # a non-ASCII, space-containing weights path is fine
    odd = tmp_path / 'poids d\u00e9j\u00e0 \u5199.pdparams'
    odd.write_bytes(weights)
    assert main(['export', '-c', sr_model['config'], '--load', str(odd), '--output_dir',
                 str(tmp_path / 'ok'), '--parity-sizes', '9x11']) == 0
    assert os.path.isfile(tmp_path / 'ok' / 'ppgan_ext.json')


# ------------------------------------------------------------------ stylize
@pytest.fixture(scope='module')
def lapstyle_weights(tmp_path_factory):
    import paddle

    from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet
    from ppgan_ext.utils import atomic_pickle

    paddle.seed(0)
    net = LapStylePyramidNet(levels=1, base_channels=16, num_feat=16)
    state = {name: {k: v.numpy() for k, v in layer.state_dict().items()}
             for name, layer in (('net_enc', net.encoder), ('net_dec', net.draft),
                                 ('net_rev', net.revisions[0]))}
    path = str(tmp_path_factory.mktemp('lapstyle_w') / 'w.pdparams')
    atomic_pickle(state, path)
    return path


@pytest.mark.e2e
def test_stylize_skips_bad_content_and_refuses_bad_style(corpus, lapstyle_weights, tmp_path,
                                                         capsys):
    from ppgan_ext.cli import main

    out = tmp_path / 'out'
    base = ['--weights', lapstyle_weights, '--style-size', '64', '--no-cuda']
    proc = run(CLI + ['stylize', '--content', corpus.root, '--style', corpus.path('camera.jpg'),
                      '--output', str(out)] + base)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert f'stylized {len(GOOD)} image(s)' in proc.stdout
    assert f'skipped {len(UNREADABLE)} unreadable file(s)' in proc.stdout
    written = outputs(str(out))
    assert sorted(written) == sorted(png_name(n) for n in GOOD)
    for name in GOOD:   # the content's own size, 1x1 included
        assert written[png_name(name)].shape == decoded(corpus.path(name)).shape[:2] + (3,)

    for name in BAD:
        rc = main(['stylize', '--content', corpus.path(name), '--style',
                   corpus.path('camera.jpg'), '--output', str(tmp_path / 'single')] + base)
        line = one_error(capsys.readouterr().err)
        assert rc == 2 and corpus.path(name) in line, line
    for name in ('huge.png', 'half.jpg', 'zero.png'):
        rc = main(['stylize', '--content', corpus.path('photo.png'), '--style',
                   corpus.path(name), '--output', str(tmp_path / 'single')] + base)
        line = one_error(capsys.readouterr().err)
        assert rc == 2 and corpus.path(name) in line and REASONS[name] in line, line
    assert not os.path.exists(tmp_path / 'single')
    for folder in (corpus.empty_dir, corpus.no_images_dir):
        assert main(['stylize', '--content', folder, '--style', corpus.path('camera.jpg'),
                     '--output', str(tmp_path / 'none')] + base) == 2
        assert '--content: no images' in one_error(capsys.readouterr().err)


# ------------------------------------------------------------------ tools/main.py
SALTPEPPER = os.path.join(ROOT, 'configs', 'saltpepper_transpose_srresnet_x4.yaml')
TINY_SR = ["model.generator={name: TransposeSRResNet, num_feat: 8, num_blocks: 1, scale: 4}",
           'dataset.train.num_workers=0', 'dataset.train.batch_size=2',
           'dataset.train.gt_size=32', 'total_iters=2', 'validate.interval=-1',
           'log_config.interval=1']


@pytest.mark.e2e
def test_training_on_the_corpus(corpus, tmp_path):
    def main_py(config, *opts):
        return run([sys.executable, MAIN, '-c', config, '--no-cuda', '-o',
                    f'output_dir={tmp_path / "out"}'] + list(opts), cwd=str(tmp_path))

    data = [f'dataset.train.gt_folder={corpus.root}', f'dataset.test.gt_folder={corpus.good_dir}']
    proc = main_py(SALTPEPPER, *TINY_SR, *data)
    line = one_error(proc.stderr)
    assert proc.returncode == 2 and '10 of 17 image files' in line and 'skip_bad' in line

    proc = main_py(SALTPEPPER, *TINY_SR, *data, 'dataset.train.skip_bad=True')
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert 'skipping 10 of 17 image files' in text and 'Iter: 2/2' in text

    proc = main_py(SALTPEPPER, *TINY_SR, f'dataset.train.gt_folder={corpus.empty_dir}')
    assert proc.returncode == 2 and 'no image files' in one_error(proc.stderr)

    proc = main_py(os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml'),
                   f'dataset.train.content_root={corpus.root}', 'total_iters=1')
    line = one_error(proc.stderr)
    assert proc.returncode == 2 and '8 of 17 image files of content_root' in line


@pytest.mark.e2e
def test_stock_ppgan_dataset_on_a_bad_folder(corpus, tmp_path, photos):
    """ppgan's own SRDataset: a hidden file and a folder loop are passed over, a broken image
    stops the run before training, with one line naming it."""
    gt, lq = tmp_path / 'gt', tmp_path / 'lq'
    for folder, size in ((gt, 64), (lq, 16)):
        folder.mkdir()
        for name in ('astronaut', 'coffee'):
            cv2.imwrite(str(folder / f'{name}.png'), cv2.resize(photos[name], (size, size)))
        (folder / 'broken.png').write_bytes(open(corpus.path('truncated.png'), 'rb').read())
        (folder / '.DS_Store').write_bytes(b'\0\0\0\1Bud1')
        os.symlink('.', folder / 'again')
    opts = [f'output_dir={tmp_path / "out"}', f'dataset.train.gt_folder={gt}',
            f'dataset.train.lq_folder={lq}', f'dataset.test.gt_folder={gt}',
            f'dataset.test.lq_folder={lq}', 'dataset.train.num_workers=1',
            'dataset.train.batch_size=2', 'dataset.train.preprocess.2.pipeline.0.gt_patch_size=32',
            'model.generator.nf=4', 'model.generator.nb=1', 'total_iters=4',
            'validate.interval=-1', 'log_config.interval=1']
    proc = run([sys.executable, MAIN, '-c', STOCK_SR, '--no-cuda', '-o'] + opts,
               cwd=str(tmp_path))
    line = one_error(proc.stderr)
    assert proc.returncode == 2
    assert f'1 of 3 image files under {lq}' in line and 'broken.png (corrupt or truncated' in line

    os.remove(gt / 'broken.png')
    os.remove(lq / 'broken.png')
    proc = run([sys.executable, MAIN, '-c', STOCK_SR, '--no-cuda', '-o'] + opts,
               cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Iter: 4/4' in proc.stdout + proc.stderr
