"""probe_scale: one probe of a net's scale (exporters, upscaler, folders without a sidecar)."""
import numpy as np
import pytest

from ppgan_ext.scale_probe import probe_scale


def _upscale(factor, channels=None):
    def run(x):
        y = x.repeat(factor, axis=2).repeat(factor, axis=3)
        return y if channels is None else np.concatenate([y[:, :1]] * channels, axis=1)
    return run


def test_scale_and_channels_are_measured():
    assert probe_scale(_upscale(4)) == (4, 3)
    assert probe_scale(_upscale(1), in_channels=1) == (1, 1)
    assert probe_scale(_upscale(3, channels=2)) == (3, 2)


@pytest.mark.parametrize('run,kwargs', [
    (_upscale(1), {'min_scale': 2}),
    (_upscale(2, channels=1), {'out_channels': 3}),
    (lambda x: x[:, :, :, :8], {}),
    (lambda x: x[0], {}),
])
def test_what_is_not_an_upscale_is_one_line_naming_the_net(run, kwargs):
    with pytest.raises(ValueError) as e:
        probe_scale(run, what='model.generator', **kwargs)
    assert str(e.value).startswith('model.generator: maps a 3x16x16 input to ')
    assert 'an image upscale' in str(e.value) and '\n' not in str(e.value)
