"""A small SR net trained in seconds on scikit-image's photos, for checks that need real weights.

Where no trained model is at hand (``make demo`` writes one), the precision
checks (:mod:`ppgan_ext.apps.precision_check`), the int8 guard's tests and
``bench/infer.py`` train this one: real, not random, weights.
"""
import math
import os

import numpy as np

__all__ = ['train_brief_sr']


def train_brief_sr(work_dir: str, train_photos=('astronaut', 'camera', 'motorcycle'),
                   iters: int = 300, num_feat: int = 16, num_blocks: int = 2, scale: int = 2,
                   patch: int = 24, batch: int = 8, seed: int = 0) -> dict:
    """Train a small ``TransposeSRResNet`` briefly, for quality checks when no trained model exists.

    The demo's generator options (no norm, 4x4 deconvolutions, global
    bilinear residual), smaller. Pixel (L1) loss on random crops of
    scikit-image's bundled photos, downscaled with area averaging; Adam, 2e-3.
    A hundred steps give a net that beats bicubic on the held-out photos:
    real, not random, weights.

    Args:
        work_dir (str): Gets ``sr.yaml`` and ``weights.pdparams``.
        train_photos (tuple[str]): ``skimage.data`` names to train on (keep
            :data:`ppgan_ext.sample_data.TEST_PHOTOS` out). Default:
            astronaut, camera, motorcycle.
        iters (int): Optimizer steps. Default: 300.
        num_feat, num_blocks, scale (int): Generator size. Default: 16, 2, 2.
        patch (int): LQ crop side. Default: 24.
        batch (int): Crops per step. Default: 8.
        seed (int): Seeds the crops and ``paddle.seed``. Default: 0.

    Returns:
        dict: ``{'config': path, 'weights': path, 'loss': final L1}``.
    """
    import cv2
    import paddle
    import yaml
    from ppgan.models.builder import build_model

    from ..config import load_config
    from ..sample_data import TEST_PHOTOS, sample_image

    held_out = sorted(set(train_photos) & set(TEST_PHOTOS))
    if held_out:
        raise ValueError(f"train_photos: {held_out} are held-out test photos")
    os.makedirs(work_dir, exist_ok=True)
    config = os.path.join(work_dir, 'sr.yaml')
    with open(config, 'w') as f:
        yaml.safe_dump({'output_dir': work_dir, 'min_max': '(0., 1.)',
                        'model': {'name': 'BaseSRModel', 'pixel_criterion': {'name': 'L1Loss'},
                                  'generator': {'name': 'TransposeSRResNet', 'norm': 'none',
                                                'num_feat': num_feat, 'num_blocks': num_blocks,
                                                'scale': scale, 'deconv_kernel': 4,
                                                'global_residual': True}}}, f)
    paddle.set_device('cpu')
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    net = build_model(load_config(config).model).nets['generator']
    net.train()
    images = [sample_image(n).astype(np.float32) / 255.0
              for n in train_photos]
    optimizer = paddle.optimizer.Adam(learning_rate=2e-3, parameters=net.parameters())
    side = patch * scale
    loss_value = math.nan
    for _ in range(iters):
        gts, lqs = [], []
        for _ in range(batch):
            img = images[rng.integers(len(images))]
            top = rng.integers(img.shape[0] - side + 1)
            left = rng.integers(img.shape[1] - side + 1)
            gt = img[top:top + side, left:left + side]
            gts.append(gt.transpose(2, 0, 1))
            lqs.append(cv2.resize(gt, (patch, patch), interpolation=cv2.INTER_AREA)
                       .transpose(2, 0, 1))
        out = net(paddle.to_tensor(np.stack(lqs)))
        loss = paddle.mean(paddle.abs(out - paddle.to_tensor(np.stack(gts))))
        optimizer.clear_grad()
        loss.backward()
        optimizer.step()
        loss_value = float(loss)
    net.eval()
    weights = os.path.join(work_dir, 'weights.pdparams')
    paddle.save({'generator': net.state_dict()}, weights)
    return {'config': config, 'weights': weights, 'loss': loss_value}
