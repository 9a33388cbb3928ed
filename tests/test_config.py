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
    ('total_iter=1', r"'total_iter' does not exist.*'total_iters'.*\+total_iter="),
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


# ------------------------------------------------ -o: adding keys, shell words, merging
def test_override_adds_a_new_key_with_a_warning(cfg_file):
    with pytest.warns(UserWarning, match="-o lr_scheduler.eta_min: not in the config, added"):
        cfg = load_config(str(cfg_file), ['lr_scheduler.eta_min=1e-7', 'new.sub.key=3'])
    assert cfg.lr_scheduler.eta_min == pytest.approx(1e-7)
    assert cfg.new.sub.key == 3
    cfg = load_config(str(cfg_file), ['+total_iter=5'])     # '+' adds a near miss on purpose
    assert cfg.total_iter == 5 and cfg.total_iters == 10


def test_unquoted_mapping_split_by_the_shell_is_joined_and_merged(cfg_file):
    # what bash passes for: -o model.generator={name: TransposeSRResNet, scale: 4} total_iters=3
    words = ['model.generator={name:', 'TransposeSRResNet,', 'scale:', '4}', 'total_iters=3']
    cfg = load_config(str(cfg_file), words)
    assert cfg.total_iters == 3
    assert dict(cfg.model.generator) == {'name': 'TransposeSRResNet', 'num_feat': 8,
                                         'num_blocks': 1, 'scale': 4}


def test_mapping_for_another_component_drops_the_keys_it_does_not_take(cfg_file):
    cfg = load_config(str(cfg_file), ['model.generator={name: RRDBNet, in_nc: 3, out_nc: 3, '
                                      'nf: 4, nb: 1}'])
    assert dict(cfg.model.generator) == {'name': 'RRDBNet', 'in_nc': 3, 'out_nc': 3,
                                         'nf': 4, 'nb': 1}
    validate_config(cfg)


# ------------------------------------------------ leniency for ppgan's own components
EDVR_LIKE = textwrap.dedent("""\
    total_iters: 10
    output_dir: out
    model:
      name: EDVRModel
      tsa_iter: 0
      generator: {name: EDVRNet, in_nf: 3, out_nf: 3, scale_factor: 4, nf: 8, nframes: 5,
                  groups: 1, front_RBs: 1, back_RBs: 1, center: 2, predeblur: false,
                  HR_in: false, w_TSA: false}
      pixel_criterion: {name: CharbonnierLoss}
      to_static: false
    dataset:
      train:
        name: RepeatDataset
        times: 2
        dataset:
          name: REDSDataset
          mode: train
          lq_folder: lq
          gt_folder: gt
          crop_size: 64
          interval_list: [1]
          random_reverse: false
          number_frames: 5
          use_flip: true
          use_rot: true
          buf_size: 1024
          scale: 4
          fix_random_seed: 10
    lr_scheduler: {name: CosineAnnealingRestartLR, learning_rate: 0.0004, periods: [10],
                   restart_weights: [1], eta_min: 1.0e-7}
    optimizer: {name: Adam, net_names: [generator], beta1: 0.9, beta2: 0.99}
    log_config: {interval: 1, visiual_interval: 100}
    snapshot_config: {interval: 5}
    """)

FOM_LIKE = textwrap.dedent("""\
    epochs: 1
    output_dir: out
    model:
      name: FirstOrderModel
      common_params: {num_kp: 10, num_channels: 3, estimate_jacobian: true}
      generator:
        name: FirstOrderGenerator
        kp_detector_cfg: {temperature: 0.1, block_expansion: 32, max_features: 1024,
                          scale_factor: 0.25, num_blocks: 5}
        generator_cfg: {block_expansion: 64, max_features: 512, num_down_blocks: 2,
                        num_bottleneck_blocks: 6, estimate_occlusion_map: true,
                        dense_motion_params: {block_expansion: 64, max_features: 1024,
                                              num_blocks: 5, scale_factor: 0.25}}
      discriminator:
        name: FirstOrderDiscriminator
        discriminator_cfg: {scales: [1], block_expansion: 32, max_features: 512,
                            num_blocks: 4, sn: true}
      train_params: {scales: [1], loss_weights: {perceptual: [10]}}
    optimizer: {name: Adam}
    lr_scheduler: {epoch_milestones: [10], lr_generator: 0.0002, lr_discriminator: 0.0002,
                   lr_kp_detector: 0.0002}
    dataset:
      train: {name: FirstOrderDataset, phase: train, dataroot: data, num_repeats: 1,
              time_flip: true, batch_size: 1, id_sampling: false, frame_shape: [64, 64, 3],
              process_time: false, create_frames_folder: false, num_workers: 0,
              max_dataset_size: inf, direction: BtoA, input_nc: 3, output_nc: 3,
              transforms: []}
    log_config: {interval: 1, visiual_interval: 100}
    snapshot_config: {interval: 5}
    """)


