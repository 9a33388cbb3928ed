"""Adversarial SR: local-VGG perceptual loss, patch discriminator, SRGANModel, real training."""
import os
import pickle
import re
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest
import yaml

import ppgan_ext  # noqa: F401  (registers the components)
from ppgan.models.builder import build_model
from ppgan_ext.config import load_config, validate_config
from ppgan_ext.models.criterions.local_vgg_perceptual_loss import (LocalVGGPerceptualLoss,
                                                                   VGG19Features,
                                                                   vgg19_layer_names)
from ppgan_ext.models.discriminators.patch_discriminator import PatchDiscriminator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAN_CONFIG = os.path.join(ROOT, 'configs', 'saltpepper_transpose_srresnet_x4_gan.yaml')


def _paddle_vgg19_features(seed=0):
    """Paddle's own VGG19 feature extractor (classifier left out), random weights."""
    from paddle.vision.models.vgg import VGG, cfgs, make_layers
    paddle.seed(seed)
    return VGG(make_layers(cfgs['E']), num_classes=0, with_pool=False)


@pytest.fixture(scope='module')
def vgg_file(tmp_path_factory):
    """A vgg19.pdparams in Paddle's layout (keys features.N.weight/bias)."""
    vgg = _paddle_vgg19_features()
    path = str(tmp_path_factory.mktemp('weights') / 'vgg19.pdparams')
    paddle.save(vgg.state_dict(), path)
    return path, vgg


# ------------------------------------------------------------ perceptual criterion
def test_layer_names_follow_paddle_vgg19_indices():
    names = vgg19_layer_names()
    assert len(names) == 37
    assert names[:5] == ['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1']
    assert names.index('relu2_2') == 8 and names.index('conv5_4') == 34
    assert names[-1] == 'pool5'


def test_criterion_loads_paddle_vgg19_file_and_truncates(vgg_file):
    path, vgg = vgg_file
    loss = LocalVGGPerceptualLoss({'relu1_2': 0.5, '8': 1.0}, vgg_path=path)
    assert len(loss.vgg.features) == 9          # up to relu2_2, nothing deeper built
    assert loss.layer_weights == {3: 0.5, 8: 1.0}
    x = paddle.rand([1, 3, 20, 24])
    ours = loss.vgg(x, {8})[8]
    theirs = vgg.features[:9](x)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    assert all(p.stop_gradient for p in loss.parameters())


def test_perceptual_loss_is_zero_for_identical_inputs_and_positive_otherwise(vgg_file):
    path, _ = vgg_file
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.random((2, 3, 32, 32), dtype=np.float32))
    noise = paddle.to_tensor(rng.normal(0, 1, (2, 3, 32, 32)).astype(np.float32))
    for criterion in ('l1', 'l2'):
        loss = LocalVGGPerceptualLoss({'relu1_2': 1.0, 'relu2_2': 1.0}, vgg_path=path,
                                      criterion=criterion, perceptual_weight=2.0)
        assert float(loss(x, x)) == 0.0
        small = float(loss((x + 0.02 * noise).clip(0, 1), x))
        large = float(loss((x + 0.2 * noise).clip(0, 1), x))
        assert 0 < small < large
    # the weight scales the loss linearly, and the gradient reaches the input only
    half = LocalVGGPerceptualLoss({'relu1_2': 1.0, 'relu2_2': 1.0}, vgg_path=path,
                                  criterion='l2', perceptual_weight=1.0)
    y = (x + 0.2 * noise).clip(0, 1)
    assert float(half(y, x)) == pytest.approx(large / 2, rel=1e-5)
    y.stop_gradient = False
    half(y, x).backward()
    assert float(y.grad.abs().sum()) > 0
    assert all(p.grad is None for p in half.parameters())


def test_random_weights_only_when_asked(caplog):
    import inspect
    assert inspect.signature(LocalVGGPerceptualLoss).parameters['vgg_path'].default \
        is inspect.Parameter.empty
    loss = LocalVGGPerceptualLoss({'conv1_2': 1.0}, vgg_path='random')
    assert len(loss.vgg.features) == 3
    assert 'random' in caplog.text


def _save(obj, path):
    paddle.save(obj, str(path))
    return str(path)


