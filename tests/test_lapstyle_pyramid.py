"""Laplacian pyramids, both semantics: exact folding, ppgan's steps, size rules, static graphs."""
import numpy as np
import paddle
import pytest

import ppgan_ext  # noqa: F401
from ppgan_ext.pyramid import (content_multiple, downsample, fold_pyramid, laplacian_pyramid,
                               min_content_side, min_style_side, min_train_side, pad_to_multiple,
                               pyr_down, pyr_up, revision_inputs, top_level_size)


@pytest.mark.parametrize('size', [(1, 1), (2, 3), (7, 5), (37, 50), (64, 64), (101, 33)])
@pytest.mark.parametrize('levels', [0, 1, 3])
def test_fold_reconstructs_input_at_any_size(size, levels):
    x = paddle.to_tensor(np.random.default_rng(0).random((2, 3) + size, dtype=np.float32))
    pyramid = laplacian_pyramid(x, levels)
    assert len(pyramid) == levels + 1
    h, w = size
    for band in pyramid:
        assert band.shape == [2, 3, h, w]
        h, w = (h + 1) // 2, (w + 1) // 2
    np.testing.assert_allclose(fold_pyramid(pyramid).numpy(), x.numpy(), rtol=0, atol=1e-6)


def test_bands_of_a_constant_image_are_zero_and_residual_keeps_the_value():
    x = paddle.full([1, 3, 23, 17], 0.7)
    pyramid = laplacian_pyramid(x, 2)
    for band in pyramid[:-1]:
        assert float(band.abs().max()) < 1e-6
    np.testing.assert_allclose(pyramid[-1].numpy(), 0.7, atol=1e-6)


def test_down_and_up_keep_pixel_alignment():
    """Coarse pixel i sits on fine pixel 2i: a linear ramp survives down+up away from borders."""
    ramp = np.tile(np.arange(21, dtype=np.float32), (1, 1, 21, 1))
    x = paddle.to_tensor(ramp)
    down = pyr_down(x)
    assert down.shape == [1, 1, 11, 11]
    np.testing.assert_allclose(down.numpy()[0, 0, 5, 1:-1], np.arange(2, 20, 2), atol=1e-5)
    up = pyr_up(down, [21, 21])
    np.testing.assert_allclose(up.numpy()[0, 0, 10, 2:-2], np.arange(2, 19), atol=1e-5)
    # a band-limited ramp leaves (almost) nothing in the band away from the borders
    band = laplacian_pyramid(x, 1)[0]
    assert float(band[:, :, 3:-3, 3:-3].abs().max()) < 1e-5


def test_pyramid_is_differentiable():
    x = paddle.rand([1, 3, 19, 12])
    x.stop_gradient = False
    pyramid = laplacian_pyramid(x, 2)
    (fold_pyramid(pyramid) * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0, atol=1e-5)


def test_pad_to_multiple_replicates_bottom_right():
    x = paddle.to_tensor(np.arange(15, dtype=np.float32).reshape([1, 1, 3, 5]))
    y = pad_to_multiple(x, 4, min_size=8)
    assert y.shape == [1, 1, 8, 8]
    out = y.numpy()[0, 0]
    np.testing.assert_array_equal(out[:3, :5], x.numpy()[0, 0])
    np.testing.assert_array_equal(out[7, :5], x.numpy()[0, 0, 2])
    np.testing.assert_array_equal(out[:3, 7], x.numpy()[0, 0, :, 4])
    assert pad_to_multiple(paddle.rand([1, 1, 9, 16]), 8).shape == [1, 1, 16, 16]


def test_bad_levels_are_rejected():
    with pytest.raises(ValueError, match='levels'):
        laplacian_pyramid(paddle.rand([1, 1, 4, 4]), -1)


class _RoundTrip(paddle.nn.Layer):
    def forward(self, x):
        pyramid = laplacian_pyramid(x, 3)
        return fold_pyramid([band * 2.0 for band in pyramid[:-1]] + pyramid[-1:])


