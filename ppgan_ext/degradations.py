"""Salt-and-pepper noise, mean blur and bicubic downscaling as pure numpy functions.

The degradation model of :class:`ppgan_ext.datasets.SaltPepperDataset` and of
``paddlegan degrade``::

    lq = downscale(mean_blur(salt_pepper_noise(gt, prob), blur), scale)

Every function takes and returns ``uint8`` images of shape ``(H, W)`` or
``(H, W, C)`` with values in [0, 255]; channel order does not matter to any of
them. Functions that draw random numbers take an explicit
:class:`numpy.random.Generator` and never touch numpy's global random state, so
a seeded generator gives the same output on every call.
"""
import numbers
from typing import Sequence, Tuple, Union

import cv2
import numpy as np

Number = Union[int, float]
RangeOrValue = Union[Number, Sequence[Number]]

_U32 = 1 << 32
_BAND_ENTRIES = 1 << 16   # mask entries processed at a time (keeps the work in cache)
# Bit generators whose ``random_raw`` yields 64 uniformly random bits per value.
_FULL_64BIT = (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64)


# --------------------------------------------------------------------------- validation

def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_range(value, key: str, low: Number, high: Number, integer: bool,
                 allowed: str) -> Union[Number, Tuple[Number, Number]]:
    """Validate a value or a ``[min, max]`` pair inside ``[low, high]``."""
    is_ok = _is_int if integer else _is_number
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(is_ok(v) for v in value):
            raise ValueError(f'{key} must be {allowed} or a [min, max] pair of them, '
                             f'got {value!r}')
        lo, hi = value
        for v in (lo, hi):
            if not low <= v <= high:
                raise ValueError(f'{key} range {list(value)}: both ends must be {allowed}')
        if lo > hi:
            raise ValueError(f'{key} range {list(value)} has min > max; write it as '
                             f'[{hi}, {lo}]')
        cast = int if integer else float
        return cast(lo), cast(hi)
    if not is_ok(value) or not low <= value <= high:
        raise ValueError(f'{key} must be {allowed} or a [min, max] pair of them, '
                         f'got {value!r}')
    return int(value) if integer else float(value)


def check_prob(prob: RangeOrValue, key: str = 'prob') -> Union[float, Tuple[float, float]]:
    """Validate a noise fraction: a number in [0, 1] or a ``[min, max]`` range inside it."""
    return _check_range(prob, key, 0.0, 1.0, integer=False, allowed='a number in [0, 1]')


def check_blur(blur: RangeOrValue, key: str = 'blur') -> Union[int, Tuple[int, int]]:
    """Validate a mean-blur kernel size: an int >= 0 (0 or 1 = off) or a ``[min, max]`` range."""
    return _check_range(blur, key, 0, float('inf'), integer=True, allowed='an integer >= 0')


def check_salt_ratio(salt_ratio: Number, key: str = 'salt_ratio') -> float:
    """Validate the fraction of noisy values that are salt (255): a number in [0, 1]."""
    if not _is_number(salt_ratio) or not 0.0 <= salt_ratio <= 1.0:
        raise ValueError(f'{key} must be a number in [0, 1], got {salt_ratio!r}')
    return float(salt_ratio)


def check_scale(scale: int, key: str = 'scale') -> int:
    """Validate a downscaling factor: an int >= 1 (1 = no downscaling)."""
    if not _is_int(scale) or scale < 1:
        raise ValueError(f'{key} must be an integer >= 1, got {scale!r}')
    return int(scale)


def _check_image(img: np.ndarray, key: str = 'img', uint8: bool = True) -> None:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3) or img.size == 0:
        shape = getattr(img, 'shape', None)
        raise ValueError(f'{key} must be a non-empty array of shape (H, W) or (H, W, C), '
                         f'got {type(img).__name__} with shape {shape}')
    if uint8 and img.dtype != np.uint8:
        raise ValueError(f'{key} must have dtype uint8, got {img.dtype}')