def _write(tmp_path, text, name='c.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_edvr_truthy_int_for_a_bool_is_a_warning(tmp_path):
    from ppgan_ext.compat import drop_newer_config_keys

    cfg = load_config(_write(tmp_path, EDVR_LIKE))
    with pytest.raises(ConfigError, match="model.to_static: EDVRModel has no argument"):
        validate_config(cfg)     # the entry points drop it first:
    drop_newer_config_keys(cfg)
    with pytest.warns(UserWarning, match=r"dataset.train.dataset.fix_random_seed: expected bool"
                                         r".*got 10; passed to REDSDataset as it is"):
        validate_config(cfg)
    # our own components stay strict
    cfg = load_config(_write(tmp_path, BASE), ['dataset.train.name=SaltPepperDataset',
                                               'dataset.train.gt_folder=gt',
                                               '+dataset.train.recursive=10'])
    del cfg.dataset.train['lq_folder'], cfg.dataset.train['preprocess']
    with pytest.raises(ConfigError, match=r'dataset.train.recursive: expected bool'):
        validate_config(cfg)


def test_newer_keys_are_dropped_with_a_warning(tmp_path):
    from ppgan_ext.compat import drop_newer_config_keys

    cfg = load_config(_write(tmp_path, EDVR_LIKE))
    assert drop_newer_config_keys(cfg) == ['model.to_static']
    assert 'to_static' not in cfg.model
    assert drop_newer_config_keys(cfg) == []


def test_first_order_sub_components_and_schedule_filled_in_by_the_model(tmp_path):
    cfg = load_config(_write(tmp_path, FOM_LIKE))
    with pytest.warns(UserWarning) as seen:
        validate_config(cfg)
    text = ' | '.join(str(w.message) for w in seen)
    assert "model.generator: no 'common_params' for FirstOrderGenerator" in text
    assert "model.discriminator: no 'common_params'" in text
    # a missing required key of the model itself is still an error
    del cfg.model['common_params']
    with pytest.raises(ConfigError, match=r"model: missing required key 'common_params'"):
        validate_config(cfg)


def test_missing_schedule_name_is_an_error_for_models_that_do_not_build_their_own(cfg_file):
    cfg = load_config(str(cfg_file))
    del cfg.lr_scheduler['name']
    with pytest.raises(ConfigError, match=r"missing required key 'lr_scheduler.name'"):
        validate_config(cfg)


def test_stock_esrgan_config_validates(tmp_path):
    from _helpers import STOCK_SR

    validate_config(load_config(STOCK_SR))


@pytest.mark.parametrize('split,opts', [
    ('train', ['dataset.train.scale=4']),
    ('test', ['+dataset.test={name: SRDataset, gt_folder: g, lq_folder: l, scale: 3, '
              'preprocess: []}']),
])
def test_generator_and_dataset_scale_mismatch_names_both_keys(cfg_file, split, opts):
    cfg = load_config(str(cfg_file), opts)
    with pytest.raises(ConfigError, match=rf"model.generator.scale is 2 but "
                                          rf"dataset.{split}.scale is [34]"):
        validate_config(cfg)


def test_readme_generator_override_as_a_shell_passes_it(cfg_file):
    """The README's -o example, quoted and unquoted, split by a real bash."""
    import subprocess

    for example in ("'model.generator={name: TransposeSRResNet, scale: 2}'",
                    "model.generator={name: TransposeSRResNet, scale: 2}"):
        words = subprocess.run(['bash', '-c', f'printf "%s\\n" {example}'], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        cfg = load_config(str(cfg_file), words)
        assert dict(cfg.model.generator) == {'name': 'TransposeSRResNet', 'num_feat': 8,
                                             'num_blocks': 1, 'scale': 2}
        validate_config(cfg)


def test_base_configs_merge_under_the_config(tmp_path):
    (tmp_path / 'common').mkdir()
    (tmp_path / 'common' / 'root.yaml').write_text(textwrap.dedent("""\
        total_iters: 100
        model: {name: BaseSRModel, generator: {name: TransposeSRResNet, num_feat: 16, scale: 4}}
        layers: [a, b]
    """))
    (tmp_path / 'mid.yaml').write_text('_base_: common/root.yaml\ntotal_iters: 200\n')
    (tmp_path / 'leaf.yaml').write_text(textwrap.dedent("""\
        _base_: mid.yaml
        model: {generator: {num_feat: 32}}
        layers: [c]
    """))
    cfg = load_config(str(tmp_path / 'leaf.yaml'), ['model.generator.scale=2'])
    assert cfg.total_iters == 200 and cfg.layers == ['c'] and '_base_' not in cfg
    assert cfg.model.name == 'BaseSRModel'
    assert dict(cfg.model.generator) == {'name': 'TransposeSRResNet', 'num_feat': 32, 'scale': 2}


def test_base_errors_name_the_files(tmp_path):
    (tmp_path / 'a.yaml').write_text('_base_: b.yaml\n')
    (tmp_path / 'b.yaml').write_text('_base_: a.yaml\n')
    with pytest.raises(ConfigError, match=r'_base_ files include each other: .*a.yaml -> '
                                          r'.*b.yaml -> .*a.yaml'):
        load_config(str(tmp_path / 'a.yaml'))
    (tmp_path / 'c.yaml').write_text('_base_: gone.yaml\n')
    with pytest.raises(ConfigError, match=r'config file not found: .*gone.yaml \(the _base_ '
                                          r'of .*c.yaml\)'):
        load_config(str(tmp_path / 'c.yaml'))
    (tmp_path / 'd.yaml').write_text('_base_: {x: 1}\n')
    with pytest.raises(ConfigError, match='_base_ must be a file name or a list'):
        load_config(str(tmp_path / 'd.yaml'))


def test_lapstyle_rev2_is_rev1_with_its_differences():
    import os

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')
    rev1 = load_config(os.path.join(root, 'lapstyle_rev1.yaml'))
    rev2 = load_config(os.path.join(root, 'lapstyle_rev2.yaml'))
    assert rev2.model.levels == 2 and rev2.dataset.train.crop_size == 512
    assert rev2.optimizer.optimG.net_names == ['net_rev_2'] and rev2.model.emd_layers == ['r41']
    assert rev2.lr_scheduler == rev1.lr_scheduler and rev2.validate == rev1.validate
    assert rev2.model.draft_weights == rev1.model.draft_weights
    assert rev2.dataset.train.style_root == rev1.dataset.train.style_root
