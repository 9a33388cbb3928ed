"""Reading images as 3-channel 8-bit RGB, and a quick check of image files.

Channel order: RGB, the order ppgan's SR pipelines produce
(``LoadImageFromFile(to_rgb=True)``) and its PSNR/SSIM ``test_y_channel``
assumes, so a model sees the same order from our datasets as from ppgan's.
"""
import os
from typing import Tuple

import cv2
import numpy as np

from .utils import PathLike

# Keep bit depth and colour/grey as stored, drop alpha, apply EXIF orientation.
_READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR


def to_rgb8(img: np.ndarray, name: str = 'image') -> np.ndarray:
    """Convert an OpenCV-decoded array to uint8 RGB of shape (H, W, 3).

    - grey (H, W) or (H, W, 1): copied to the three channels;
    - (H, W, 2) grey + alpha: the grey channel; (H, W, 4) BGRA: alpha dropped;
    - (H, W, 3) BGR: reordered to RGB;
    - uint16: ``round(v * 255 / 65535)`` (65535 -> 255, 257 -> 1);
    - float32/float64: assumed in [0, 1], clipped, ``round(v * 255)``.

    Args:
        img (ndarray): Decoded image in OpenCV's BGR(A) order.
        name (str): Used in error messages (the file name).

    Returns:
        ndarray: uint8 array (H, W, 3), RGB, values in [0, 255].
    """
    if img.dtype == np.uint16:
        img = ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = np.nan_to_num(img, nan=0.0, posinf=1.0, neginf=0.0)
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f'{name}: unsupported pixel type {img.dtype} '
                         f'(use 8-bit, 16-bit or float images)')
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_GRAY2RGB)
    channels = img.shape[2]
    if channels == 2:
        return cv2.cvtColor(np.ascontiguousarray(img[:, :, 0]), cv2.COLOR_GRAY2RGB)
    if channels == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if channels == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    raise ValueError(f'{name}: unsupported number of channels {channels}')


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3); see :func:`to_rgb8` for conversions.

    Raises:
        ValueError: naming the file, when it cannot be decoded.
    """
    path = os.fspath(path)
    img = cv2.imread(path, _READ_FLAGS)
    if img is None or img.size == 0:
        raise ValueError(f'{path}: cannot be decoded as an image (corrupt, truncated, '
                         f'or not an image)')
    return to_rgb8(img, path)


def check_image_file(path: PathLike) -> Tuple[int, int]:
    """Check that ``path`` is a readable image without decoding all of it.

    Pillow parses the header and ``verify()`` walks the file's structure
    (for PNG it reads every chunk and checks its CRC, which catches truncated
    and damaged files at a small fraction of the cost of decoding); OpenCV
    then confirms it has a decoder for the file's signature. Files Pillow does
    not know are decoded once with OpenCV instead. Damage that only a full
    decode reveals (e.g. inside JPEG entropy data) is reported when the image
    is read.

    Returns:
        tuple[int, int]: ``(height, width)`` as stored (before any EXIF rotation).

    Raises:
        ValueError: with a one-line reason (without the path).
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    try:
        with Image.open(path) as im:
            width, height = im.size
            im.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        img = cv2.imread(path, _READ_FLAGS)
        if img is None or img.size == 0:
            raise ValueError('not an image, or a format OpenCV cannot read') from None
        return img.shape[0], img.shape[1]
    except OSError as e:
        if isinstance(e, (PermissionError, FileNotFoundError, IsADirectoryError)):
            raise ValueError(f'cannot be opened ({e.strerror or type(e).__name__})') from None
        raise ValueError(f'corrupt or truncated ({_one_line(e)})') from None
    except Exception as e:  # Pillow raises SyntaxError, struct.error, ... on bad data
        raise ValueError(f'corrupt or truncated ({_one_line(e)})') from None
    if width < 1 or height < 1:
        raise ValueError(f'empty image ({width}x{height})')
    if not cv2.haveImageReader(path):
        raise ValueError('a format OpenCV cannot read')
    return height, width


def _one_line(e: BaseException) -> str:
    text = ' '.join(str(e).split())
    return text or type(e).__name__
