"""Reading images as 3-channel 8-bit RGB, and a quick check of image files.

Channel order: RGB, the order ppgan's SR pipelines produce
(``LoadImageFromFile(to_rgb=True)``) and its PSNR/SSIM ``test_y_channel``
assumes, so a model sees the same order from our datasets as from ppgan's.
"""
import os
import re
import stat
import warnings
from typing import Tuple

import cv2
import numpy as np

from .utils import PathLike, atomic_write

# Keep bit depth and colour/grey as stored, drop alpha, apply EXIF orientation.
_READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR

# Images claiming more pixels than this are refused before decoding: 2**27 =
# 134,217,728 (e.g. 16384 x 8192, about 11585 x 11585): 384 MiB as 8-bit RGB,
# 1.5 GiB as the float32 tensor a model is fed. Below Pillow's own hard limit
# (2 x PIL.Image.MAX_IMAGE_PIXELS = 178,956,970) and OpenCV's (2**30).
MAX_IMAGE_PIXELS = 2 ** 27
MAX_PIXELS_ENV = 'PPGAN_EXT_MAX_IMAGE_PIXELS'


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


def max_image_pixels() -> int:
    """The largest image, in pixels (width x height), that is decoded.

    ``$PPGAN_EXT_MAX_IMAGE_PIXELS`` when set to a positive integer, else
    :data:`MAX_IMAGE_PIXELS`. A file whose header claims more is refused
    before any pixel memory is allocated.
    """
    env = os.environ.get(MAX_PIXELS_ENV, '').strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f'${MAX_PIXELS_ENV} must be a positive integer, got {env!r}')
        return int(env)
    return MAX_IMAGE_PIXELS


def _too_big(pixels: int, limit: int, size: str = '') -> ValueError:
    what = f'{size} = {pixels} pixels' if size else f'the header claims {pixels} pixels'
    return ValueError(f'{what}, more than the limit of {limit} (raise it with '
                      f'${MAX_PIXELS_ENV})')


def _imread(path: str, flags: int) -> np.ndarray:
    """``cv2.imread`` that raises ValueError (without the path) instead of returning None."""
    try:
        img = cv2.imread(path, flags)
    except cv2.error as e:   # OpenCV raises on its own size limit and on some damaged files
        raise ValueError(f'OpenCV cannot decode it ({_cv_reason(e)})') from None
    if img is None or img.size == 0:
        raise ValueError('cannot be decoded (corrupt, truncated, or not an image)')
    return img


def decode_image(path: PathLike, flags: int = cv2.IMREAD_UNCHANGED,
                 check: bool = True) -> np.ndarray:
    """Decode an image file with OpenCV after :func:`check_image_file`.

    Args:
        path (str): Image file.
        flags (int): ``cv2.imread`` flags. Default: ``cv2.IMREAD_UNCHANGED``.
        check (bool): Check the file first (size limit, structure); only
            skip this for files checked already. Default: True.

    Returns:
        ndarray: As ``cv2.imread`` returns it (BGR(A) order, any depth).

    Raises:
        ValueError: ``'<path>: <reason>'``, one line.
    """
    path = os.fspath(path)
    try:
        if check:
            check_image_file(path)
        return _imread(path, flags)
    except ValueError as e:
        raise ValueError(f'{path}: {e}') from None


def read_image(path: PathLike, check: bool = True) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3); see :func:`to_rgb8` for conversions.

    Args:
        path (str): Image file.
        check (bool): Run :func:`check_image_file` first (pixel limit,
            truncation). Default: True.

    Raises:
        ValueError: naming the file, when it cannot be decoded.
    """
    path = os.fspath(path)
    return to_rgb8(decode_image(path, _READ_FLAGS, check), path)


def check_image_file(path: PathLike) -> Tuple[int, int]:
    """Check that ``path`` is a readable image without decoding all of it.

    In order: the file can be opened (a symlink loop, a dangling link or a
    folder is reported as such) and is not empty; Pillow parses the header,
    and an image claiming more than :func:`max_image_pixels` pixels is
    refused before anything is allocated; ``verify()`` walks the file's
    structure (for PNG it reads every chunk and checks its CRC, which catches
    truncated and damaged files at a small fraction of the cost of
    decoding); a JPEG must have its end-of-image marker after the image data
    (a truncated JPEG otherwise decodes "successfully" with a grey bottom);
    OpenCV then confirms it has a decoder for the file's signature. Files
    Pillow does not know are decoded once with OpenCV instead. Damage that
    only a full decode reveals (e.g. inside JPEG entropy data) is reported
    when the image is read.

    Returns:
        tuple[int, int]: ``(height, width)`` as stored (before any EXIF rotation).

    Raises:
        ValueError: with a one-line reason (without the path).
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    try:
        info = os.stat(path)
    except OSError as e:
        raise ValueError(f'cannot be opened ({e.strerror or type(e).__name__})') from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError('not a regular file')
    if info.st_size == 0:
        raise ValueError('empty file (0 bytes)')
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > limit:
                    raise _too_big(width * height, limit, f'{width}x{height}')
                fmt = im.format
                im.verify()
    except Image.DecompressionBombError as e:
        found = re.search(r'\((\d+) pixels\)', str(e))
        pixels = int(found.group(1)) if found else None
        if pixels is None:
            raise ValueError(f'the header claims more pixels than Pillow allows '
                             f'({_one_line(e)})') from None
        if pixels > limit:
            raise _too_big(pixels, limit) from None
        return _cv_size(path)   # allowed by our limit, above Pillow's own
    except UnidentifiedImageError:
        return _cv_size(path)
    except ValueError:
        raise
    except OSError as e:
        if e.errno is not None:
            raise ValueError(f'cannot be opened ({e.strerror or type(e).__name__})') from None
        raise ValueError(f'corrupt or truncated ({_one_line(e)})') from None
    except Exception as e:  # Pillow raises SyntaxError, struct.error, ... on bad data
        raise ValueError(f'corrupt or truncated ({_one_line(e)})') from None
    if width < 1 or height < 1:
        raise ValueError(f'empty image ({width}x{height})')
    if fmt in ('JPEG', 'MPO') and not _jpeg_has_end(path):
        raise ValueError('truncated JPEG (no end-of-image marker after the image data)')
    if not cv2.haveImageReader(path):
        raise ValueError('a format OpenCV cannot read')
    return height, width


