"""Each run-time patch of ppgan 2.1.0 in ppgan_ext.compat, checked by value on the real code."""
import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppgan_ext import compat


@pytest.fixture(scope='module', autouse=True)
def patched():
    compat.patch_ppgan()
    compat.patch_ppgan()   # idempotent


def test_starganv2_picks_each_samples_domain():
    from ppgan.models.generators.generator_starganv2 import StarGANv2Mapping, StarGANv2Style

    paddle.seed(0)
    mapping = StarGANv2Mapping(latent_dim=4, style_dim=3, num_domains=3)
    z = paddle.randn([4, 4])
    y = paddle.to_tensor([2, 0, 1, 2])
    with paddle.no_grad():
        s = mapping(z, y).numpy()
        h = mapping.shared(z)
        every = np.stack([layer(h).numpy() for layer in mapping.unshared], axis=1)
    np.testing.assert_allclose(s, every[np.arange(4), y.numpy()], rtol=1e-6)

    style = StarGANv2Style(img_size=16, style_dim=3, num_domains=2, max_conv_dim=8)
    with paddle.no_grad():
        out = style(paddle.randn([2, 3, 16, 16]), paddle.to_tensor([1, 0]))
    assert tuple(out.shape) == (2, 3)


def test_first_order_anti_alias_downsampling_runs_and_matches_nearest():
    from ppgan.modules.first_order import AntiAliasInterpolation2d

    paddle.seed(0)
    layer = AntiAliasInterpolation2d(3, 0.25)
    x = paddle.rand([1, 3, 16, 16])
    with paddle.no_grad():
        out = layer(x)
        blurred = F.conv2d(F.pad(x, [layer.ka, layer.kb, layer.ka, layer.kb]),
                           weight=layer.weight, groups=layer.groups)
    assert tuple(out.shape) == (1, 3, 4, 4)
    np.testing.assert_allclose(out.numpy(), blurred.numpy()[:, :, ::4, ::4], rtol=1e-6)


