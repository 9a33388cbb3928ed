"""The Paddle-free PSNR/SSIM give ppgan's ``calculate_psnr`` / ``calculate_ssim`` numbers."""
import math

import cv2
import numpy as np
import pytest
from ppgan.metrics.psnr_ssim import calculate_psnr, calculate_ssim

from ppgan_ext.deploy.metrics import image_metrics, psnr, ssim


def _pairs(photos):
    """(name, output, ground truth) uint8 pairs: restorations of several kinds, odd sizes."""
    rng = np.random.default_rng(7)
    pairs = []
    for name, bgr in sorted(photos.items()):
        gt = cv2.cvtColor(cv2.resize(bgr, (97, 83), interpolation=cv2.INTER_AREA),
                          cv2.COLOR_BGR2RGB)
        blurred = cv2.GaussianBlur(gt, (5, 5), 1.2)
        noisy = np.clip(gt.astype(np.int16) + rng.integers(-20, 21, gt.shape), 0, 255)
        small = cv2.resize(gt, (24, 20), interpolation=cv2.INTER_AREA)
        upscaled = cv2.resize(small, (97, 83), interpolation=cv2.INTER_CUBIC)
        for kind, out in (('blur', blurred), ('noise', noisy.astype(np.uint8)),
                          ('bicubic', upscaled)):
            pairs.append((f'{name}-{kind}', out, gt))
    return pairs


@pytest.mark.parametrize('crop_border,y_channel', [(0, False), (4, False), (4, True), (2, True)])
def test_psnr_and_ssim_match_ppgans_functions(photos, crop_border, y_channel):
    pairs = _pairs(photos)
    assert len(pairs) == 12
    for name, out, gt in pairs:
        ours = psnr(out, gt, crop_border, 'HWC', y_channel)
        theirs = float(calculate_psnr(out, gt, crop_border, 'HWC', y_channel))
        assert abs(ours - theirs) <= 1e-6, (name, ours, theirs)
        ours = ssim(out, gt, crop_border, 'HWC', y_channel)
        theirs = float(calculate_ssim(out, gt, crop_border, 'HWC', y_channel))
        assert abs(ours - theirs) <= 1e-6, (name, ours, theirs)
        assert 0.0 < ours < 1.0


def test_chw_grey_and_identical_images_match_ppgan(photos):
    _, out, gt = _pairs(photos)[0]
    chw_out, chw_gt = out.transpose(2, 0, 1), gt.transpose(2, 0, 1)
    assert abs(psnr(chw_out, chw_gt, 3, 'CHW') - calculate_psnr(chw_out, chw_gt, 3, 'CHW')) <= 1e-6
    assert abs(ssim(chw_out, chw_gt, 3, 'CHW') - calculate_ssim(chw_out, chw_gt, 3, 'CHW')) <= 1e-6
    grey_out, grey_gt = out[:, :, 1], gt[:, :, 1]
    for y in (False, True):
        assert abs(psnr(grey_out, grey_gt, 1, y_channel=y)
                   - calculate_psnr(grey_out, grey_gt, 1, test_y_channel=y)) <= 1e-6
        assert abs(ssim(grey_out, grey_gt, 1, y_channel=y)
                   - calculate_ssim(grey_out, grey_gt, 1, test_y_channel=y)) <= 1e-6
    assert psnr(gt, gt) == math.inf == calculate_psnr(gt, gt, 0)
    assert abs(ssim(gt, gt) - 1.0) <= 1e-12


def test_image_metrics_scores_grey_ground_truth_and_refuses_other_sizes(photos):
    _, out, gt = _pairs(photos)[1]
    grey = gt[:, :, :1]
    got = image_metrics(out, grey, 4)
    rgb_grey = np.repeat(grey, 3, axis=2)
    assert got == (psnr(out, rgb_grey, 4), ssim(out, rgb_grey, 4))
    with pytest.raises(ValueError, match='differs from the ground truth 96x83x3'):
        image_metrics(out, gt[:, :96], 4)
    with pytest.raises(ValueError, match='crop_border'):
        psnr(out, gt, -1)
