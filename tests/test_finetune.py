"""Fine-tuning a registered pretrained model through ppgan's Trainer (``pretrained: NAME``).

A few real iterations of ``configs/finetune_animevideov3_x4.yaml`` on small crops: the
model starts exactly at the package's converted weights, the loss on fixed degraded crops
goes down, the weights move; the fine-tuned net exports and runs through ``paddlegan
infer`` on every backend with the dynamic graph's output. Plus the config checks, the
converted ``.npz`` through ``--load``, and the speck rate.
"""
import os
import sys

import cv2
import numpy as np
import pytest

from _export_helpers import dygraph_run, rgb_input, to_png_pixels, write_photo_pairs
from _helpers import ROOT
from ppgan_ext.config import ConfigError, load_config
from ppgan_ext.metrics.specks import speck_mask, speck_rate
from ppgan_ext.sample_data import write_images

CONFIG = os.path.join(ROOT, 'configs', 'finetune_animevideov3_x4.yaml')
RRDB_CONFIG = os.path.join(ROOT, 'configs', 'finetune_realesrgan_x4plus.yaml')
NAME = 'realesr-animevideov3-x4'
ITERS = 12


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    """ppgan's download folder pointed at a temporary one (the conversion goes there)."""
    import ppgan.utils.download as download

    old = download.PPGAN_HOME
    download.PPGAN_HOME = str(tmp_path_factory.mktemp('ppgan_home'))
    yield download.PPGAN_HOME
    download.PPGAN_HOME = old


def _args(config, overrides, **flags):
    import argparse

    base = dict(config_file=config, opt=list(overrides), resume=None, load=None,
                evaluate_only=False, no_cuda=True, profiler_options=None, seed=0,
                allow_partial_load=False)
    base.update(flags)
    return argparse.Namespace(**base)


def _l1(net, batches):
    import paddle

    net.eval()
    with paddle.no_grad():
        loss = np.mean([float((net(paddle.to_tensor(b['lq'])) - paddle.to_tensor(b['gt']))
                              .abs().mean()) for b in batches])
    net.train()
    return loss


@pytest.fixture(scope='module')
def finetuned(tmp_path_factory, cache):
    """``ITERS`` iterations of the fine-tuning config: start and end states, fixed-crop L1."""
    from ppgan.datasets.builder import build_dataset

    from ppgan_ext.engine.run import build_trainer
    from ppgan_ext.zoo.packaged import load_weights

    tmp = tmp_path_factory.mktemp('finetune')
    write_images(str(tmp / 'train'), ['astronaut', 'motorcycle'])
    write_images(str(tmp / 'test'), ['coffee'])
    overrides = [f'dataset.train.gt_folder={tmp / "train"}',
                 f'dataset.test.gt_folder={tmp / "test"}', f'output_dir={tmp / "out"}',
                 'dataset.train.gt_size=64', 'dataset.train.batch_size=4',
                 f'total_iters={ITERS}', f'lr_scheduler.periods=[{ITERS}]',
                 f'snapshot_config.interval={ITERS}', f'validate.interval={ITERS}',
                 'log_config.interval=4', 'lr_scheduler.learning_rate=0.0002']
    trainer = build_trainer(_args(CONFIG, overrides))
    net = trainer.model.nets['generator']
    start = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    # fixed degraded crops of the training photos, as training sees them (same degradation)
    cfg = load_config(CONFIG, overrides)
    probe_cfg = {k: v for k, v in cfg.dataset.train.items()
                 if k not in ('batch_size', 'num_workers', 'gt_size', 'repeat')}
    probe = build_dataset(dict(probe_cfg, mode='test', seed=3))
    crops = []
    for i in range(len(probe)):
        s = probe[i]
        crops.append({'lq': s['lq'][None, :, 8:40, 8:40], 'gt': s['gt'][None, :, 32:160, 32:160]})
    before = _l1(net, crops)
    trainer.train()
    trainer.close()
    after = _l1(net, crops)
    end = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    weights = os.path.join(trainer.output_dir, f'iter_{ITERS}_weight.pdparams')
    return dict(tmp=tmp, start=start, end=end, before=before, after=after, weights=weights,
                converted=load_weights(NAME)['generator'], overrides=overrides)


def test_training_starts_from_the_pretrained_weights(finetuned):
    start, converted = finetuned['start'], finetuned['converted']
    assert set(start) == set(converted)
    for key, value in converted.items():
        np.testing.assert_array_equal(start[key], value.reshape(start[key].shape), err_msg=key)


def test_fine_tuning_lowers_the_loss_and_moves_the_weights(finetuned):
    assert finetuned['after'] < 0.97 * finetuned['before'], (finetuned['before'],
                                                             finetuned['after'])
    moved = [k for k in finetuned['start']
             if np.abs(finetuned['end'][k] - finetuned['start'][k]).max() > 1e-6]
    assert len(moved) == len(finetuned['start'])
    from ppgan_ext.weight_files import read_state_file

    saved = read_state_file(finetuned['weights'])['generator']
    for key, value in finetuned['end'].items():
        np.testing.assert_allclose(saved[key], value, rtol=0, atol=0, err_msg=key)


def test_converted_archive_loads_with_dash_dash_load(finetuned, cache):
    from ppgan_ext.engine.run import build_trainer
    from ppgan_ext.zoo.packaged import converted_weights

    path = converted_weights(NAME)
    assert path.startswith(cache) and path.endswith('.npz')
    overrides = finetuned['overrides'] + ['pretrained=null']
    trainer = build_trainer(_args(CONFIG, overrides, load=path))
    state = trainer.model.nets['generator'].state_dict()
    for key, value in finetuned['converted'].items():
        np.testing.assert_array_equal(state[key].numpy(), value.reshape(state[key].shape))
    trainer.close()


