"""Shared fixtures: small real images from scikit-image, written to tmp folders."""
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# tests never leave the machine: downloads are refused unless a test serves them itself
os.environ.setdefault('PPGAN_EXT_OFFLINE', '1')

import ppgan_ext  # noqa: E402,F401  (applies the compat shim, registers components)
from ppgan_ext.sample_data import sample_image  # noqa: E402


@pytest.fixture(scope='session')
def photos():
    """A few bundled scikit-image photos as uint8 BGR (H, W, 3)."""
    return {n: np.ascontiguousarray(sample_image(n)[:, :, ::-1])
            for n in ('astronaut', 'coffee', 'chelsea', 'rocket')}