def _restore_channel_axis(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    # OpenCV drops a trailing channel axis of length 1.
    if like.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


# --------------------------------------------------------------------------- noise

def _uniform_u32(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` independent uniform draws from all 2**32 uint32 values.

    For 64-bit bit generators (numpy's default PCG64, PCG64DXSM, Philox, SFC64)
    each raw 64-bit output is split into two uint32 values, about three times
    faster than ``rng.random(dtype=np.float32)``; other bit generators go
    through ``rng.integers``.
    """
    if isinstance(rng.bit_generator, _FULL_64BIT):
        return rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    return rng.integers(0, _U32, size=n, dtype=np.uint32)


def _below(u: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask ``u < fraction * 2**32``: true with probability ``fraction``."""
    threshold = int(round(fraction * _U32))
    if threshold >= _U32:
        return np.ones(u.shape, dtype=bool)
    return u < np.uint32(threshold)


def _set_where(target: np.ndarray, mask: np.ndarray, value: int) -> None:
    """``target[mask] = value`` in place; a 2-D mask covers every channel of a pixel.

    OpenCV (5.0) refuses a 1x1 mask (``_mask.sameSize`` assertion): single
    pixels go through numpy, as do images with more than 4 channels.
    """
    if (target.ndim == 3 and target.shape[2] > 4) or mask.size == 1:
        target[mask] = value
        return
    m8 = mask.view(np.uint8)
    if value:
        cv2.bitwise_or(target, (255, 255, 255, 255), dst=target, mask=m8)
    else:
        cv2.bitwise_and(target, (0, 0, 0, 0), dst=target, mask=m8)


def salt_pepper_noise(img: np.ndarray, prob: float, rng: np.random.Generator,
                      salt_ratio: float = 0.5, per_channel: bool = False) -> np.ndarray:
    """Add salt-and-pepper (impulse) noise.

    Each pixel (or, with ``per_channel``, each channel value) is independently
    replaced with probability ``prob``; a replaced value is salt (255) with
    probability ``salt_ratio`` and pepper (0) otherwise. In the default
    per-pixel mode all channels of a noisy pixel are set together, so the
    noise is black and white, as in the per-pixel loop the model is taken
    from. That loop sets 0 and 255 each with probability ``p`` (``2 * p`` in
    all); ``prob=2 * p, salt_ratio=0.5`` reproduces it.

    One uint32 is drawn from ``rng`` per pixel (per value with
    ``per_channel``), so the output depends only on the generator state, the
    image shape and the arguments. With ``prob=0`` nothing is drawn.

    Args:
        img (ndarray): Clean image, uint8, shape (H, W) or (H, W, C), values
            in [0, 255]. Not modified.
        prob (float): Fraction of pixels (values) replaced, in [0, 1].
        rng (numpy.random.Generator): Source of randomness.
        salt_ratio (float): Fraction of the replaced pixels set to 255, in
            [0, 1]; the rest are set to 0. Default: 0.5.
        per_channel (bool): Draw each channel independently (coloured noise)
            instead of once per pixel. Default: False.

    Returns:
        ndarray: New uint8 array of the same shape as ``img``.
    """
    _check_image(img)
    prob = check_prob(prob)
    if isinstance(prob, tuple):
        raise ValueError(f'prob must be a single number here, got the range {list(prob)}; '
                         f'draw a value from it first (see degrade)')
    salt_ratio = check_salt_ratio(salt_ratio)
    out = np.array(img, dtype=np.uint8, order='C', copy=True)
    if prob == 0.0:
        return out
    h, w = out.shape[:2]
    c = 1 if out.ndim == 2 else out.shape[2]
    if per_channel or c == 1:
        target = out.reshape(h, w * c)    # one mask entry per value
    else:
        target = out                      # one mask entry per pixel
    # Work on bands of rows that fit in cache; every band but the last has an even
    # number of mask entries, so the draws (and the output) do not depend on the band size.
    rows, cols = target.shape[:2]
    band = max(1, _BAND_ENTRIES // cols)
    band += band % 2 if cols % 2 else 0
    t_salt, t_pepper = prob, prob * (1.0 - salt_ratio)
    for y in range(0, rows, band):
        part = target[y:y + band]
        u = _uniform_u32(rng, part.shape[0] * cols).reshape(part.shape[0], cols)
        # u < t_pepper -> 0, t_pepper <= u < t_salt -> 255: salt first, pepper overwrites.
        _set_where(part, _below(u, t_salt), 255)
        if t_pepper > 0:
            _set_where(part, _below(u, t_pepper), 0)
    return out


# --------------------------------------------------------------------------- blur, resize

def mean_blur(img: np.ndarray, ksize: int) -> np.ndarray:
    """Box (mean) filter with a ``ksize x ksize`` kernel: exactly ``cv2.blur(img, (k, k))``.

    Borders are reflected (OpenCV's ``BORDER_REFLECT_101``). For an even
    ``ksize`` the window spans ``ksize // 2`` pixels above/left of the centre
    and ``ksize // 2 - 1`` below/right, as OpenCV's default anchor does.

    Args:
        img (ndarray): Image of shape (H, W) or (H, W, C), uint8 (or float32).
        ksize (int): Kernel size >= 0; 0 and 1 leave the image unchanged.

    Returns:
        ndarray: New array of the same shape and dtype as ``img``.
    """
    _check_image(img, uint8=False)
    ksize = check_blur(ksize, key='ksize')
    if isinstance(ksize, tuple):
        raise ValueError(f'ksize must be a single integer here, got the range {list(ksize)}')
    if ksize <= 1:
        return img.copy()
    out = cv2.blur(np.ascontiguousarray(img), (ksize, ksize))
    return _restore_channel_axis(out, img)


def downscale(img: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic downscaling (``cv2.INTER_CUBIC``) by an integer factor.

    The output is ``(H // scale, W // scale)``; crop the input to a multiple
    of ``scale`` first (see :func:`mod_crop`) to keep pixel grids aligned.

    Args:
        img (ndarray): Image of shape (H, W) or (H, W, C), uint8 (or float32).
        scale (int): Factor >= 1; 1 returns a copy.

    Returns:
        ndarray: New array of shape (H // scale, W // scale[, C]), same dtype.
    """
    _check_image(img, uint8=False)
    scale = check_scale(scale)
    if scale == 1:
        return img.copy()
    h, w = img.shape[:2]
    if h < scale or w < scale:
        raise ValueError(f'image of {w}x{h} pixels is smaller than scale={scale}')
    out = cv2.resize(np.ascontiguousarray(img), (w // scale, h // scale),
                     interpolation=cv2.INTER_CUBIC)
    return _restore_channel_axis(out, img)


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so that height and width are multiples of ``scale`` (a view)."""
    scale = check_scale(scale)
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


def crop_gt_to_output(gt: np.ndarray, out_shape: Tuple[int, ...], scale: int) -> np.ndarray:
    """The ground truth cropped as ``paddlegan degrade --scale`` crops its input.

    ``degrade`` cuts the bottom/right rows and columns that do not fill a
    whole low-resolution pixel (:func:`mod_crop`), so
    the upscaled output is up to ``scale - 1`` pixels smaller than the
    original photo; that same crop of the ground truth is returned. Any other
    size difference is left for the metrics to report.
    """
    h, w = gt.shape[:2]
    if scale > 1 and (h - h % scale, w - w % scale) == tuple(out_shape[:2]):
        return gt[:out_shape[0], :out_shape[1]]
    return gt


# --------------------------------------------------------------------------- pipeline

def draw_params(rng: np.random.Generator, prob: RangeOrValue,
                blur: RangeOrValue) -> Tuple[float, int]:
    """Resolve ``prob`` and ``blur`` to the values used for one image.

    A ``[min, max]`` prob is drawn uniformly from [min, max) with
    ``rng.uniform``, then a ``[min, max]`` blur as an integer in [min, max]
    (inclusive) with ``rng.integers``; single values are returned unchanged
    and draw nothing.

    Returns:
        tuple[float, int]: ``(prob, blur)``.
    """
    prob = check_prob(prob)
    blur = check_blur(blur)
    if isinstance(prob, tuple):
        prob = float(rng.uniform(prob[0], prob[1]))
    if isinstance(blur, tuple):
        blur = int(rng.integers(blur[0], blur[1] + 1))
    return prob, blur


def degrade(img: np.ndarray, rng: np.random.Generator, prob: RangeOrValue = 0.1,
            salt_ratio: float = 0.5, per_channel: bool = False, blur: RangeOrValue = 20,
            scale: int = 1) -> np.ndarray:
    """Salt-and-pepper noise, then mean blur, then optional bicubic downscaling.

    ``prob`` and ``blur`` may be single values or ``[min, max]`` ranges drawn
    per call (see :func:`draw_params`; drawn before the noise, in that order).

    Args:
        img (ndarray): Clean image, uint8, shape (H, W) or (H, W, C), in [0, 255].
        rng (numpy.random.Generator): Source of randomness.
        prob (float | list[float]): Noise fraction in [0, 1], or a range. Default: 0.1.
        salt_ratio (float): Fraction of noisy pixels set to 255. Default: 0.5.
        per_channel (bool): Independent noise per channel. Default: False.
        blur (int | list[int]): Mean-blur kernel size (0/1 = off), or a range.
            Default: 20.
        scale (int): Downscaling factor, 1 = none. Default: 1.

    Returns:
        ndarray: uint8 array of shape (H // scale, W // scale[, C]).
    """
    _check_image(img)
    salt_ratio = check_salt_ratio(salt_ratio)
    scale = check_scale(scale)
    p, k = draw_params(rng, prob, blur)
    out = salt_pepper_noise(img, p, rng, salt_ratio, per_channel)
    if k > 1:
        out = mean_blur(out, k)
    if scale > 1:
        out = downscale(out, scale)
    return out
