"""The one place that reads and writes image files.

* one reader: :func:`decode_image` (checked first, EXIF orientation applied)
  and its three views -- :func:`read_image` (uint8 RGB for datasets),
  :func:`read_input` (float32 CHW for a model), :func:`read_uint8_rgb`
  (uint8 for metrics);
* one writer: :func:`write_png` (atomic: temporary file, then rename);
* one bad-file lister: :func:`find_bad_images` and :func:`bad_files_listing`.

Channel order: RGB, the order ppgan's SR pipelines produce
(``LoadImageFromFile(to_rgb=True)``) and its PSNR/SSIM ``test_y_channel``
assumes, so a model sees the same order from our datasets as from ppgan's.
Every reader applies the EXIF orientation tag (a phone photo stored
sideways comes out upright), for every format Pillow reads EXIF from.
"""
import os
import re
import stat
import warnings
from typing import Iterable, List, Tuple

import cv2
import numpy as np

from .utils import PathLike, atomic_write, missing_path_message

# Keep bit depth, colour/grey and alpha as stored; EXIF orientation is applied
# by :func:`apply_exif_orientation` (the same way for every format).
_READ_FLAGS = cv2.IMREAD_UNCHANGED
_ORIENTATION_TAG = 0x0112

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


def exif_orientation(path: PathLike) -> int:
    """The EXIF Orientation tag of an image file (1..8), 1 when absent or unreadable."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with Image.open(path) as im:
                value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:   # no EXIF, unknown format, damaged EXIF block: stored as is
        return 1
    return value if 1 <= value <= 8 else 1


def apply_exif_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image stored with EXIF ``orientation`` upright (as ``PIL.ImageOps.exif_transpose``).

    Args:
        img (ndarray): (H, W) or (H, W, C), any dtype, as stored in the file.
        orientation (int): EXIF Orientation, 1..8 (1: already upright).

    Returns:
        ndarray: contiguous; (W, H, ...) for orientations 5 to 8.
    """
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],                           # mirrored
        3: lambda a: a[::-1, ::-1],                        # rotated 180
        4: lambda a: a[::-1],                              # mirrored vertically
        5: lambda a: a.swapaxes(0, 1),                     # transposed
        6: lambda a: np.rot90(a, k=-1),                    # rotate 90 clockwise
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],         # transverse
        8: lambda a: np.rot90(a, k=1),                     # rotate 90 counter-clockwise
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(img))


def decode_image(path: PathLike, flags: int = cv2.IMREAD_UNCHANGED,
                 check: bool = True, orient: bool = True) -> np.ndarray:
    """Decode an image file with OpenCV after :func:`check_image_file`: the one reader.

    Args:
        path (str): Image file.
        flags (int): ``cv2.imread`` flags. Default: ``cv2.IMREAD_UNCHANGED``
            (bit depth, grey and alpha as stored).
        check (bool): Check the file first (size limit, structure); only
            skip this for files checked already. Default: True.
        orient (bool): Apply the EXIF orientation tag. Default: True.

    Returns:
        ndarray: BGR(A) order as OpenCV gives it, any depth, upright.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: ``'<path>: <reason>'``, one line.
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(missing_path_message(path, 'image'))
    try:
        if check:
            check_image_file(path)
        img = _imread(path, flags | cv2.IMREAD_IGNORE_ORIENTATION
                      if flags != cv2.IMREAD_UNCHANGED else flags)
    except ValueError as e:
        raise ValueError(f'{path}: {e}') from None
    return apply_exif_orientation(img, exif_orientation(path)) if orient else img


def read_image(path: PathLike, check: bool = True) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3), upright; see :func:`to_rgb8` for conversions.

    Args:
        path (str): Image file.
        check (bool): Run :func:`check_image_file` first (pixel limit,
            truncation). Default: True.

    Raises:
        FileNotFoundError / ValueError: naming the file, when it cannot be decoded.
    """
    path = os.fspath(path)
    return to_rgb8(decode_image(path, _READ_FLAGS, check), path)