def test_first_order_transform_warp_matmul():
    from ppgan.models.generators.generator_firstorder import Transform

    paddle.seed(0)
    affine_only = Transform(2, sigma_affine=0.05)
    coords = paddle.rand([2, 7, 2])
    theta = affine_only.theta.numpy()                  # (2, 2, 3)
    expected = np.einsum('bij,bnj->bni', theta[:, :, :2], coords.numpy()) + theta[:, None, :, 2]
    np.testing.assert_allclose(affine_only.warp_coordinates(coords).numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    with_tps = Transform(2, sigma_affine=0.05, sigma_tps=0.005, points_tps=5)
    assert tuple(with_tps.warp_coordinates(coords).shape) == (2, 7, 2)


def test_style_emd_loss_is_the_larger_mean_of_the_two_minima():
    from ppgan.models.criterions.pixel_loss import CalcStyleEmdLoss, calc_emd_loss

    paddle.seed(0)
    a, b = paddle.rand([1, 8, 4, 4]), paddle.rand([1, 8, 4, 4])
    loss = CalcStyleEmdLoss()(a, b)
    cost = calc_emd_loss(a, b).numpy()
    assert loss.shape == [] or tuple(loss.shape) in ((), (1,))
    assert float(loss) == pytest.approx(max(cost.min(2).mean(), cost.min(1).mean()), rel=1e-6)


class _Recorder:
    """Receives what a model's test_iter hands its metrics."""

    def __init__(self):
        self.pairs = []

    def update(self, preds, gts):
        self.pairs.append((preds.numpy(), gts.numpy()))


def test_cyclegan_test_iter_feeds_its_metrics():
    from ppgan.models.builder import build_model

    paddle.seed(0)
    model = build_model({
        'name': 'CycleGANModel',
        'generator': {'name': 'ResnetGenerator', 'input_nc': 3, 'output_nc': 3, 'ngf': 4,
                      'norm_type': 'instance', 'n_blocks': 1},
        'discriminator': {'name': 'NLayerDiscriminator', 'input_nc': 3, 'ndf': 4,
                          'n_layers': 1, 'norm_type': 'instance'},
        'cycle_criterion': {'name': 'L1Loss', 'loss_weight': 10.0},
        'idt_criterion': {'name': 'L1Loss', 'loss_weight': 0.5},
        'gan_criterion': {'name': 'GANLoss', 'gan_mode': 'lsgan'}})
    a, b = paddle.rand([1, 3, 16, 16]), paddle.rand([1, 3, 16, 16])
    model.setup_input({'A': a, 'B': b, 'A_path': ['a'], 'B_path': ['b']})
    metric = _Recorder()
    model.test_iter({'fid': metric})
    assert len(metric.pairs) == 1
    fake, real = metric.pairs[0]
    np.testing.assert_array_equal(real, b.numpy())
    with paddle.no_grad():
        model.nets['netG_A'].eval()
        np.testing.assert_allclose(fake, model.nets['netG_A'](a).numpy(), rtol=1e-5, atol=1e-6)


def test_missing_weight_file_is_one_line_naming_file_url_and_place(tmp_path, monkeypatch):
    from paddle.utils import download as paddle_download
    from ppgan.utils import download as ppgan_download

    monkeypatch.setenv('PPGAN_EXT_OFFLINE', '1')
    monkeypatch.setattr(ppgan_download, 'PPGAN_HOME', str(tmp_path))
    url = 'https://paddlegan.bj.bcebos.com/models/tiny_test_weights.pdparams'
    with pytest.raises(compat.WeightsUnavailable) as info:
        ppgan_download.get_path_from_url(url)
    line = str(info.value)
    assert '\n' not in line
    assert 'tiny_test_weights.pdparams' in line and url in line
    assert os.path.join(str(tmp_path), 'tiny_test_weights.pdparams') in line
    # the cache is looked at first
    (tmp_path / 'tiny_test_weights.pdparams').write_bytes(b'weights')
    assert ppgan_download.get_path_from_url(url) == str(tmp_path / 'tiny_test_weights.pdparams')

    monkeypatch.setattr(paddle_download, 'WEIGHTS_HOME', str(tmp_path / 'hapi'))
    with pytest.raises(compat.WeightsUnavailable, match=r'InceptionV3.pdparams is not on disk.*'
                                                        r'put it at .*hapi/InceptionV3'):
        paddle_download.get_weights_path_from_url(
            'https://paddlegan.bj.bcebos.com/InceptionV3.pdparams')


def test_profiler_options_run_on_paddle_3(tmp_path):
    from ppgan.utils import profiler

    profile = str(tmp_path / 'trace')
    options = f'batch_range=[1, 3]; profile_path={profile}; exit_on_finished=false'
    monkey = profiler._profiler_step_id, profiler._profiler_options
    try:
        profiler._profiler_step_id, profiler._profiler_options = 0, None
        x = paddle.rand([8, 8])
        for _ in range(5):
            profiler.add_profiler_step(options)
            x = paddle.matmul(x, x)
    finally:
        profiler._profiler_step_id, profiler._profiler_options = monkey
    written = [p for p in os.listdir(tmp_path)]
    assert written, 'no profile written'
    assert os.path.getsize(os.path.join(tmp_path, written[0])) > 0


def test_missing_weights_wrapped_by_ppgans_builder_are_still_one_line(tmp_path, monkeypatch,
                                                                      capsys):
    from ppgan.models.criterions.builder import build_criterion
    from ppgan.utils import download as ppgan_download

    from ppgan_ext.cli import report

    monkeypatch.setenv('PPGAN_EXT_OFFLINE', '1')
    monkeypatch.setattr(ppgan_download, 'PPGAN_HOME', str(tmp_path))
    with pytest.raises(RuntimeError) as info:   # ppgan's builder re-raises constructor errors
        build_criterion({'name': 'PerceptualLoss', 'layer_weights': {'34': 1.0}})
    assert report(info.value) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and err.startswith('error: vgg19.pdparams is not on disk')