def _cv_size(path: str) -> Tuple[int, int]:
    """(height, width) of a file Pillow cannot check, by decoding it with OpenCV."""
    img = _imread(path, _READ_FLAGS)
    h, w = img.shape[:2]
    if h * w > max_image_pixels():
        raise _too_big(h * w, max_image_pixels(), f'{w}x{h}')
    return h, w


def _jpeg_has_end(path: str) -> bool:
    """Whether the JPEG's first scan is followed by an end-of-image marker (FFD9).

    Marker segments before the first start-of-scan (FFDA) are skipped by
    their lengths, so the EOI of an EXIF thumbnail does not count; inside
    entropy-coded data 0xFF is always followed by 0x00 or a restart marker,
    so the first FFD9 after the scan header is the image's own end. Data
    after the EOI (motion photos, camera trailers) is allowed.
    """
    with open(path, 'rb') as f:
        data = f.read()
    pos = 2 if data[:2] == b'\xff\xd8' else None
    while pos is not None and pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:           # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], 'big')
        if marker == 0xDA:
            return data.find(b'\xff\xd9', pos + 2 + length) >= 0
        pos += 2 + length
    return False


def _cv_reason(e: 'cv2.error') -> str:
    text = _one_line(e)
    found = re.search(r'error: \(-?\d+:[^)]*\) (.*?) in function', text)
    return found.group(1) if found else text


def _one_line(e: BaseException) -> str:
    text = ' '.join(str(e).split())
    return text or type(e).__name__


# ------------------------------------------------- model input / output images
def read_input(path: str, channels: int = 3, channel_order: str = 'RGB') -> np.ndarray:
    """Read an image as float32 ``(C, H, W)`` in [0, 1] for a model with ``channels`` inputs.

    8-bit and 16-bit files are scaled to [0, 1]. For a 3-channel model a
    grayscale image is copied to three channels and a fully opaque alpha
    channel is dropped; an image with real transparency is refused (flatten it
    first), as is a colour image for a 1-channel model.

    Raises:
        ValueError: unreadable, truncated or too large file (see
            :func:`ppgan_ext.image_io.check_image_file`), unsupported bit
            depth or channel count, naming the file.
    """
    img = decode_image(path)   # checked first: size limit, truncation, symlink loops
    if img.dtype == np.uint8:
        data = img.astype(np.float32) / 255.0
        opaque = 255
    elif img.dtype == np.uint16:
        data = img.astype(np.float32) / 65535.0
        opaque = 65535
    else:
        raise ValueError(f"{path}: unsupported pixel type {img.dtype} (8- or 16-bit images)")
    if data.ndim == 2:
        data = data[:, :, None]
    found = data.shape[2]
    if found in (2, 4):  # gray + alpha, BGRA
        if not np.all(img[..., -1] == opaque):
            raise ValueError(f"{path}: has transparency (alpha channel); the model takes "
                             f"{channels}-channel images, flatten it onto a background first")
        data = data[:, :, :-1]
        found -= 1
    if found == 3 and channel_order == 'RGB':
        data = data[:, :, ::-1]
    if found != channels:
        if found == 1 and channels == 3:
            data = np.repeat(data, 3, axis=2)
        else:
            raise ValueError(f"{path}: {found}-channel image, but the model takes "
                             f"{channels}-channel input")
    return np.ascontiguousarray(data.transpose(2, 0, 1))


def write_png(path: str, hwc: np.ndarray, channel_order: str = 'RGB') -> None:
    """Write a uint8 ``(H, W, C)`` image atomically as PNG (colour given in ``channel_order``)."""
    if hwc.shape[2] == 3 and channel_order == 'RGB':
        hwc = hwc[:, :, ::-1]
    hwc = np.ascontiguousarray(hwc)

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, hwc if hwc.shape[2] != 1 else hwc[:, :, 0]):
            raise OSError(f"cannot write {path}")

    atomic_write(path, write)


def read_uint8_rgb(path: str) -> np.ndarray:
    """An image as uint8 ``(H, W, C)``, colour in RGB order (for metrics)."""
    img = decode_image(path)   # checked first: size limit, truncation, symlink loops
    if img.dtype == np.uint16:
        img = np.rint(img / 257.0).astype(np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] in (2, 4):
        img = img[:, :, :-1]
    if img.shape[2] == 3:
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)
