"""ppgan_ext.self_ensemble: the mean over the 8 flips / rotations, undone on the outputs."""
import numpy as np
import pytest

from ppgan_ext.self_ensemble import TRANSFORMS, self_ensemble


def _upscale(x):
    return x.repeat(2, axis=2).repeat(2, axis=3)


def test_an_equivariant_net_is_unchanged_and_called_eight_times():
    calls = []

    def net(x):
        calls.append(x.shape)
        return _upscale(x)

    x = np.random.default_rng(0).random((1, 3, 5, 7)).astype(np.float32)
    out = self_ensemble(net)(x)
    assert out.dtype == np.float32 and out.shape == (1, 3, 10, 14)
    np.testing.assert_allclose(out, _upscale(x), atol=1e-6)
    assert len(calls) == 8 and calls.count((1, 3, 7, 5)) == 4   # the transposed inputs
    assert len(set(TRANSFORMS)) == 8


def test_a_position_dependent_net_is_averaged_over_the_group():
    """A net that adds a ramp along the width: the ensemble averages the ramp away in every
    direction, which only the 8 correctly undone transforms do."""
    def net(x):
        ramp = np.linspace(0.0, 1.0, x.shape[3], dtype=np.float32)
        return _upscale(x + ramp)

    x = np.random.default_rng(1).random((2, 1, 6, 6)).astype(np.float32)
    out = self_ensemble(net)(x)
    # each transform's ramp, undone, runs along W or H, rising or falling: the mean is 0.5
    np.testing.assert_allclose(out, _upscale(x + 0.5), atol=1e-6)


def test_bad_input_shape_is_one_line():
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        self_ensemble(_upscale)(np.zeros((3, 4, 4), np.float32))
