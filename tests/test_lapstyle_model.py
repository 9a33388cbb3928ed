"""LapStylePyramidModel: what each stage trains and freezes, weight chaining, export."""
import copy

import numpy as np
import paddle
import pytest

import ppgan_ext  # noqa: F401
from ppgan.models.builder import build_model
from ppgan.solver import build_lr_scheduler

from ppgan_ext.metrics.style_loss_metric import StyleTransferLoss
from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet

TINY = {
    'name': 'LapStylePyramidModel',
    'encoder_generator': {'name': 'LapStyleVGGEncoder', 'random_init': True, 'base_channels': 4},
    'draft_generator': {'name': 'LapStyleDraftNet', 'base_channels': 4},
    'revision_generator': {'name': 'LapStyleRevisionNet', 'num_feat': 4},
    'discriminator': {'name': 'LapStylePatchDiscriminator', 'num_feat': 4},
}
OPTIM = {'optimG': {'name': 'Adam', 'beta1': 0.9, 'beta2': 0.999},
         'optimD': {'name': 'Adam', 'beta1': 0.9, 'beta2': 0.999}}


def tiny_model(**overrides):
    cfg = copy.deepcopy(TINY)
    cfg.update(overrides)
    return build_model(cfg)


def with_optimizers(model, optim=None):
    lr = build_lr_scheduler({'name': 'NonLinearDecay', 'learning_rate': 1e-2, 'lr_decay': 0.0})
    model.setup_optimizers(lr, copy.deepcopy(optim or OPTIM))
    return model


def batch(size, n=2, seed=0):
    rng = np.random.default_rng(seed)
    return {'ci': rng.random((n, 3, size, size), dtype=np.float32),
            'si': rng.random((n, 3, size, size), dtype=np.float32),
            'ci_path': [f'c{i}.png' for i in range(n)]}


def snapshot(model):
    return {name: {k: v.numpy().copy() for k, v in net.state_dict().items()}
            for name, net in model.nets.items()}


def changed(before, after, name):
    return any(not np.array_equal(before[name][k], after[name][k]) for k in before[name])


def perturb_output(model, name):
    """Untrained generators output zeros (zero output conv): give net ``name`` a random one."""
    net = model.nets[name]
    layer = net.final_conv[1] if name == 'net_dec' else net.UpBlock[-1]
    layer.weight.set_value(paddle.normal(0.0, 0.05, layer.weight.shape))
    layer.bias.set_value(paddle.full(layer.bias.shape, 0.3))
    return model


def save_weights(model, path):
    paddle.save({name: net.state_dict() for name, net in model.nets.items()}, str(path))
    return str(path)


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    """Weight files of a draft model and of a level-1 model built on it."""
    root = tmp_path_factory.mktemp('chain')
    paddle.seed(0)
    draft = perturb_output(tiny_model(), 'net_dec')
    draft_path = save_weights(draft, root / 'draft.pdparams')
    rev1 = perturb_output(tiny_model(stage='revision', levels=1, draft_weights=draft_path),
                          'net_rev')
    rev1_path = save_weights(rev1, root / 'rev1.pdparams')
    return root, draft, draft_path, rev1, rev1_path


def test_draft_stage_trains_only_the_drafting_net():
    paddle.seed(0)
    model = with_optimizers(tiny_model())
    assert list(model.nets) == ['net_enc', 'net_dec']
    before = snapshot(model)
    model.setup_input(batch(32))
    model.forward()
    model.backward_G()
    assert all(p.grad is None for p in model.nets['net_enc'].parameters())
    dec_grads = [p.grad for p in model.nets['net_dec'].parameters()]
    assert all(g is not None for g in dec_grads)
    assert sum(float(g.abs().sum()) for g in dec_grads) > 0
    model.optimizers['optimG'].step()
    after = snapshot(model)
    assert changed(before, after, 'net_dec') and not changed(before, after, 'net_enc')
    for key in ('loss_c', 'loss_s', 'loss_style_remd', 'loss_content_relt', 'l_identity1',
                'l_identity2', 'loss'):
        assert np.isfinite(float(model.losses[key])), key