def test_bad_vgg_files_fail_in_one_line_naming_the_file(vgg_file, tmp_path):
    path, _ = vgg_file
    missing = str(tmp_path / 'nope' / 'vgg19.pdparams')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)) as e:
        LocalVGGPerceptualLoss({'relu2_2': 1.0}, vgg_path=missing)
    assert 'features.N.weight' in str(e.value) and '\n' not in str(e.value)

    truncated = tmp_path / 'truncated.pdparams'
    with open(path, 'rb') as f:
        truncated.write_bytes(f.read()[:100000])
    with pytest.raises(ValueError, match=r'cannot read .*truncated\.pdparams') as e:
        LocalVGGPerceptualLoss({'relu2_2': 1.0}, vgg_path=str(truncated))
    assert 'vgg19.pdparams' in str(e.value) and '\n' not in str(e.value)

    text = tmp_path / 'text.pdparams'
    text.write_text('not weights')
    with pytest.raises(ValueError, match='cannot read'):
        LocalVGGPerceptualLoss({'relu2_2': 1.0}, vgg_path=str(text))

    wrong_keys = _save({'conv1.weight': paddle.zeros([64, 3, 3, 3])}, tmp_path / 'keys.pdparams')
    with pytest.raises(ValueError, match=r"keys\.pdparams has no key 'features\.0\.weight'"):
        LocalVGGPerceptualLoss({'relu2_2': 1.0}, vgg_path=wrong_keys)

    state = {k: v for k, v in paddle.load(path).items() if k.startswith('features.')}
    state['features.5.weight'] = paddle.zeros([128, 32, 3, 3])
    wrong_shape = _save(state, tmp_path / 'shape.pdparams')
    with pytest.raises(ValueError, match=r'features\.5\.weight has shape \(128, 32, 3, 3\), '
                                         r'VGG19 needs \(128, 64, 3, 3\)'):
        LocalVGGPerceptualLoss({'relu2_2': 1.0}, vgg_path=wrong_shape)
    # a shallower extractor does not need the mis-shaped layer
    LocalVGGPerceptualLoss({'relu1_2': 1.0}, vgg_path=wrong_shape)

    not_a_dict = _save([paddle.zeros([1])], tmp_path / 'list.pdparams')
    with pytest.raises(ValueError, match='not a state dict'):
        LocalVGGPerceptualLoss({'relu2_2': 1.0}, vgg_path=not_a_dict)


@pytest.mark.parametrize('kwargs,match', [
    (dict(layer_weights={'relu9_9': 1.0}), r"layer_weights key 'relu9_9'"),
    (dict(layer_weights={'40': 1.0}), 'out of range'),
    (dict(layer_weights={}), 'non-empty'),
    (dict(layer_weights={'relu1_1': 0}), 'at least one weight'),
    (dict(layer_weights={'relu1_1': -1.0}), r"layer_weights\['relu1_1'\]"),
    (dict(layer_weights={'relu1_1': 1.0}, criterion='l3'), r"criterion must be one of"),
    (dict(layer_weights={'relu1_1': 1.0}, perceptual_weight=-1), 'perceptual_weight'),
])
def test_criterion_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocalVGGPerceptualLoss(vgg_path='random', **kwargs)