def read_input(path: PathLike, channels: int = 3, channel_order: str = 'RGB') -> np.ndarray:
    """Read an image as float32 ``(C, H, W)`` in [0, 1] for a model with ``channels`` inputs.

    8-bit and 16-bit files are scaled to [0, 1]. For a 3-channel model a
    grayscale image is copied to three channels and a fully opaque alpha
    channel is dropped; an image with real transparency is refused (flatten it
    first), as is a colour image for a 1-channel model. Upright (EXIF).

    Raises:
        ValueError: unreadable, truncated or too large file (see
            :func:`check_image_file`), unsupported bit depth or channel
            count, naming the file.
    """
    path = os.fspath(path)
    img = decode_image(path)
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


def read_uint8_rgb(path: PathLike) -> np.ndarray:
    """An image as uint8 ``(H, W, C)`` (C = 1 or 3), colour in RGB order, upright (for metrics)."""
    img = decode_image(path)
    if img.dtype == np.uint16:
        img = np.rint(img / 257.0).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f"{os.fspath(path)}: unsupported pixel type {img.dtype} "
                         f"(8- or 16-bit images)")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] in (2, 4):
        img = img[:, :, :-1]
    if img.shape[2] == 3:
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def write_png(path: PathLike, hwc: np.ndarray, channel_order: str = 'RGB') -> None:
    """Write a uint8 ``(H, W, C)`` image atomically as PNG: the one writer.

    Args:
        path (str): Output file; an existing file is replaced only once the new
            one is complete (a kill leaves the old one intact).
        hwc (ndarray): uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).
        channel_order (str): 'RGB' or 'BGR', the order of ``hwc``'s colours.
            Default: 'RGB'.
    """
    if channel_order not in ('RGB', 'BGR'):
        raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
    if hwc.ndim == 2:
        hwc = hwc[:, :, None]
    if hwc.shape[2] == 3 and channel_order == 'RGB':
        hwc = hwc[:, :, ::-1]
    elif hwc.shape[2] == 4 and channel_order == 'RGB':
        hwc = hwc[:, :, [2, 1, 0, 3]]
    hwc = np.ascontiguousarray(hwc)

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, hwc if hwc.shape[2] != 1 else hwc[:, :, 0]):
            raise OSError(f"cannot write {path}")

    atomic_write(path, write)


def find_bad_images(paths: Iterable[PathLike]) -> Tuple[List[Tuple[str, Tuple[int, int]]],
                                                        List[Tuple[str, str]]]:
    """Check image files without decoding them: the one bad-file lister.

    Returns:
        tuple: ``(good, bad)``: ``good`` holds ``(path, (height, width))``,
        ``bad`` holds ``(path, reason)`` for files :func:`check_image_file` refuses.
    """
    good, bad = [], []
    for path in paths:
        path = os.fspath(path)
        try:
            good.append((path, check_image_file(path)))
        except ValueError as e:
            bad.append((path, str(e)))
    return good, bad


def bad_files_listing(bad: List[Tuple[str, str]], folder: PathLike, limit: int = 5) -> str:
    """``'a.png (reason); b.jpg (reason); and N more'``, paths relative to ``folder``."""
    listing = '; '.join(f'{os.path.relpath(p, folder)} ({why})' for p, why in bad[:limit])
    if len(bad) > limit:
        listing += f'; and {len(bad) - limit} more'
    return listing


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


def resize_short_side(img: np.ndarray, size: int) -> np.ndarray:
    """Resize (area/bilinear) so the shorter side is ``size``, keeping the aspect ratio.

    Args:
        img (ndarray): (H, W, C) uint8.
        size (int): Target shorter side.

    Returns:
        ndarray: (H', W', C) with ``min(H', W') == size``.
    """
    h, w = img.shape[:2]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    if (new_h, new_w) == (h, w):
        return img
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, (new_w, new_h), interpolation=interp)
