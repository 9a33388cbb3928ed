"""Embedded demo and test data: the photos bundled inside scikit-image's wheel.

Nothing is downloaded: every image here ships with ``scikit-image``.
"""
import os
from typing import Dict, Iterable, List

import cv2
import numpy as np

from .utils import atomic_write

# Held out from training in the demo; never in TRAIN_PHOTOS.
TEST_PHOTOS = ('chelsea', 'rocket', 'coffee')
TRAIN_PHOTOS = ('astronaut', 'hubble_deep_field', 'immunohistochemistry', 'motorcycle',
                'camera', 'moon', 'coins', 'cell', 'clock', 'page')
TEXTURES = ('brick', 'grass', 'gravel')


def sample_image(name: str) -> np.ndarray:
    """A bundled scikit-image picture as uint8 BGR ``(H, W, 3)``.

    Args:
        name (str): a ``skimage.data`` function name (``'motorcycle'`` is the
            left view of ``stereo_motorcycle``).
    """
    from skimage import data
    if name == 'motorcycle':
        img = data.stereo_motorcycle()[0]
    else:
        loader = getattr(data, name, None)
        if loader is None:
            raise ValueError(f"unknown scikit-image sample {name!r}")
        img = loader()
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)


def write_images(folder: str, names: Iterable[str]) -> List[str]:
    """Write the named samples as PNGs into ``folder`` (existing files are kept)."""
    paths = []
    for name in names:
        path = os.path.join(folder, f'{name}.png')
        if not os.path.isfile(path):
            ok, buf = cv2.imencode('.png', sample_image(name))
            atomic_write(path, lambda tmp, buf=buf: buf.tofile(tmp))
        paths.append(path)
    return paths


def build_sr_split(root: str = 'data/saltpepper') -> Dict[str, str]:
    """Clean training and held-out test photos for the salt-and-pepper SR demo.

    Returns:
        dict: ``{'train': root/train, 'test': root/test}``.
    """
    split = {'train': os.path.join(root, 'train'), 'test': os.path.join(root, 'test')}
    write_images(split['train'], TRAIN_PHOTOS)
    write_images(split['test'], TEST_PHOTOS)
    return split