# ------------------------------------------------------------ discriminator
def test_patch_discriminator_any_size_and_bounds():
    disc = PatchDiscriminator(num_feat=8, num_layers=3)
    for h, w in ((24, 24), (37, 53), (64, 48)):
        out = disc(paddle.rand([2, 3, h, w]))
        assert tuple(out.shape) == (2, 1, h // 8 - 2, w // 8 - 2)
    with pytest.raises(ValueError, match='needs at least 24x24'):
        disc(paddle.rand([1, 3, 16, 40]))
    with pytest.raises(ValueError, match='num_layers must be an int 1-6'):
        PatchDiscriminator(num_layers=0)
    # spectral normalisation keeps each conv's largest singular value near 1
    disc.train()
    x = paddle.rand([1, 3, 24, 24])
    for _ in range(20):
        disc(x)
    conv = disc.body[0]
    w = conv.weight.numpy().reshape(conv.weight.shape[0], -1)
    assert np.linalg.svd(w, compute_uv=False)[0] == pytest.approx(1.0, abs=0.05)


# ------------------------------------------------------------ model
def _model_cfg(**over):
    cfg = dict(
        name='SRGANModel',
        generator=dict(name='TransposeSRResNet', num_feat=8, num_blocks=1, scale=4),
        discriminator=dict(name='PatchDiscriminator', num_feat=8),
        pixel_criterion=dict(name='L1Loss', loss_weight=1.0),
        perceptual_criterion=dict(name='LocalVGGPerceptualLoss', vgg_path='random',
                                  layer_weights={'relu1_2': 1.0}, perceptual_weight=0.1),
        gan_criterion=dict(name='GANLoss', gan_mode='vanilla', loss_weight=0.01),
        relativistic=True)
    cfg.update(over)
    return cfg


def _optim_cfg(g='optimG', d='optimD'):
    return {g: dict(name='Adam', net_names=['generator'], beta1=0.9, beta2=0.99),
            d: dict(name='Adam', net_names=['discriminator'], beta1=0.9, beta2=0.99)}


def _setup(model, optim_cfg=None):
    model.setup_lr_schedulers(dict(name='MultiStepDecay', learning_rate=1e-3,
                                   milestones=[1000], gamma=0.5))
    model.setup_optimizers(model.lr_scheduler, optim_cfg or _optim_cfg())
    return model


def _has_vgg(model):
    return any(isinstance(v, LocalVGGPerceptualLoss) or isinstance(v, VGG19Features)
               for v in vars(model).values())


@pytest.mark.parametrize('perceptual', [
    None, dict(name='LocalVGGPerceptualLoss', vgg_path='/no/such/vgg19.pdparams',
               layer_weights={'conv5_4': 1.0}, perceptual_weight=0)])
def test_perceptual_off_builds_no_vgg(perceptual):
    model = build_model(_model_cfg(perceptual_criterion=perceptual))
    assert model.perceptual_criterion is None and not _has_vgg(model)
    model = build_model({k: v for k, v in _model_cfg().items() if k != 'perceptual_criterion'})
    assert model.perceptual_criterion is None and not _has_vgg(model)
    assert _has_vgg(build_model(_model_cfg()))


def test_shipped_config_switches_perceptual_off_as_its_comment_says():
    with open(GAN_CONFIG) as f:
        head = f.read().split('\ntotal_iters')[0]
    assert 'tools/main.py -c configs/saltpepper_transpose_srresnet_x4_gan.yaml' in head
    assert '--load' in head
    assert '-o model.perceptual_criterion.perceptual_weight=0' in head
    cfg = load_config(GAN_CONFIG, ['model.perceptual_criterion.vgg_path=/no/such/vgg19.pdparams'])
    with pytest.raises(FileNotFoundError, match='/no/such/vgg19.pdparams'):
        build_model(cfg.model)
    cfg = load_config(GAN_CONFIG, ['model.perceptual_criterion.vgg_path=/no/such/vgg19.pdparams',
                                   'model.perceptual_criterion.perceptual_weight=0'])
    model = build_model(cfg.model)
    assert model.perceptual_criterion is None and model.relativistic
    assert type(model.nets['discriminator']).__name__ == 'PatchDiscriminator'
    # every other part of the config passes the pre-flight check (dataset swapped for
    # ppgan's SRDataset so that this does not depend on the dataset module)
    cfg.dataset = {'train': _sr_dataset('lq', 'gt', crop=128), 'test': _sr_dataset('lq', 'gt')}
    validate_config(cfg, is_train=True, source=GAN_CONFIG)


def _state(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


def _changed(before, net):
    return any(not np.array_equal(before[k], v.numpy()) for k, v in net.state_dict().items())


def test_schedule_generator_only_then_discriminator_only_then_both():
    paddle.seed(0)
    model = _setup(build_model(_model_cfg(gan_start_iter=2, disc_init_iters=2)))
    rng = np.random.default_rng(0)
    batch = {'lq': rng.random((2, 3, 8, 8), dtype=np.float32),
             'gt': rng.random((2, 3, 32, 32), dtype=np.float32), 'lq_path': ['a', 'b']}
    seen = []
    for it in range(1, 7):
        assert model.current_iter() == it
        g, d = _state(model.nets['generator']), _state(model.nets['discriminator'])
        model.setup_input(batch)
        model.train_iter(model.optimizers)
        seen.append((_changed(g, model.nets['generator']),
                     _changed(d, model.nets['discriminator']), sorted(model.losses)))
        model.lr_scheduler.step()          # what ppgan's Trainer does after each iteration
    g_only = ['loss_perceptual', 'loss_pixel']
    d_only = ['d_fake', 'd_real', 'loss_d_fake', 'loss_d_real']
    both = sorted(g_only + ['loss_gan', 'd_fake', 'd_real', 'loss_d_fake', 'loss_d_real'])
    assert seen == [(True, False, g_only)] * 2 + [(False, True, d_only)] * 2 + \
        [(True, True, both)] * 2
    assert all(np.isfinite(float(v)) for v in model.losses.values())

    # the iteration clock comes back with the optimizer state (what --resume restores)
    state = {k: opt.state_dict() for k, opt in model.optimizers.items()}
    fresh = _setup(build_model(_model_cfg()))
    assert fresh.current_iter() == 1
    for k, opt in fresh.optimizers.items():
        opt.set_state_dict(state[k])
    assert fresh.current_iter() == 7


def test_optimizers_are_found_by_net_names():
    model = _setup(build_model(_model_cfg()), _optim_cfg('gen_opt', 'disc_opt'))
    assert model._optim_for == {'generator': 'gen_opt', 'discriminator': 'disc_opt'}
    single = dict(name='Adam', net_names=['generator', 'discriminator'])
    for cfg, match in ((single, 'one for the discriminator'),
                       ({'opt': single}, 'need separate optimizers'),
                       ({'optimG': dict(name='Adam', net_names=['generator'])},
                        'no optimizer updates the discriminator'),
                       ({'o': dict(name='Adam', net_names=['vgg'])}, "unknown net 'vgg'")):
        with pytest.raises(ValueError, match=match):
            _setup(build_model(_model_cfg()), cfg)


@pytest.mark.parametrize('over,match', [
    (dict(gan_criterion=dict(name='GANLoss', gan_mode='wgangp')), r"gan_mode: must be one of"),
    (dict(gan_criterion=dict(name='GANLoss', gan_mode='lsgan', loss_weight=0)), 'BaseSRModel'),
    (dict(gan_start_iter=-1), r'model\.gan_start_iter'),
    (dict(relativistic='yes'), r'model\.relativistic'),
    (dict(perceptual_criterion=dict(name='VGGLoss', vgg_path='random')), 'unknown CRITERIONS'),
])
def test_model_argument_errors(over, match):
    with pytest.raises(ValueError, match=match):
        build_model(_model_cfg(**over))


def _bce(logits, target):
    """Mean binary cross-entropy with logits, in float64."""
    x = logits.astype(np.float64)
    return float(np.mean(np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))))