def test_revision_stage_keeps_lower_levels_frozen(chain):
    root, draft, draft_path, rev1, rev1_path = chain
    paddle.seed(1)
    model = with_optimizers(tiny_model(stage='revision', levels=2, draft_weights=draft_path,
                                       revision_weights=[rev1_path]))
    assert list(model.nets) == ['net_enc', 'net_dec', 'net_rev', 'net_rev_2', 'netD']
    before = snapshot(model)
    # lower levels come from the files: encoder and drafting net of the draft run, level 1 of rev1
    ref = snapshot(rev1)
    for name in ('net_enc', 'net_dec', 'net_rev'):
        assert not changed(ref, before, name), name
    for step in range(3):
        model.setup_input(batch(64, seed=step))
        model.train_iter(model.optimizers)
    after = snapshot(model)
    for name in ('net_enc', 'net_dec', 'net_rev'):
        assert not changed(before, after, name), f'{name} was updated'
        assert all(p.grad is None for p in model.nets[name].parameters()), name
    assert changed(before, after, 'net_rev_2') and changed(before, after, 'netD')
    assert {'loss_gan_G', 'D_fake_loss', 'D_real_loss'} <= set(model.losses)
    assert model.stylized.shape == [2, 3, 64, 64]


def test_training_and_inference_pyramids_agree(chain):
    """The exported Layer computes what training optimises (no padding at 64 = 2**(K+3) * 2)."""
    _, _, draft_path, _, rev1_path = chain
    model = tiny_model(stage='revision', levels=2, draft_weights=draft_path,
                       revision_weights=[rev1_path])
    model.setup_input(batch(64, n=1))
    model.test_iter()
    net = model.inference_net()
    net.eval()
    out = net(model.ci, model.si)
    np.testing.assert_allclose(out.numpy(), paddle.clip(model.stylized, 0, 1).numpy(), atol=1e-5)


def test_whole_pyramid_exports_and_matches_dynamic_graph(chain, tmp_path):
    _, _, draft_path, _, rev1_path = chain
    model = tiny_model(stage='revision', levels=2, draft_weights=draft_path,
                       revision_weights=[rev1_path])
    net = model.inference_net()
    net.eval()
    rng = np.random.default_rng(7)
    content = paddle.to_tensor(rng.random((1, 3, 75, 61), dtype=np.float32))
    style = paddle.to_tensor(rng.random((1, 3, 80, 96), dtype=np.float32))
    expected = net(content, style).numpy()
    static = paddle.jit.to_static(net, input_spec=LapStylePyramidNet.input_spec(), full_graph=True)
    paddle.jit.save(static, str(tmp_path / 'lapstyle'))
    loaded = paddle.jit.load(str(tmp_path / 'lapstyle'))
    got = loaded(content, style).numpy()
    assert got.shape == (1, 3, 75, 61)
    assert np.abs(got - expected).max() < 1e-4
    assert 0.0 <= got.min() and got.max() <= 1.0 and got.std() > 0
    other = paddle.to_tensor(rng.random((1, 3, 130, 97), dtype=np.float32))
    assert np.abs(loaded(other, style).numpy() - net(other, style).numpy()).max() < 1e-4


def test_validation_reports_losses_and_a_panel():
    model = tiny_model()
    metrics = {'s': StyleTransferLoss('style'), 'c': StyleTransferLoss('content')}
    for seed in range(2):
        model.setup_input(batch(32, n=1, seed=seed))
        model.test_iter(metrics)
    assert len(metrics['s'].values) == 2 and metrics['s'].accumulate() > 0
    assert metrics['c'].accumulate() > 0
    visuals = model.get_current_visuals()
    assert visuals['panel'].shape == [1, 3, 32, 96]
    np.testing.assert_array_equal(visuals['panel'][:, :, :, :32].numpy(), model.ci.numpy())


