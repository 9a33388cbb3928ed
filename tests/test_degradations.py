"""Statistics, exactness and argument checks of ppgan_ext.degradations."""
import cv2
import numpy as np
import pytest
from skimage import data

import ppgan_ext.degradations as D
from ppgan_ext.degradations import (degrade, downscale, draw_params, mean_blur, mod_crop,
                                    salt_pepper_noise)

N_STD = 5   # tolerance in binomial standard deviations


def within_binomial(fraction, p, n):
    return abs(fraction - p) <= N_STD * np.sqrt(p * (1 - p) / n) + 1e-12


@pytest.fixture(scope='module')
def img():
    """256x256x3 photo crop with values in [1, 254]: every noisy pixel visibly changes."""
    return np.clip(data.astronaut()[128:384, 128:384], 1, 254).astype(np.uint8)


@pytest.mark.parametrize('prob', [0.02, 0.1, 0.3, 0.7])
def test_noisy_fraction_matches_prob(img, prob):
    out = salt_pepper_noise(img, prob, np.random.default_rng(0))
    changed = (out != img).any(axis=2)
    assert within_binomial(changed.mean(), prob, changed.size)


def test_changed_pixels_are_black_or_white_in_every_channel(img):
    out = salt_pepper_noise(img, 0.2, np.random.default_rng(1))
    changed = (out != img).any(axis=2)
    values = out[changed]
    assert len(values) > 0
    white = (values == 255).all(axis=1)
    black = (values == 0).all(axis=1)
    assert (white | black).all()
    # unchanged pixels keep every channel
    np.testing.assert_array_equal(out[~changed], img[~changed])


@pytest.mark.parametrize('salt_ratio', [0.0, 0.3, 0.5, 1.0])
def test_salt_fraction_matches_salt_ratio(img, salt_ratio):
    out = salt_pepper_noise(img, 0.3, np.random.default_rng(2), salt_ratio=salt_ratio)
    changed = (out != img).any(axis=2)
    white = (out[changed] == 255).all(axis=1)
    assert within_binomial(white.mean(), salt_ratio, changed.sum())


def test_per_pixel_mode_changes_channels_together(img):
    out = salt_pepper_noise(img, 0.2, np.random.default_rng(3))
    per_channel_change = out != img
    assert (per_channel_change == per_channel_change[:, :, :1]).all()


def test_per_channel_mode_is_independent_per_channel(img):
    prob = 0.2
    out = salt_pepper_noise(img, prob, np.random.default_rng(3), per_channel=True)
    changed = out != img
    assert set(np.unique(out[changed])) == {0, 255}
    for c in range(3):
        assert within_binomial(changed[:, :, c].mean(), prob, changed[:, :, c].size)
    # independent channels: P(any changed) = 1 - (1 - p)^3, P(all changed) = p^3
    n = changed.shape[0] * changed.shape[1]
    assert within_binomial(changed.any(axis=2).mean(), 1 - (1 - prob) ** 3, n)
    assert within_binomial(changed.all(axis=2).mean(), prob ** 3, n)
    # a noisy value is set alone: mixed pixels (some channels 0, others 255 or kept) exist
    mixed = changed.any(axis=2) & ~changed.all(axis=2)
    assert mixed.mean() > 0.3


def test_grayscale_input(img):
    gray = img[:, :, 0].copy()
    out = salt_pepper_noise(gray, 0.1, np.random.default_rng(4))
    assert out.shape == gray.shape and out.dtype == np.uint8
    changed = out != gray
    assert within_binomial(changed.mean(), 0.1, changed.size)
    assert set(np.unique(out[changed])) <= {0, 255}
    # per_channel makes no difference with one channel
    np.testing.assert_array_equal(
        out, salt_pepper_noise(gray, 0.1, np.random.default_rng(4), per_channel=True))


def test_prob_zero_and_one(img):
    rng = np.random.default_rng(5)
    out = salt_pepper_noise(img, 0.0, rng)
    np.testing.assert_array_equal(out, img)
    assert out is not img and not np.shares_memory(out, img)
    assert (salt_pepper_noise(img, 1.0, rng, salt_ratio=1.0) == 255).all()
    assert (salt_pepper_noise(img, 1.0, rng, salt_ratio=0.0) == 0).all()


def test_input_not_modified_and_seeded(img):
    before = img.copy()
    a = salt_pepper_noise(img, 0.1, np.random.default_rng(6))
    b = salt_pepper_noise(img, 0.1, np.random.default_rng(6))
    c = salt_pepper_noise(img, 0.1, np.random.default_rng(7))
    np.testing.assert_array_equal(img, before)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_output_does_not_depend_on_band_size(img, monkeypatch):
    odd = np.ascontiguousarray(img[:101, :77])
    outputs = []
    for entries in (1 << 16, 1000, 3):
        monkeypatch.setattr(D, '_BAND_ENTRIES', entries)
        for per_channel in (False, True):
            outputs.append(salt_pepper_noise(odd, 0.3, np.random.default_rng(8), 0.4, per_channel))
    for i in range(2, len(outputs)):
        np.testing.assert_array_equal(outputs[i], outputs[i % 2])


def test_other_bit_generators(img):
    out = salt_pepper_noise(img, 0.1, np.random.Generator(np.random.MT19937(0)))
    changed = (out != img).any(axis=2)
    assert within_binomial(changed.mean(), 0.1, changed.size)


def test_many_channels(img):
    six = np.concatenate([img, img[:, :, ::-1]], axis=2)
    out = salt_pepper_noise(six, 0.1, np.random.default_rng(9))
    changed = out != six
    assert (changed == changed[:, :, :1]).all()
    assert within_binomial(changed[:, :, 0].mean(), 0.1, changed[:, :, 0].size)