def _mse(x, target):
    return float(np.mean((x.astype(np.float64) - target) ** 2))


@pytest.mark.parametrize('gan_mode', ['vanilla', 'lsgan'])
@pytest.mark.parametrize('relativistic', [False, True])
def test_gan_loss_formulas_by_value(gan_mode, relativistic):
    """Generator and discriminator GAN terms recomputed from D's logits by hand.

    Swapping a real/fake target, dropping the relativistic centring or the
    generator's loss weight changes these numbers.
    """
    paddle.seed(3)
    weight = 0.25
    model = _setup(build_model(_model_cfg(   # no spectral norm: D is the same at every call
        relativistic=relativistic,
        discriminator=dict(name='PatchDiscriminator', num_feat=8, spectral_norm=False),
        gan_criterion=dict(name='GANLoss', gan_mode=gan_mode, loss_weight=weight))))
    rng = np.random.default_rng(3)
    model.setup_input({'lq': rng.random((2, 3, 8, 8), dtype=np.float32),
                       'gt': rng.random((2, 3, 32, 32), dtype=np.float32),
                       'lq_path': ['a', 'b']})
    crit = _bce if gan_mode == 'vanilla' else _mse
    g = model.generator_losses(adversarial=True)
    d = model.discriminator_losses()
    with paddle.no_grad():
        real = model.nets['discriminator'](model.gt).numpy()
        fake = model.nets['discriminator'](model.output).numpy()
    if relativistic:
        g_expected = (crit(real - fake.mean(), 0.0) + crit(fake - real.mean(), 1.0)) / 2
        d_real = crit(real - fake.mean(), 1.0)
        d_fake = crit(fake - real.mean(), 0.0)
    else:
        g_expected, d_real, d_fake = crit(fake, 1.0), crit(real, 1.0), crit(fake, 0.0)
    assert float(g['loss_gan']) == pytest.approx(weight * g_expected, rel=1e-4)
    assert float(d['loss_d_real']) == pytest.approx(d_real, rel=1e-4)
    assert float(d['loss_d_fake']) == pytest.approx(d_fake, rel=1e-4)
    assert float(d['d_real']) == pytest.approx(real.mean(), rel=1e-4, abs=1e-6)
    assert float(d['d_fake']) == pytest.approx(fake.mean(), rel=1e-4, abs=1e-6)
    # the pixel term is the configured criterion on (output, gt)
    pixel = np.abs(model.output.numpy() - model.gt.numpy()).mean()
    assert float(g['loss_pixel']) == pytest.approx(pixel, rel=1e-4)
    # the generator's terms give the discriminator no gradient
    sum(g.values()).backward()
    assert all(p.grad is None or not np.any(p.grad.numpy())
               for p in model.nets['discriminator'].parameters())