def test_pyramid_converts_to_a_static_graph_with_unknown_size():
    layer = _RoundTrip()
    spec = [paddle.static.InputSpec([1, 3, None, None], 'float32')]
    static = paddle.jit.to_static(layer, input_spec=spec, full_graph=True)
    for size in [(21, 13), (40, 33)]:
        x = paddle.rand([1, 3, *size])
        got = static(x)
        assert got.shape == [1, 3, *size]
        np.testing.assert_allclose(got.numpy(), layer(x).numpy(), atol=1e-6)


# ------------------------------------------------------------- ppgan semantics
def _ppgan_reference():
    from ppgan.apps import lapstyle_predictor as app
    return app


@pytest.mark.parametrize('size', [(64, 64), (48, 80)])
def test_ppgan_semantics_pyramid_and_fold_are_ppgans(size):
    app = _ppgan_reference()
    x = paddle.to_tensor(np.random.default_rng(1).random((1, 3) + size, dtype=np.float32))
    ours = laplacian_pyramid(x, 2, 'ppgan')
    theirs = app.make_laplace_pyramid(x, 2)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(fold_pyramid(ours, 'ppgan').numpy(),
                                  app.fold_laplace_pyramid(theirs).numpy())
    # even sides at every level: ppgan's fold gives the input back too
    np.testing.assert_allclose(fold_pyramid(ours, 'ppgan').numpy(), x.numpy(), atol=1e-6)
    # and it is not the binomial pyramid
    assert float((laplacian_pyramid(x, 2)[0] - ours[0]).abs().max()) > 1e-2


def test_revision_inputs_per_semantics():
    coarse = paddle.rand([1, 3, 8, 6])
    band = paddle.rand([1, 3, 16, 12])
    image, base = revision_inputs(coarse, band, 'ppgan')
    np.testing.assert_array_equal(image.numpy(), np.repeat(np.repeat(coarse.numpy(), 2, 2), 2, 3))
    np.testing.assert_array_equal(
        base.numpy(), paddle.nn.functional.interpolate(coarse, [16, 12], mode='bilinear',
                                                       align_corners=False).numpy())
    image, base = revision_inputs(coarse, band, 'exact')
    np.testing.assert_array_equal(image.numpy(), base.numpy())
    np.testing.assert_array_equal(base.numpy(), pyr_up(coarse, [16, 12]).numpy())


def test_downsample_follows_the_semantics():
    x = paddle.rand([1, 3, 40, 24])
    assert downsample(x, 2, 'ppgan').shape == [1, 3, 10, 6]
    np.testing.assert_array_equal(downsample(x, 2, 'ppgan').numpy(),
                                  laplacian_pyramid(x, 2, 'ppgan')[-1].numpy())
    np.testing.assert_array_equal(downsample(x, 2, 'exact').numpy(), pyr_down(pyr_down(x)).numpy())


def test_unknown_semantics_is_one_error_naming_the_values():
    with pytest.raises(ValueError, match="semantics must be one of ppgan, exact; got 'bilinear'"):
        laplacian_pyramid(paddle.rand([1, 1, 8, 8]), 1, 'bilinear')


def test_size_rules():
    assert [content_multiple(k) for k in (0, 1, 2)] == [8, 16, 32]
    assert [min_content_side(k) for k in (0, 1, 2)] == [16, 32, 64]
    assert [min_style_side(k) for k in (0, 1, 2)] == [16, 32, 64]
    assert [min_train_side(k) for k in (0, 1, 2, 3)] == [32, 32, 64, 128]
    assert [top_level_size(k) for k in (0, 1, 2)] == [128, 256, 512]


class _PpganRoundTrip(paddle.nn.Layer):
    def forward(self, x):
        return fold_pyramid(laplacian_pyramid(x, 2, 'ppgan'), 'ppgan') + downsample(
            x, 2, 'ppgan').mean()


def test_ppgan_pyramid_converts_to_a_static_graph_with_unknown_size():
    layer = _PpganRoundTrip()
    spec = [paddle.static.InputSpec([1, 3, None, None], 'float32')]
    static = paddle.jit.to_static(layer, input_spec=spec, full_graph=True)
    for size in [(32, 24), (64, 40)]:
        x = paddle.rand([1, 3, *size])
        np.testing.assert_allclose(static(x).numpy(), layer(x).numpy(), atol=1e-6)