def test_pretrained_key_is_checked_against_the_registry(tmp_path):
    from ppgan_ext.engine.pretrained import check_pretrained

    cfg = load_config(CONFIG)
    assert check_pretrained(cfg).name == NAME
    assert check_pretrained(load_config(RRDB_CONFIG)).arch['name'] == 'RRDBNet'
    with pytest.raises(ConfigError, match=r"^pretrained: unknown model 'realesr-animevideo-x4'"):
        check_pretrained(load_config(CONFIG, ['pretrained=realesr-animevideo-x4']))
    with pytest.raises(ConfigError, match=r"^model.generator.num_conv: 8 does not fit pretrained "
                                          r"'realesr-animevideov3-x4' \(num_conv: 16\)"):
        check_pretrained(load_config(CONFIG, ['model.generator.num_conv=8']))
    with pytest.raises(ConfigError, match=r"^model.generator.name: 'TransposeSRResNet' does not "
                                          r"fit pretrained 'realesrgan-x4plus', which is a "
                                          r"RRDBNet"):
        check_pretrained(load_config(os.path.join(ROOT, 'configs', 'demo_saltpepper_x4.yaml'),
                                     ['+pretrained=realesrgan-x4plus']))
    with pytest.raises(ConfigError, match=r'^pretrained: expected a registered model name'):
        check_pretrained(load_config(CONFIG, ['pretrained=[1, 2]']))
    # x2 weights are the x4 net plus a resize: out_scale must say so
    with pytest.raises(ConfigError, match=r'^model.generator.out_scale: 4 does not fit'):
        check_pretrained(load_config(CONFIG, ['pretrained=realesr-animevideov3-x2']))


@pytest.mark.e2e
def test_fine_tuned_model_runs_through_paddlegan_infer_on_every_backend(finetuned, photos,
                                                                        capsys):
    from ppgan_ext.cli import main
    from ppgan_ext.deploy.backends import BACKENDS
    from ppgan_ext.engine.pretrained import KEY  # noqa: F401  (the config's key is known)

    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    import demo

    tmp = finetuned['tmp']
    model_dir = str(tmp / 'model')
    assert main(['export', '-c', CONFIG, '--load', finetuned['weights'], '--output_dir',
                 model_dir]) == 0
    dirs = write_photo_pairs(str(tmp / 'pairs'), photos, ['coffee', 'rocket'], size=(64, 88))
    net = demo.load_net(load_config(CONFIG).model.generator, finetuned['weights'])
    for backend in BACKENDS:
        out = str(tmp / f'sr_{backend}')
        assert main(['infer', '--model_dir', model_dir, '--input', dirs['lq'], '--output', out,
                     '--backend', backend, '--threads', '1']) == 0
        assert f'backend: {backend}' in capsys.readouterr().out
        for name in ('coffee.png', 'rocket.png'):
            written = cv2.imread(os.path.join(out, name))
            expected = to_png_pixels(dygraph_run(net, rgb_input(os.path.join(dirs['lq'], name))))
            assert written.shape == expected.shape == (64, 88, 3)
            assert np.abs(written.astype(int) - expected).max() <= 1, (backend, name)


def test_speck_rate_counts_isolated_dots_in_flat_areas_only():
    rng = np.random.default_rng(0)
    gt = np.full((96, 96, 3), 120, np.uint8)
    gt[:, 48:] = 200                                     # one edge
    clean = gt.copy()
    assert speck_rate(gt, gt) == 0.0
    dotted = clean.copy()
    spots = [(20, 20), (20, 30), (70, 15), (60, 70)]
    for y, x in spots:
        dotted[y:y + 3, x:x + 3] = 255 if rng.random() < 0.5 else 0
    specks, flat = speck_mask(dotted, gt)
    assert specks.sum() == 9 * len(spots)
    # the columns around the edge are not flat, so an edge is never a speck
    assert not flat[:, 44:52].any() and flat[:, :40].all()
    edge_shift = gt.copy()
    edge_shift[:, 46:48] = 200                           # a displaced edge is no speck
    assert speck_rate(edge_shift, gt) == 0.0
    # per 10k flat pixels, inside the 4-pixel border
    border = 4
    area = flat[border:-border, border:-border].sum()
    assert speck_rate(dotted, gt) == pytest.approx(1e4 * 9 * len(spots) / area)
    # a 7x7 blob is bigger than half the 9x9 window: the median follows it, so it is a
    # region, not a speck
    blob = clean.copy()
    blob[10:17, 10:17] = 0
    assert speck_mask(blob, gt)[0][13, 13] == False  # noqa: E712
    with pytest.raises(ValueError, match='size must be an odd number'):
        speck_rate(dotted, gt, size=8)
    with pytest.raises(ValueError, match='uint8 of one shape'):
        speck_rate(dotted[:10], gt)


def test_bad_weight_archives_are_one_line_errors(tmp_path):
    from ppgan_ext.weight_files import read_state_file

    truncated = tmp_path / 'cut.npz'
    truncated.write_bytes(b'PK\x03\x04 not really a zip')
    with pytest.raises(ValueError, match=r'^--load .*cut.npz: not a weight archive'):
        read_state_file(str(truncated), key='--load')
    flat = tmp_path / 'flat.npz'
    np.savez(flat, weight=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"entry 'weight' is not '<net>/<parameter>'"):
        read_state_file(str(flat), key='--load')
    good = tmp_path / 'good.npz'
    np.savez(good, **{'generator/conv.weight': np.ones((2, 2), np.float32)})
    state = read_state_file(str(good))
    assert list(state) == ['generator'] and state['generator']['conv.weight'].sum() == 4
