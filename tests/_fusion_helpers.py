"""Helpers of the stylize + upscale, fused export and web app tests: tiny LapStyle weights."""
import os

import cv2
import numpy as np

WIDTH = 16  # encoder/draft/revision width of configs/lapstyle_tiny.yaml


def write_lapstyle_weights(path: str, levels: int = 1, seed: int = 0) -> str:
    """Random tiny LapStyle nets (net_enc, net_dec, net_rev...) saved like a ppgan weight file."""
    from ppgan_ext.sample_data import write_random_lapstyle_weights

    return write_random_lapstyle_weights(path, levels, width=WIDTH, seed=seed)


def write_photo(path: str, name: str, size=(72, 96)) -> str:
    """A scikit-image photo resized to ``size`` (H, W), written as an 8-bit PNG/JPEG."""
    from ppgan_ext.sample_data import sample_image

    h, w = size
    img = cv2.resize(cv2.cvtColor(sample_image(name), cv2.COLOR_RGB2BGR), (w, h),
                     interpolation=cv2.INTER_AREA)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    assert cv2.imwrite(path, img)
    return path


def read_rgb_float(path: str) -> np.ndarray:
    """An 8-bit image file as (1, 3, H, W) float32 RGB in [0, 1]."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)[None], np.float32) / 255.0


def png_pixels(out: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> uint8 (H, W, 3) BGR rounded like the PNG writers."""
    img = np.clip(out[0].transpose(1, 2, 0), 0, 1) * 255.0
    return np.floor(img + 0.5).astype(np.uint8)[:, :, ::-1]
