"""Shared fixtures: small real images from scikit-image, written to tmp folders."""
import os
import sys

import cv2
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import ppgan_ext  # noqa: E402,F401  (applies the compat shim, registers components)


def skimage_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photo as uint8 BGR (H, W, 3)."""
    from skimage import data
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)


@pytest.fixture(scope='session')
def photos():
    return {n: skimage_photo(n) for n in ('astronaut', 'coffee', 'chelsea', 'rocket')}
