"""Every SR config in configs/ loads, passes the checks, and builds its model and datasets.

The LapStyle configs, which chain by weight files, are covered by test_lapstyle_configs.py,
the stylize + upscale configs (stylized_sr_x4, stylize_sr_x4) by test_stylize_sr.py.
"""
import glob
import os

import pytest
from ppgan.datasets.builder import build_dataset
from ppgan.models.builder import build_model

from _helpers import ROOT
from ppgan_ext.config import load_config, validate_config
from ppgan_ext.sample_data import write_images

CONFIGS = sorted(c for c in glob.glob(os.path.join(ROOT, 'configs', '*.yaml'))
                 if not os.path.basename(c).startswith(('lapstyle_', 'stylize')))
# Per-config overrides that replace files a user supplies (VGG weights) for the build.
LOCAL_FILES = {
    'saltpepper_transpose_srresnet_x4_gan.yaml': ['model.perceptual_criterion.vgg_path=random'],
}


@pytest.fixture(scope='module')
def photo_folder(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('photos'))
    write_images(folder, ['astronaut', 'coffee'])
    return folder


def test_configs_exist():
    names = {os.path.basename(c) for c in CONFIGS}
    assert {'saltpepper_transpose_srresnet_x4.yaml', 'saltpepper_transpose_srresnet_x4_gan.yaml',
            'demo_saltpepper_x4.yaml'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_config_starts_with_the_command_that_runs_it(path):
    with open(path) as f:
        head = ''.join(f.readline() for _ in range(8))
    assert head.startswith('#')
    assert os.path.basename(path) in head and ('tools/' in head or 'paddlegan' in head)


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_config_loads_validates_and_builds(path, photo_folder):
    overrides = list(LOCAL_FILES.get(os.path.basename(path), []))
    cfg = load_config(path)
    for split in cfg.get('dataset', {}):
        overrides.append(f'dataset.{split}.gt_folder={photo_folder}')
    cfg = load_config(path, overrides)
    validate_config(cfg, source=path)
    model = build_model(cfg.model)
    assert model.nets
    for split in ('train', 'test'):
        if split in cfg.dataset:
            ds_cfg = {k: v for k, v in cfg.dataset[split].items()
                      if k not in ('batch_size', 'num_workers', 'use_shared_memory')}
            dataset = build_dataset(ds_cfg)
            assert len(dataset) >= 1
            sample = dataset[0]
            assert isinstance(sample, dict) and sample
