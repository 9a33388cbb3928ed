"""Every LapStyle config loads, validates and builds; the paper stages chain by weight files."""
import copy
import glob
import os

import paddle
import pytest

import ppgan_ext  # noqa: F401
from ppgan.datasets.builder import build_dataset
from ppgan.models.builder import build_model
from ppgan.solver import build_lr_scheduler

from ppgan_ext.config import load_config, validate_config
from ppgan_ext.datasets.lapstyle_dataset import write_lapstyle_samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', 'lapstyle_*.yaml')))
PAPER = {'lapstyle_draft.yaml': ('draft', 0, 128), 'lapstyle_rev1.yaml': ('revision', 1, 256),
         'lapstyle_rev2.yaml': ('revision', 2, 512)}


def test_all_lapstyle_configs_are_present():
    assert [os.path.basename(c) for c in CONFIGS] == [
        'lapstyle_draft.yaml', 'lapstyle_rev1.yaml', 'lapstyle_rev2.yaml', 'lapstyle_tiny.yaml']


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_config_starts_with_its_command_and_validates(path):
    with open(path) as f:
        head = f.read(2000)
    assert head.startswith('# ')
    assert f'python tools/main.py -c configs/{os.path.basename(path)}' in head
    cfg = load_config(path)
    validate_config(cfg, is_train=True, source=path)
    assert cfg.model.name == 'LapStylePyramidModel'
    name = os.path.basename(path)
    if name in PAPER:
        stage, levels, size = PAPER[name]
        assert (cfg.model.stage, cfg.model.levels) == (stage, levels)
        assert cfg.dataset.train.crop_size == size == cfg.dataset.test.crop_size


def _shrink(cfg, data_root, weights):
    """Tiny widths, a random encoder, local data and weight files: build the config's objects."""
    model = copy.deepcopy(dict(cfg.model))
    model['encoder_generator'] = dict(model['encoder_generator'], random_init=True,
                                      base_channels=4)
    model['draft_generator'] = dict(model['draft_generator'], base_channels=4)
    if 'revision_generator' in model:
        model['revision_generator'] = dict(model['revision_generator'], num_feat=4)
    if model['stage'] == 'revision':
        model['draft_weights'] = weights['draft']
        model['revision_weights'] = [weights[f'rev{k}'] for k in range(1, model['levels'])]
    for split in ('train', 'test'):
        ds = dict(cfg.dataset[split])
        ds.pop('batch_size'), ds.pop('num_workers')
        ds['content_root'] = os.path.join(data_root, 'content')
        ds['style_root'] = os.path.join(data_root, 'style', 'gravel.png')
        build_dataset(ds)
    return model


def test_paper_configs_build_and_chain(tmp_path):
    data_root = str(tmp_path / 'data')
    write_lapstyle_samples(data_root, size=80)
    weights = {}
    for name, key in (('lapstyle_draft.yaml', 'draft'), ('lapstyle_rev1.yaml', 'rev1'),
                      ('lapstyle_rev2.yaml', 'rev2')):
        cfg = load_config(os.path.join(ROOT, 'configs', name))
        model = build_model(_shrink(cfg, data_root, weights))
        lr = build_lr_scheduler(dict(cfg.lr_scheduler))
        optimizers = model.setup_optimizers(lr, copy.deepcopy(dict(cfg.optimizer)))
        assert set(optimizers) == ({'optimG'} if key == 'draft' else {'optimG', 'optimD'})
        assert model.trainable[0] == {'draft': 'net_dec', 'rev1': 'net_rev',
                                      'rev2': 'net_rev_2'}[key]
        weights[key] = str(tmp_path / f'{key}.pdparams')
        paddle.save({n: net.state_dict() for n, net in model.nets.items()}, weights[key])


def test_tiny_config_builds_with_its_sample_data(tmp_path):
    data_root = str(tmp_path / 'data' / 'lapstyle_tiny')
    write_lapstyle_samples(data_root)
    cfg = load_config(os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml'))
    model = build_model(dict(cfg.model))
    assert list(model.nets) == ['net_enc', 'net_dec']
    for split in ('train', 'test'):
        ds = dict(cfg.dataset[split])
        ds.pop('batch_size'), ds.pop('num_workers')
        ds['content_root'] = os.path.join(str(tmp_path), ds['content_root'])
        ds['style_root'] = os.path.join(str(tmp_path), ds['style_root'])
        assert len(build_dataset(ds)) == 5


def test_our_names_leave_ppgans_lapstyle_alone():
    from ppgan.datasets.builder import DATASETS
    from ppgan.models.builder import MODELS
    from ppgan.models.criterions.builder import CRITERIONS
    from ppgan.models.discriminators.builder import DISCRIMINATORS
    from ppgan.models.generators.builder import GENERATORS
    from ppgan.metrics.builder import METRICS
    ours = {GENERATORS: ['LapStyleVGGEncoder', 'LapStyleDraftNet', 'LapStyleRevisionNet',
                         'LapStylePyramidNet'],
            DISCRIMINATORS: ['LapStylePatchDiscriminator'], MODELS: ['LapStylePyramidModel'],
            DATASETS: ['LapStyleContentStyleDataset'], METRICS: ['StyleTransferLoss'],
            CRITERIONS: ['NormalizedContentLoss', 'MeanStdStyleLoss', 'RelaxedEMDStyleLoss',
                         'SelfSimilarityContentLoss']}
    for registry, names in ours.items():
        for name in names:
            assert registry.get(name).__module__.startswith('ppgan_ext.'), name
    theirs = {GENERATORS: ['Encoder', 'DecoderNet', 'RevisionNet'],
              DISCRIMINATORS: ['LapStyleDiscriminator'], DATASETS: ['LapStyleDataset'],
              MODELS: ['LapStyleDraModel', 'LapStyleRevFirstModel', 'LapStyleRevSecondModel'],
              CRITERIONS: ['CalcStyleEmdLoss', 'CalcContentReltLoss', 'CalcContentLoss',
                           'CalcStyleLoss']}
    for registry, names in theirs.items():
        for name in names:
            assert registry.get(name).__module__.startswith('ppgan.'), name