def test_stage_and_weight_errors(chain, tmp_path):
    _, _, draft_path, _, rev1_path = chain
    with pytest.raises(ValueError, match="stage must be one of draft, revision"):
        tiny_model(stage='drafting')
    with pytest.raises(ValueError, match='levels must be 0 at stage draft'):
        tiny_model(levels=1)
    with pytest.raises(ValueError, match='draft_weights is required'):
        tiny_model(stage='revision', levels=1)
    with pytest.raises(ValueError, match=r'revision_weights must list 1 weight file'):
        tiny_model(stage='revision', levels=2, draft_weights=draft_path)
    with pytest.raises(FileNotFoundError, match=r'model\.draft_weights: file not found: .*nope'):
        tiny_model(stage='revision', levels=1, draft_weights=str(tmp_path / 'nope.pdparams'))
    with pytest.raises(FileNotFoundError, match=r'no file matches'):
        tiny_model(stage='revision', levels=1, draft_weights=str(tmp_path / 'x-*/w.pdparams'))
    with pytest.raises(ValueError, match=r"revision_weights\[0\]: .*has no 'net_rev' weights"):
        tiny_model(stage='revision', levels=2, draft_weights=draft_path,
                   revision_weights=[draft_path])
    with pytest.raises(ValueError, match='style_layers: unknown layer'):
        tiny_model(style_layers=['r61'])
    with pytest.raises(ValueError, match='emd_weight must be a number >= 0'):
        tiny_model(emd_weight=-1)


def test_glob_pattern_picks_the_newest_weight_file(chain, tmp_path):
    import os
    import shutil
    _, _, draft_path, _, _ = chain
    for i, name in enumerate(('run-a', 'run-b')):
        os.makedirs(tmp_path / name)
        shutil.copy(draft_path, tmp_path / name / 'w.pdparams')
        os.utime(tmp_path / name / 'w.pdparams', (1000 + i, 1000 + i))
    (tmp_path / 'run-a' / 'w.pdparams').write_bytes(b'broken')  # older: must not be used
    os.utime(tmp_path / 'run-a' / 'w.pdparams', (1000, 1000))
    model = tiny_model(stage='revision', levels=1, draft_weights=str(tmp_path / 'run-*/w.pdparams'))
    assert 'net_rev' in model.nets


def test_optimizer_config_cannot_train_a_frozen_net(chain):
    _, _, draft_path, _, _ = chain
    model = tiny_model(stage='revision', levels=1, draft_weights=draft_path)
    bad = copy.deepcopy(OPTIM)
    bad['optimG']['net_names'] = ['net_dec']
    with pytest.raises(ValueError, match=r"optimG\.net_names: 'net_dec' is frozen"):
        with_optimizers(model, bad)
    no_d = {'optimG': OPTIM['optimG']}
    with pytest.raises(ValueError, match='optimizer.optimD is missing'):
        with_optimizers(tiny_model(stage='revision', levels=1, draft_weights=draft_path), no_d)
    ok = with_optimizers(tiny_model(), no_d)
    assert list(ok.optimizers) == ['optimG']


def test_too_small_crops_are_refused():
    model = tiny_model(stage='draft')
    with pytest.raises(ValueError, match='needs sides >= 32'):
        model.setup_input(batch(16))


def test_revision_stage_takes_the_encoder_from_the_draft_file(chain, tmp_path, monkeypatch):
    """No VGG file is needed once the draft weights carry net_enc; without it, the clear error."""
    _, draft, draft_path, _, _ = chain
    monkeypatch.setenv('HOME', str(tmp_path))  # no ~/.cache/ppgan/vgg_normalised.pdparams
    real_vgg = {'name': 'LapStyleVGGEncoder', 'random_init': False, 'base_channels': 4}
    model = tiny_model(stage='revision', levels=1, draft_weights=draft_path,
                       encoder_generator=real_vgg)
    assert not changed(snapshot(draft), snapshot(model), 'net_enc')
    no_encoder = str(tmp_path / 'dec_only.pdparams')
    paddle.save({'net_dec': draft.nets['net_dec'].state_dict()}, no_encoder)
    with pytest.raises(FileNotFoundError, match=r'vgg_normalised\.pdparams.*weights_path'):
        tiny_model(stage='revision', levels=1, draft_weights=no_encoder,
                   encoder_generator=dict(real_vgg, base_channels=64))
