"""Config loading: safe overrides and one-line errors naming the key or file."""
import textwrap

import pytest

from ppgan_ext.config import ConfigError, load_config, validate_config

BASE = textwrap.dedent("""\
    total_iters: 10
    output_dir: out
    min_max: (0., 1.)
    model:
      name: BaseSRModel
      generator:
        name: TransposeSRResNet
        num_feat: 8
        num_blocks: 1
        scale: 2
      pixel_criterion:
        name: L1Loss
    dataset:
      train:
        name: SRDataset
        gt_folder: gt
        lq_folder: lq
        scale: 2
        preprocess: []
    lr_scheduler:
      name: MultiStepDecay
      learning_rate: 0.001
      milestones: [5]
      gamma: 0.5
    optimizer:
      name: Adam
      net_names: [generator]
    log_config:
      interval: 1
      visiual_interval: 100
    snapshot_config:
      interval: 5
    """)


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / 'c.yaml'
    path.write_text(BASE)
    return path


def test_loads_and_validates(cfg_file):
    cfg = load_config(str(cfg_file))
    validate_config(cfg)
    assert cfg.model.generator.scale == 2
    assert cfg.min_max == (0.0, 1.0)


def test_overrides_are_yaml_typed_not_evaluated(cfg_file, tmp_path):
    marker = tmp_path / 'pwned'
    cfg = load_config(str(cfg_file), [
        'total_iters=25', 'model.generator.norm=none', 'lr_scheduler.milestones=[2, 4]',
        'lr_scheduler.learning_rate=2e-4',
        f"output_dir=__import__('os').mkdir('{marker}')"])
    assert cfg.total_iters == 25 and isinstance(cfg.total_iters, int)
    assert cfg.model.generator.norm == 'none'
    assert cfg.lr_scheduler.milestones == [2, 4]
    assert cfg.lr_scheduler.learning_rate == pytest.approx(2e-4)
    assert not marker.exists()
    assert cfg.output_dir.startswith('__import__')


def test_override_into_a_list_by_index(cfg_file):
    cfg = load_config(str(cfg_file), ['lr_scheduler.milestones=[3]', 'lr_scheduler.milestones.0=7'])
    assert cfg.lr_scheduler.milestones == [7]


@pytest.mark.parametrize('option,message', [
    ('model.generator.num_fet=4', r"'model.generator.num_fet' does not exist.*did you mean 'num_feat'"),
    ('nokey=1', r"'nokey' does not exist"),
    ('total_iters', r'must look like key.sub=value'),
    ('lr_scheduler.milestones.5=1', r"'5' is not an index of a list of 1"),
    ('total_iters.x=1', r"'total_iters' is not a mapping"),
])
def test_bad_overrides(cfg_file, option, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(cfg_file), [option])


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match='config file not found: .*nope.yaml'):
        load_config(str(tmp_path / 'nope.yaml'))


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / 'broken.yaml'
    path.write_text('model:\n  name: [unclosed\nfoo: 1\n')
    with pytest.raises(ConfigError, match=r'broken.yaml: YAML syntax error at line \d+'):
        load_config(str(path))


def test_not_a_mapping(tmp_path):
    path = tmp_path / 'list.yaml'
    path.write_text('- 1\n- 2\n')
    with pytest.raises(ConfigError, match='must be a YAML mapping'):
        load_config(str(path))


@pytest.mark.parametrize('option,message', [
    ('model.generator.name=TransposeSRResnet',
     r"model.generator.name: unknown GENERATORS name 'TransposeSRResnet'.*'TransposeSRResNet'"),
    ('model.name=BaseSRModl', r"unknown MODELS name 'BaseSRModl'.*'BaseSRModel'"),
    ('dataset.train.name=SRDatset', r"dataset.train.name: unknown DATASETS name.*'SRDataset'"),
    ('model.generator.scale=four', r"model.generator.scale: expected int"),
    ('model.generator.norm=1', r"model.generator.norm: expected str"),
    ('lr_scheduler.name=Cosine', r"lr_scheduler.name: unknown LRSCHEDULERS name"),
])
def test_validation_names_the_key(cfg_file, option, message):
    cfg = load_config(str(cfg_file), [option])
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_unknown_argument_and_missing_required_key(cfg_file):
    cfg = load_config(str(cfg_file))
    cfg.model.generator['num_blocs'] = 2
    with pytest.raises(ConfigError, match=r"model.generator.num_blocs: TransposeSRResNet has no "
                                          r"argument 'num_blocs'; did you mean 'num_blocks'"):
        validate_config(cfg)
    cfg = load_config(str(cfg_file))
    del cfg.dataset.train['gt_folder']
    with pytest.raises(ConfigError, match=r"dataset.train: missing required key 'gt_folder'"):
        validate_config(cfg)


@pytest.mark.parametrize('key', ['model', 'total_iters', 'snapshot_config', 'optimizer'])
def test_missing_top_level_key(cfg_file, key):
    cfg = load_config(str(cfg_file))
    del cfg[key]
    with pytest.raises(ConfigError, match=f"missing required key '{key}'"):
        validate_config(cfg)


def test_evaluation_needs_no_training_keys(cfg_file):
    cfg = load_config(str(cfg_file))
    for key in ('lr_scheduler', 'optimizer', 'total_iters', 'log_config'):
        del cfg[key]
    validate_config(cfg, is_train=False)