def _box_reference(img: np.ndarray, k: int) -> np.ndarray:
    """Mean over a k x k window, written out: reflect-101 borders, OpenCV's anchor
    (k // 2 pixels above/left of the centre, k - 1 - k // 2 below/right), float64."""
    a = img.astype(np.float64).reshape(img.shape[:2] + (-1,))
    before, after = k // 2, k - 1 - k // 2
    p = np.pad(a, ((before, after), (before, after), (0, 0)), mode='reflect')
    c = np.pad(p.cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
    h, w = a.shape[:2]
    window = c[k:k + h, k:k + w] - c[:h, k:k + w] - c[k:k + h, :w] + c[:h, :w]
    return (window / (k * k)).reshape(img.shape)


@pytest.mark.parametrize('ksize', [2, 3, 5, 20])
@pytest.mark.parametrize('shape', [(60, 47, 3), (60, 47), (60, 47, 1)])
def test_mean_blur_is_the_window_mean(ksize, shape):
    rng = np.random.default_rng(10)
    src = rng.integers(0, 256, shape, dtype=np.uint8)
    out = mean_blur(src, ksize)
    assert out.shape == src.shape and out.dtype == np.uint8
    expected = _box_reference(src, ksize)
    assert np.abs(out.astype(np.float64) - expected).max() < 1.0   # OpenCV's fixed-point rounding
    flt = rng.random(shape, dtype=np.float32)
    np.testing.assert_allclose(mean_blur(flt, ksize), _box_reference(flt, ksize), atol=1e-5)


def test_mean_blur_off(img):
    for k in (0, 1):
        out = mean_blur(img, k)
        np.testing.assert_array_equal(out, img)
        assert not np.shares_memory(out, img)


def test_prob_zero_is_identity_apart_from_blur(img):
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(degrade(img, rng, prob=0.0, blur=0), img)
    np.testing.assert_array_equal(degrade(img, rng, prob=0.0, blur=1), img)
    np.testing.assert_array_equal(degrade(img, rng, prob=0.0, blur=20), cv2.blur(img, (20, 20)))


def test_degrade_is_noise_then_blur_then_downscale(img):
    out = degrade(img, np.random.default_rng(12), prob=0.1, salt_ratio=0.3, blur=4, scale=4)
    rng = np.random.default_rng(12)
    expected = cv2.resize(cv2.blur(salt_pepper_noise(img, 0.1, rng, 0.3), (4, 4)), (64, 64),
                          interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8


def test_downscale_and_mod_crop():
    src = np.random.default_rng(13).integers(0, 256, (50, 38, 3), dtype=np.uint8)
    cropped = mod_crop(src, 4)
    assert cropped.shape == (48, 36, 3)
    np.testing.assert_array_equal(cropped, src[:48, :36])
    out = downscale(cropped, 4)
    assert out.shape == (12, 9, 3)
    np.testing.assert_array_equal(
        out, cv2.resize(np.ascontiguousarray(cropped), (9, 12), interpolation=cv2.INTER_CUBIC))
    np.testing.assert_array_equal(downscale(src, 1), src)
    assert downscale(src[:, :, :1], 2).shape == (25, 19, 1)
    with pytest.raises(ValueError, match='smaller than scale=64'):
        downscale(src, 64)


def test_range_draws_stay_in_range():
    rng = np.random.default_rng(14)
    probs, blurs = zip(*(draw_params(rng, [0.05, 0.2], [3, 7]) for _ in range(2000)))
    assert 0.05 <= min(probs) and max(probs) <= 0.2
    assert max(probs) - min(probs) > 0.14          # spread over the range
    assert set(blurs) == {3, 4, 5, 6, 7}           # both ends included
    assert all(isinstance(b, int) for b in blurs)
    assert draw_params(rng, 0.1, 5) == (0.1, 5)


def test_degrade_with_ranges_uses_drawn_blur(img):
    rng = np.random.default_rng(15)
    p, k = draw_params(rng, [0.0, 0.0], [2, 9])
    out = degrade(img, np.random.default_rng(15), prob=[0.0, 0.0], blur=[2, 9])
    np.testing.assert_array_equal(out, cv2.blur(img, (k, k)))


@pytest.mark.parametrize('kwargs, key', [
    (dict(prob=1.5), 'prob'),
    (dict(prob=-0.1), 'prob'),
    (dict(prob='0.1'), 'prob'),
    (dict(prob=[0.3, 0.1]), 'min > max'),
    (dict(prob=[0.1, 1.2]), 'prob range'),
    (dict(prob=[0.1]), 'prob'),
    (dict(salt_ratio=1.5), 'salt_ratio'),
    (dict(blur=-1), 'blur'),
    (dict(blur=2.5), 'blur'),
    (dict(blur=[9, 3]), 'min > max'),
    (dict(blur=True), 'blur'),
    (dict(scale=0), 'scale'),
    (dict(scale=1.5), 'scale'),
])
def test_bad_arguments_name_the_key(img, kwargs, key):
    with pytest.raises(ValueError, match=key.replace('[', r'\[')):
        degrade(img, np.random.default_rng(0), **kwargs)


def test_bad_images():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='uint8'):
        salt_pepper_noise(np.zeros((4, 4, 3), np.float32), 0.1, rng)
    with pytest.raises(ValueError, match='shape'):
        salt_pepper_noise(np.zeros((4,), np.uint8), 0.1, rng)
    with pytest.raises(ValueError, match='single number'):
        salt_pepper_noise(np.zeros((4, 4), np.uint8), [0.1, 0.2], rng)
