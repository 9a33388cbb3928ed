"""Laplacian pyramid: exact folding at any size, alignment, gradients, static graphs."""
import numpy as np
import paddle
import pytest

import ppgan_ext  # noqa: F401
from ppgan_ext.pyramid import fold_pyramid, laplacian_pyramid, pad_to_multiple, pyr_down, pyr_up


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
