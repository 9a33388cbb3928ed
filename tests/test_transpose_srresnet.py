"""TransposeSRResNet: output sizes, the x8 stage count, argument checks, learning."""
import numpy as np
import paddle
import pytest

from ppgan_ext.models.generators.transpose_srresnet import TransposeSRResNet


def _net(**kw):
    kw.setdefault('num_feat', 8)
    kw.setdefault('num_blocks', 1)
    return TransposeSRResNet(**kw)


@pytest.mark.parametrize('scale', [1, 2, 4, 8])
@pytest.mark.parametrize('deconv_kernel', [3, 4])
@pytest.mark.parametrize('upsampler', ['transpose', 'pixelshuffle'])
def test_output_is_exactly_scale_times_input_for_odd_sizes(scale, deconv_kernel, upsampler):
    net = _net(scale=scale, deconv_kernel=deconv_kernel, upsampler=upsampler)
    net.eval()
    for h, w in ((7, 5), (16, 9), (1, 1)):
        y = net(paddle.rand([2, 3, h, w]))
        assert tuple(y.shape) == (2, 3, h * scale, w * scale)


@pytest.mark.parametrize('scale,stages', [(1, 0), (2, 1), (4, 2), (8, 3)])
def test_number_of_upsampling_stages_is_log2_scale(scale, stages):
    """The x8 fix: int(scale / 2) would build 4 stages (x16); log2 builds 3."""
    net = _net(scale=scale)
    deconvs = [m for m in net.sublayers() if isinstance(m, paddle.nn.Conv2DTranspose)]
    assert len(deconvs) == stages
    assert len(net.upsample) == stages


@pytest.mark.parametrize('bad', [3, 16, 0, 2.0, '4'])
def test_unsupported_scale_names_allowed_values(bad):
    with pytest.raises(ValueError, match=r'scale must be one of \(1, 2, 4, 8\)'):
        _net(scale=bad)


@pytest.mark.parametrize('key,value,allowed', [
    ('norm', 'in', 'norm must be one of'),
    ('deconv_kernel', 5, 'deconv_kernel must be one of'),
    ('upsampler', 'nearest', 'upsampler must be one of'),
    ('num_feat', 0, 'num_feat must be a positive int'),
    ('upsample_feat', 0, 'upsample_feat must be a positive int'),
    ('num_blocks', -1, 'num_blocks must be an int'),
])
def test_bad_arguments_name_the_key(key, value, allowed):
    with pytest.raises(ValueError, match=allowed):
        _net(**{key: value})


@pytest.mark.parametrize('upsampler', ['transpose', 'pixelshuffle'])
@pytest.mark.parametrize('scale', [1, 2, 8])
def test_upsample_feat_narrows_only_the_upsampler(upsampler, scale):
    net = _net(num_feat=12, upsample_feat=4, scale=scale, upsampler=upsampler)
    wide = _net(num_feat=12, scale=scale, upsampler=upsampler)
    assert net.body[0].body[0].weight.shape == [12, 12, 3, 3]
    assert net.conv_last.weight.shape == [3, 4 if scale > 1 else 12, 3, 3]
    for stage in net.upsample:
        out = stage[0] if upsampler == 'transpose' else stage[0][0]
        assert out.weight.shape[0 if upsampler == 'pixelshuffle' else 1] == (
            16 if upsampler == 'pixelshuffle' else 4)
    narrow_params = sum(p.size for p in net.parameters())
    wide_params = sum(p.size for p in wide.parameters())
    assert (narrow_params < wide_params) == (scale > 1)
    net.eval()
    assert tuple(net(paddle.rand([1, 3, 5, 7])).shape) == (1, 3, 5 * scale, 7 * scale)


def test_upsample_feat_equal_to_num_feat_keeps_the_parameter_names_and_shapes():
    """Weights saved before the option existed load into the default layout."""
    paddle.seed(0)
    old = {k: v.shape for k, v in _net(num_feat=8).state_dict().items()}
    assert {k: v.shape for k, v in _net(num_feat=8, upsample_feat=8).state_dict().items()} == old


def test_norm_none_has_no_batchnorm_and_bn_has_some():
    assert not any(isinstance(m, paddle.nn.BatchNorm2D) for m in _net(norm='none').sublayers())
    assert any(isinstance(m, paddle.nn.BatchNorm2D) for m in _net(norm='bn').sublayers())


def test_global_residual_adds_the_upsampled_input():
    """With every parameter zeroed, the output is exactly the bilinear upsampled input."""
    net = _net(scale=2, norm='none', global_residual=True)
    for p in net.parameters():
        p.set_value(paddle.zeros_like(p))
    x = paddle.rand([1, 3, 5, 6])
    expected = paddle.nn.functional.interpolate(x, scale_factor=2, mode='bilinear',
                                                align_corners=False)
    np.testing.assert_allclose(net(x).numpy(), expected.numpy(), atol=1e-6)


def test_learns_a_fixed_mapping():
    """Trained on random inputs to do nearest-neighbour x2, it does so on an input it never saw.

    The held-out error must end far below both the untrained net's and that
    of bilinear upsampling (a different x2 mapping), so only learning this
    mapping passes.
    """
    paddle.seed(1)
    net = _net(scale=2, norm='none')
    rng = np.random.default_rng(1)
    opt = paddle.optimizer.Adam(learning_rate=2e-3, parameters=net.parameters())
    up = paddle.nn.functional.interpolate
    held_out = paddle.to_tensor(rng.random((1, 3, 12, 10), dtype=np.float32))
    target = up(held_out, scale_factor=2, mode='nearest')

    def held_out_error():
        with paddle.no_grad():
            return float(paddle.nn.functional.l1_loss(net(held_out), target))

    before = held_out_error()
    for _ in range(400):
        x = paddle.to_tensor(rng.random((4, 3, 8, 8), dtype=np.float32))
        loss = paddle.nn.functional.l1_loss(net(x), up(x, scale_factor=2, mode='nearest'))
        loss.backward()
        opt.step()
        opt.clear_grad()
    after = held_out_error()
    bilinear = float(paddle.nn.functional.l1_loss(
        up(held_out, scale_factor=2, mode='bilinear', align_corners=False), target))
    assert after < 0.2 * before, (before, after)
    assert after < 0.6 * bilinear, (bilinear, after)
