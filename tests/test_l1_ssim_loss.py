"""L1SSIMLoss: L1 + (1 - SSIM), SSIM as ppgan's metric computes it, registered for configs."""
import numpy as np
import paddle
import pytest
from ppgan.metrics.psnr_ssim import calculate_ssim
from ppgan.models.criterions.builder import build_criterion

import ppgan_ext  # noqa: F401
from ppgan_ext.models.criterions.l1_ssim_loss import L1SSIMLoss


def _pair(seed=0, shape=(40, 50, 3)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    return a, b


def _tensor(img):
    return paddle.to_tensor(img.transpose(2, 0, 1)[None].astype('float32') / 255.0)


def test_ssim_term_equals_ppgans_metric():
    a, b = _pair()
    expected = calculate_ssim(a, b, crop_border=0)
    assert 0.5 < expected < 0.99
    assert abs(float(L1SSIMLoss().ssim(_tensor(a), _tensor(b))) - expected) < 1e-5


def test_loss_is_l1_plus_weighted_dissimilarity_and_trains():
    a, b = _pair(1)
    loss = build_criterion({'name': 'L1SSIMLoss', 'ssim_weight': 0.5})
    pred, target = _tensor(a), _tensor(b)
    l1 = float(np.abs(a.astype(np.float32) / 255 - b.astype(np.float32) / 255).mean())
    ssim = calculate_ssim(a, b, crop_border=0)
    assert abs(float(loss(pred, target)) - (l1 + 0.5 * (1 - ssim))) < 1e-5
    assert float(loss(target, target)) < 1e-6
    pred.stop_gradient = False
    loss(pred, target).backward()
    assert float(pred.grad.abs().max()) > 0
    plain = L1SSIMLoss(ssim_weight=0)
    assert abs(float(plain(pred, target)) - l1) < 1e-6


@pytest.mark.parametrize('kwargs,key', [
    (dict(ssim_weight=-1), 'ssim_weight'), (dict(l1_weight=-0.5), 'l1_weight'),
    (dict(data_range=0), 'data_range'), (dict(reduction='none'), 'reduction')])
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        L1SSIMLoss(**kwargs)


def test_too_small_images_are_refused():
    with pytest.raises(ValueError, match='H, W >= 11'):
        L1SSIMLoss()(paddle.rand([1, 3, 8, 20]), paddle.rand([1, 3, 8, 20]))