@pytest.mark.parametrize('gan_mode,relativistic', [('lsgan', False), ('vanilla', False),
                                                   ('vanilla', True)])
def test_gan_modes_train_and_the_discriminator_learns(gan_mode, relativistic):
    """A few steps on a fixed batch: D's real-vs-fake margin grows, the losses are logged."""
    paddle.seed(1)
    model = _setup(build_model(_model_cfg(
        relativistic=relativistic, gan_criterion=dict(name='GANLoss', gan_mode=gan_mode,
                                                      loss_weight=0.01))))
    rng = np.random.default_rng(1)
    margins = []
    for size in (32, 40, 40, 40, 40, 40, 40):   # a new crop size must not trip cached targets
        model.setup_input({'lq': rng.random((2, 3, size // 4, size // 4), dtype=np.float32),
                           'gt': rng.random((2, 3, size, size), dtype=np.float32),
                           'lq_path': ['a', 'b']})
        model.train_iter(model.optimizers)
        margins.append(float(model.losses['d_real']) - float(model.losses['d_fake']))
        assert {'loss_pixel', 'loss_gan', 'loss_d_real', 'loss_d_fake'} <= set(model.losses)
    assert margins[-1] > margins[0], margins


# ------------------------------------------------------------ real training run
def _photo(name, size):
    from skimage import data
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.cvtColor(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2BGR)


def _paired_folders(root, names, size):
    gt_dir, lq_dir = root / 'gt', root / 'lq'
    gt_dir.mkdir(parents=True)
    lq_dir.mkdir()
    for name in names:
        gt = _photo(name, size)
        cv2.imwrite(str(gt_dir / f'{name}.png'), gt)
        lq = cv2.resize(gt, (size // 4, size // 4), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(lq_dir / f'{name}.png'), lq)
    return str(lq_dir), str(gt_dir)


def _sr_dataset(lq, gt, crop=None, batch_size=1):
    pipeline = []
    if crop:
        pipeline += [dict(name='SRPairedRandomCrop', gt_patch_size=crop, scale=4,
                          keys=['image', 'image']),
                     dict(name='PairedRandomHorizontalFlip', keys=['image', 'image'])]
    pipeline += [dict(name='Transpose', keys=['image', 'image']),
                 dict(name='Normalize', mean=[0., 0., 0.], std=[255., 255., 255.],
                      keys=['image', 'image'])]
    return dict(name='SRDataset', lq_folder=lq, gt_folder=gt, scale=4, num_workers=0,
                batch_size=batch_size,
                preprocess=[dict(name='LoadImageFromFile', key='lq'),
                            dict(name='LoadImageFromFile', key='gt'),
                            dict(name='Transforms', input_keys=['lq', 'gt'],
                                 pipeline=pipeline)])


def _run_main(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'main.py')] + args,
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _losses(log, name):
    return [float(v) for v in re.findall(rf'\b{name}: (-?[\d.]+)', log)]


@pytest.mark.e2e
def test_training_through_tools_main_then_resume(tmp_path, vgg_file):
    train = _paired_folders(tmp_path / 'train', ['astronaut', 'coffee', 'chelsea', 'rocket'], 64)
    test = _paired_folders(tmp_path / 'test', ['brick', 'camera'], 64)
    cfg = dict(
        total_iters=20, output_dir=str(tmp_path / 'out'), min_max=[0., 1.],
        model=_model_cfg(
            perceptual_criterion=dict(name='LocalVGGPerceptualLoss', vgg_path=vgg_file[0],
                                      layer_weights={'relu1_2': 1.0, 'relu2_2': 1.0},
                                      perceptual_weight=0.01),
            disc_init_iters=2),
        dataset=dict(train=_sr_dataset(*train, crop=32, batch_size=2),
                     test=_sr_dataset(*test)),
        lr_scheduler=dict(name='MultiStepDecay', learning_rate=2e-3, milestones=[1000],
                          gamma=0.5),
        optimizer=_optim_cfg(),
        validate=dict(interval=20, save_img=False,
                      metrics=dict(psnr=dict(name='PSNR', crop_border=4, test_y_channel=False),
                                   ssim=dict(name='SSIM', crop_border=4,
                                             test_y_channel=False))),
        log_config=dict(interval=1, visiual_interval=1000),
        snapshot_config=dict(interval=10))
    cfg_path = tmp_path / 'srgan.yaml'
    cfg_path.write_text(yaml.safe_dump(cfg))

    # --load takes a pixel-loss weight file: the generator is loaded, the discriminator is new
    from ppgan.models.generators.builder import build_generator
    from ppgan.utils.filesystem import save as ppgan_save
    paddle.seed(5)
    pretrained = build_generator(cfg['model']['generator'])
    weights = str(tmp_path / 'pixel_weight.pdparams')
    ppgan_save({'generator': pretrained.state_dict()}, weights)   # the Trainer's format

    log = _run_main(['-c', str(cfg_path), '--no-cuda', '--seed', '3', '--load', weights],
                    tmp_path)
    assert 'Loaded pretrained weight for net generator' in log
    assert 'Skip load pretrained weight for net discriminator' in log
    pixel = _losses(log, 'loss_pixel')
    assert np.mean(pixel[-4:]) < 0.7 * np.mean(pixel[:4]), pixel
    for name in ('loss_pixel', 'loss_perceptual', 'loss_gan'):
        assert len(_losses(log, name)) == 18       # not during the 2 discriminator-only iters
    for name in ('loss_d_real', 'loss_d_fake', 'd_real', 'd_fake'):
        assert len(_losses(log, name)) == 20
    assert re.search(r'Metric psnr: \d+\.\d+', log) and re.search(r'Metric ssim: 0\.\d+', log)

    run_dir = os.path.join(cfg['output_dir'], os.listdir(cfg['output_dir'])[0])
    files = sorted(os.listdir(run_dir))
    assert {'iter_10_weight.pdparams', 'iter_20_weight.pdparams',
            'iter_20_checkpoint.pdparams'} <= set(files)
    w10, w20 = (paddle.load(os.path.join(run_dir, f'iter_{i}_weight.pdparams'))
                for i in (10, 20))
    for net in ('generator', 'discriminator'):
        assert any(not np.allclose(np.asarray(w10[net][k]), np.asarray(w20[net][k]))
                   for k in w10[net]), f'{net} did not train'
    with open(os.path.join(run_dir, 'iter_20_checkpoint.pdparams'), 'rb') as f:
        ckpt = pickle.load(f)
    assert ckpt['epoch'] == 20 and {'optimG', 'optimD'} <= set(ckpt)
    assert ckpt['optimD']['LR_Scheduler']['last_epoch'] == 20

    log2 = _run_main(['-c', str(cfg_path), '--no-cuda', '-o', 'total_iters=24',
                      '--resume', os.path.join(run_dir, 'iter_20_checkpoint.pdparams')],
                     tmp_path)
    assert 'at iteration 21' in log2
    iters = [int(i) for i in re.findall(r'Iter: (\d+)/24', log2)]
    assert iters == [21, 22, 23, 24]
    assert len(_losses(log2, 'loss_gan')) == 4      # past the warm-up: adversarial at once
    assert np.mean(_losses(log2, 'loss_pixel')) < np.mean(pixel[:4])
    run_dirs = sorted(os.listdir(cfg['output_dir']))
    assert any(os.path.exists(os.path.join(cfg['output_dir'], d, 'iter_24_checkpoint.pdparams'))
               for d in run_dirs)
