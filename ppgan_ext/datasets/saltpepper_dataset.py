"""Clean images degraded on the fly with salt-and-pepper noise, mean blur and downscaling."""
import numbers
import os
import warnings
from typing import Dict, List, Tuple, Union

import numpy as np
from paddle.io import Dataset, get_worker_info
from ppgan.datasets.builder import DATASETS

from ..degradations import (check_blur, check_prob, check_salt_ratio, check_scale, degrade,
                            downscale, draw_params, mean_blur, mod_crop, salt_pepper_noise)
from ..image_io import bad_files_listing, check_image_file, read_image
from ..utils import IMG_EXTENSIONS, scan_images

_MODES = ('train', 'test')
_LISTED = 5    # bad files named in a message before "and N more"


def _check_bool(value, key: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f'{key} must be true or false, got {value!r}')
    return bool(value)


def _to_chw(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) -> float32 (C, H, W) in [0, 1]."""
    return np.divide(np.ascontiguousarray(img.transpose(2, 0, 1)), 255, dtype=np.float32)


def _rank() -> int:
    import paddle.distributed as dist
    try:
        return int(dist.get_rank())
    except Exception:  # no distributed environment
        return 0


@DATASETS.register()
class SaltPepperDataset(Dataset):
    """Pairs (degraded, clean) made on the fly from a folder of clean images.

    Degradation (see :mod:`ppgan_ext.degradations`): salt-and-pepper noise
    (a fraction ``prob`` of the pixels set to 255 or 0), then a
    ``blur x blur`` mean filter (``cv2.blur``), then optional bicubic
    downscaling by ``scale`` for joint denoising + super-resolution.

    ``train`` mode takes a random ``gt_size`` crop, applies random flips and
    90-degree rotations, and degrades the crop. The crop is cut with a margin
    of ``blur // 2`` pixels of real image around it (where the image has
    them) so the blur near the crop edges sees the same neighbours as on the
    whole image. Randomness comes from a numpy Generator seeded with
    ``seed``, the distributed rank and, inside DataLoader workers, the worker
    id and the loader's per-epoch base seed: workers never repeat each
    other's streams, and crops differ from epoch to epoch.

    ``test`` mode degrades the whole image, cropped at the bottom/right to a
    multiple of ``scale``, with a generator seeded from ``(seed, index)``: an
    index gives the same input every epoch, in every worker and process.

    Images are read as 3-channel 8-bit RGB (the order of ppgan's SR
    datasets): grey is copied to three channels, alpha dropped, 16-bit scaled
    by 255/65535. Every file is checked at construction without a full decode
    (:func:`ppgan_ext.image_io.check_image_file`: header, structure and, for
    PNG, chunk checksums), so broken files are reported before training
    starts.

    Each sample is a dict:

    - ``lq``: float32 (3, gt_size/scale, gt_size/scale) in train mode,
      (3, H/scale, W/scale) in test mode, values in [0, 1].
    - ``gt``: float32 (3, gt_size, gt_size) or (3, H, W), values in [0, 1].
    - ``lq_path``, ``gt_path``: the source image path (both; the degraded
      image is not stored).

    Args:
        gt_folder (str): Folder of clean images (png, jpg, jpeg, bmp, tif,
            tiff, webp).
        mode (str): ``'train'`` or ``'test'``. Default: 'train'.
        prob (float | list[float]): Fraction of noisy pixels in [0, 1], or a
            ``[min, max]`` range drawn per sample. Default: 0.1.
        salt_ratio (float): Fraction of noisy pixels that are white (255).
            Default: 0.5.
        per_channel (bool): Independent noise per channel instead of per
            pixel. Default: False.
        blur (int | list[int]): Mean-blur kernel size (0 or 1 = off), or a
            ``[min, max]`` range drawn per sample. Default: 20.
        scale (int): Downscaling factor of ``lq`` (1 = same size). Default: 1.
        gt_size (int): Train crop size, a multiple of ``scale``. Default: 128.
        use_flip (bool): Random horizontal and vertical flips (train).
            Default: True.
        use_rot (bool): Random rotations by 0/90/180/270 degrees (train).
            Default: True.
        invert (float): Probability of training on the photographic negative
            (``255 - x``) of a clean crop (train). Dark photos then also teach
            dark specks on bright surfaces. Default: 0.
        color_aug (bool): Shuffle the clean crop's RGB channels and, half of
            the time, scale each channel by a gain drawn from [0.5, 1]
            (train), so greyscale photos teach colour too. Default: False.
        seed (int): Base seed (>= 0) of all randomness. Default: 0.
        recursive (bool): Search sub-folders of ``gt_folder``. Default: True.
        skip_bad (bool): Skip unreadable or too small images with a warning
            (their number is ``self.skipped``) instead of failing. Default: False.
        repeat (int): Each image appears ``repeat`` times per epoch (train
            mode), so a small folder does not restart the DataLoader (and its
            workers) every few iterations. Default: 1.
        cache (bool): Decode every image once at construction and keep it in
            memory (DataLoader workers share it copy-on-write). For folders
            that fit in RAM; also fully decodes each file up front. Default: False.
    """

    def __init__(self,
                 gt_folder: str,
                 mode: str = 'train',
                 prob: Union[float, List[float]] = 0.1,
                 salt_ratio: float = 0.5,
                 per_channel: bool = False,
                 blur: Union[int, List[int]] = 20,
                 scale: int = 1,
                 gt_size: int = 128,
                 use_flip: bool = True,
                 use_rot: bool = True,
                 invert: float = 0.0,
                 color_aug: bool = False,
                 seed: int = 0,
                 recursive: bool = True,
                 skip_bad: bool = False,
                 repeat: int = 1,
                 cache: bool = False):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
        self.mode = mode
        self.prob = check_prob(prob)
        self.salt_ratio = check_salt_ratio(salt_ratio)
        self.per_channel = _check_bool(per_channel, 'per_channel')
        self.blur = check_blur(blur)
        self.scale = check_scale(scale)
        if (not isinstance(gt_size, numbers.Integral) or isinstance(gt_size, bool)
                or gt_size < 1):
            raise ValueError(f'gt_size must be a positive integer, got {gt_size!r}')
        if mode == 'train' and gt_size % self.scale:
            raise ValueError(f'gt_size must be a multiple of scale={self.scale}, got {gt_size}')
        self.gt_size = int(gt_size)
        self.use_flip = _check_bool(use_flip, 'use_flip')
        self.use_rot = _check_bool(use_rot, 'use_rot')
        if (not isinstance(invert, numbers.Real) or isinstance(invert, bool)
                or not 0 <= invert <= 1):
            raise ValueError(f'invert must be a probability in [0, 1], got {invert!r}')
        self.invert = float(invert)
        self.color_aug = _check_bool(color_aug, 'color_aug')
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f'seed must be an integer >= 0, got {seed!r}')
        self.seed = int(seed)
        self.recursive = _check_bool(recursive, 'recursive')
        self.skip_bad = _check_bool(skip_bad, 'skip_bad')
        self.gt_folder = os.fspath(gt_folder)

        max_blur = self.blur[1] if isinstance(self.blur, tuple) else self.blur
        self._margin = max_blur // 2 if max_blur > 1 else 0
        self._rng = None
        self._rng_key = None
        self._pid = os.getpid()

        if not isinstance(repeat, numbers.Integral) or isinstance(repeat, bool) or repeat < 1:
            raise ValueError(f'repeat must be an integer >= 1, got {repeat!r}')
        self.repeat = int(repeat) if mode == 'train' else 1
        self.cache = _check_bool(cache, 'cache')

        self.paths, self.sizes, self.skipped_files = self._scan()
        self.skipped = len(self.skipped_files)
        self._images = [read_image(p, check=False) for p in self.paths] if self.cache else None

    # ------------------------------------------------------------------ files
    def _scan(self) -> Tuple[List[str], List[Tuple[int, int]], List[Tuple[str, str]]]:
        folder = self.gt_folder
        if not os.path.exists(folder):
            raise FileNotFoundError(f'gt_folder {folder} does not exist')
        if not os.path.isdir(folder):
            raise NotADirectoryError(f'gt_folder {folder} is not a folder')
        found = scan_images(folder, recursive=self.recursive)
        if not found:
            where = 'in or below' if self.recursive else 'in'
            raise FileNotFoundError(f'gt_folder {folder}: no image files '
                                    f"({', '.join(IMG_EXTENSIONS)}) {where} it")
        paths, sizes, bad = [], [], []
        for path in found:
            try:
                h, w = check_image_file(path)
            except ValueError as e:
                bad.append((path, str(e)))
                continue
            if self.mode == 'train' and min(h, w) < self.gt_size:
                bad.append((path, f'{w}x{h} is smaller than gt_size={self.gt_size}'))
                continue
            if min(h, w) < self.scale:
                bad.append((path, f'{w}x{h} is smaller than scale={self.scale}'))
                continue
            paths.append(path)
            sizes.append((h, w))
        if bad:
            listing = bad_files_listing(bad, folder, _LISTED)
            what = f'{len(bad)} of {len(found)} image files under {folder}'
            if not self.skip_bad:
                raise ValueError(f'SaltPepperDataset: {what} cannot be used: {listing}. '
                                 f'Fix or remove them, or set skip_bad: True')
            warnings.warn(f'SaltPepperDataset: skipping {what}: {listing}', stacklevel=3)
            if not paths:
                raise ValueError(f'SaltPepperDataset: none of the {len(found)} image files '
                                 f'under {folder} can be used: {listing}')
        return paths, sizes, bad

    # ------------------------------------------------------------------ randomness
    def _train_rng(self) -> np.random.Generator:
        """The generator of this process (and DataLoader worker), created on first use."""
        info = get_worker_info()
        key = (os.getpid(), None if info is None else (info.id, info.seed))
        if self._rng is None or self._rng_key != key:
            entropy = [self.seed, _rank()]
            if info is not None:
                entropy += [int(info.id) + 1, int(info.seed)]
            elif os.getpid() != self._pid:
                entropy += [0, os.getpid()]   # forked outside a paddle DataLoader
            self._rng = np.random.default_rng(entropy)
            self._rng_key = key
        return self._rng

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self.paths) * self.repeat

    def __getitem__(self, idx: int) -> Dict[str, object]:
        idx = int(idx) % len(self.paths)
        path = self.paths[idx]
        img = self._images[idx] if self._images is not None else read_image(path, check=False)
        if self.mode == 'train':
            gt, lq = self._train_pair(img, self._train_rng(), path)
        else:
            gt = mod_crop(img, self.scale)
            rng = np.random.default_rng([self.seed, idx])
            lq = degrade(gt, rng, self.prob, self.salt_ratio, self.per_channel, self.blur,
                         self.scale)
        return {'lq': _to_chw(lq), 'gt': _to_chw(gt), 'lq_path': path, 'gt_path': path}

    def _train_pair(self, img: np.ndarray, rng: np.random.Generator,
                    path: str) -> Tuple[np.ndarray, np.ndarray]:
        """Random crop, flips/rotation, colour changes of ``img``, degrade: (gt, lq) uint8 HWC."""
        size = self.gt_size
        h, w = img.shape[:2]
        if h < size or w < size:
            raise ValueError(f'{path}: {w}x{h} is smaller than gt_size={size}')
        top = int(rng.integers(0, h - size + 1))
        left = int(rng.integers(0, w - size + 1))
        m = self._margin
        t, l, b, r = min(m, top), min(m, left), min(m, h - top - size), min(m, w - left - size)
        patch = img[top - t:top + size + b, left - l:left + size + r]
        if self.use_flip:
            if rng.random() < 0.5:
                patch, l, r = patch[:, ::-1], r, l
            if rng.random() < 0.5:
                patch, t, b = patch[::-1], b, t
        if self.use_rot:
            k = int(rng.integers(4))
            patch = np.rot90(patch, k)
            for _ in range(k):    # counter-clockwise: the right margin becomes the top one
                t, l, b, r = r, t, l, b
        if self.invert and rng.random() < self.invert:
            patch = 255 - patch
        if self.color_aug:
            patch = patch[:, :, rng.permutation(3)]
            if rng.random() < 0.5:
                gains = rng.uniform(0.5, 1.0, 3).astype(np.float32)
                patch = (patch * gains).round().astype(np.uint8)
        prob, blur = draw_params(rng, self.prob, self.blur)
        lq = salt_pepper_noise(patch, prob, rng, self.salt_ratio, self.per_channel)
        if blur > 1:
            lq = mean_blur(lq, blur)
        gt = np.ascontiguousarray(patch[t:t + size, l:l + size])
        lq = lq[t:t + size, l:l + size]
        if self.scale > 1:
            lq = downscale(lq, self.scale)
        return gt, np.ascontiguousarray(lq)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(gt_folder={self.gt_folder!r}, mode={self.mode!r}, '
                f'images={len(self)}, skipped={self.skipped}, prob={self.prob}, '
                f'salt_ratio={self.salt_ratio}, per_channel={self.per_channel}, '
                f'blur={self.blur}, scale={self.scale}, gt_size={self.gt_size})')
