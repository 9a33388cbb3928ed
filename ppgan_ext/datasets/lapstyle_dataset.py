"""Content/style pairs for LapStyle training, and a small sample set from scikit-image photos.

Each sample is a content crop and a style crop at the training stage's size
(128, 256, 512 in the paper), keys as ppgan's LapStyle models expect:
``ci``, ``si`` (float32 (3, S, S) in [0, 1], RGB), ``ci_path``, ``si_path``.
"""
import os
import warnings
from typing import List, Optional, Tuple

import cv2
import numpy as np
from paddle.io import Dataset

from ppgan.datasets.builder import DATASETS

from ..image_io import (bad_files_listing, check_image_file, read_image,  # noqa: F401
                        resize_short_side, write_png)
from ..utils import is_image_file, missing_path_message, scan_images

__all__ = ['LapStyleContentStyleDataset', 'read_rgb', 'resize_short_side', 'crop',
           'write_lapstyle_samples']

MIN_CROP = 32
_LISTED = 5    # bad files named in a message before "and N more"


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3), upright: :func:`ppgan_ext.image_io.read_image`."""
    return read_image(path)


def crop(img: np.ndarray, size: int, rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """A ``size`` x ``size`` crop: uniformly random with ``rng``, centred without.

    Args:
        img (ndarray): (H, W, C), ``H, W >= size``.
        size (int): Crop side.
        rng (numpy.random.Generator, optional): Random source. Default: None.
    """
    h, w = img.shape[:2]
    if rng is None:
        top, left = (h - size) // 2, (w - size) // 2
    else:
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return img[top:top + size, left:left + size]


def _to_chw(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0


def _image_list(root: str, key: str) -> List[str]:
    if os.path.isfile(root):
        if not is_image_file(root):
            raise ValueError(f"{key}: {root} is not an image file")
        return [root]
    if not os.path.isdir(root):
        raise FileNotFoundError(missing_path_message(root, key))
    paths = scan_images(root)
    if not paths:
        raise ValueError(f"{key}: no images in {root}")
    return paths


@DATASETS.register()
class LapStyleContentStyleDataset(Dataset):
    """Content images from a folder, styles from one image or a folder.

    Train mode: each image's shorter side is resized to ``load_size``, then a
    random ``crop_size`` crop is taken; the style is a random one of the
    styles. Test mode: centre crops, and style ``index % n_styles``, so a
    validation pass sees the same pairs every time, in every worker.

    Args:
        content_root (str): Folder of content images (searched recursively),
            or one image.
        style_root (str): A style image, or a folder of them.
        crop_size (int): Side of the square crops, the stage's training size
            (128 / 256 / 512 in the paper). ``>= 32``. Default: 128.
        load_size (int, optional): Shorter side after resizing, ``>=
            crop_size``. Default: None (``crop_size * 17 // 16``, e.g. 136 for
            128).
        test_mode (bool): Deterministic centre crops and style choice.
            Default: False.
        seed (int, optional): Seed of the random crops in train mode; None
            draws one from NumPy's global generator at construction, so a run
            started with ``--seed`` (which seeds it) repeats its crops and a
            run without it does not. Default: None.
        skip_bad (bool): Leave out unreadable image files with a warning
            (their number is ``self.skipped``) instead of failing. Default: False.
        keep_aspect (bool): Resize the shorter side to ``load_size``. False:
            resize to ``load_size x load_size`` with PIL's bilinear filter, as
            ppgan's ``LapStyleDataset`` does (PaddleGAN's recipe). Default: True.

    Every file is checked at construction without a full decode
    (:func:`ppgan_ext.image_io.check_image_file`), so a broken, truncated or
    oversized image stops the run before training starts, in one message
    that lists them. Images smaller than ``load_size`` are scaled up.
    """

    def __init__(self, content_root: str, style_root: str, crop_size: int = 128,
                 load_size: Optional[int] = None, test_mode: bool = False,
                 seed: Optional[int] = None, skip_bad: bool = False,
                 keep_aspect: bool = True):
        super().__init__()
        if not isinstance(keep_aspect, bool):
            raise ValueError(f"keep_aspect must be true or false, got {keep_aspect!r}")
        self.keep_aspect = keep_aspect
        if not isinstance(crop_size, int) or crop_size < MIN_CROP:
            raise ValueError(f"crop_size must be an int >= {MIN_CROP}, got {crop_size!r}")
        if load_size is None:
            load_size = crop_size * 17 // 16
        if not isinstance(load_size, int) or load_size < crop_size:
            raise ValueError(f"load_size must be an int >= crop_size ({crop_size}), "
                             f"got {load_size!r}")
        if not isinstance(skip_bad, bool):
            raise ValueError(f"skip_bad must be true or false, got {skip_bad!r}")
        self.skipped_files: List[Tuple[str, str]] = []
        self.content_paths = self._usable(content_root, 'content_root', skip_bad)
        self.style_paths = self._usable(style_root, 'style_root', skip_bad)
        self.skipped = len(self.skipped_files)
        self.crop_size = crop_size
        self.load_size = load_size
        self.test_mode = bool(test_mode)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0 or null, got {seed!r}")
        self.seed = seed
        self._draws = 0

    def _usable(self, root: str, key: str, skip_bad: bool) -> List[str]:
        """The checked image files of ``root``; bad ones raise, or are skipped with a warning."""
        paths = _image_list(root, key)
        good, bad = [], []
        for path in paths:
            try:
                check_image_file(path)
                good.append(path)
            except ValueError as e:
                bad.append((path, str(e)))
        if not bad:
            return good
        folder = root if os.path.isdir(root) else os.path.dirname(root)
        listing = bad_files_listing(bad, folder, _LISTED)
        what = f'{len(bad)} of {len(paths)} image files of {key} {root}'
        if not good:
            raise ValueError(f'LapStyleContentStyleDataset: none of the {len(paths)} image files '
                             f'of {key} {root} can be used: {listing}')
        if not skip_bad:
            raise ValueError(f'LapStyleContentStyleDataset: {what} cannot be used: {listing}. '
                             f'Fix or remove them, or set skip_bad: True')
        warnings.warn(f'LapStyleContentStyleDataset: skipping {what}: {listing}', stacklevel=3)
        self.skipped_files += bad
        return good

    def __len__(self) -> int:
        return len(self.content_paths)

    def _load(self, path: str, rng: Optional[np.random.Generator]) -> np.ndarray:
        img = read_rgb(path)
        if self.keep_aspect:
            img = resize_short_side(img, self.load_size)
        else:   # ppgan's LapStyleDataset: PIL bilinear to a square
            from PIL import Image
            img = np.asarray(Image.fromarray(img).resize((self.load_size, self.load_size),
                                                         Image.BILINEAR))
        return _to_chw(crop(img, self.crop_size, rng))

    def __getitem__(self, index: int) -> dict:
        if self.test_mode:
            rng = None
            style_path = self.style_paths[index % len(self.style_paths)]
        else:
            self._draws += 1
            rng = np.random.default_rng([self.seed, index, self._draws])
            style_path = self.style_paths[int(rng.integers(len(self.style_paths)))]
        content_path = self.content_paths[index]
        return {'ci': self._load(content_path, rng), 'si': self._load(style_path, rng),
                'ci_path': content_path, 'si_path': style_path}


# ------------------------------------------------------------- sample data
SAMPLE_CONTENT = ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera')
SAMPLE_STYLES = ('gravel', 'brick')


def write_lapstyle_samples(root: str, size: int = 160) -> Tuple[str, str]:
    """Write scikit-image's bundled photos as a tiny LapStyle data set.

    Creates ``root/content/<name>.png`` (photos, shorter side ``size``) and
    ``root/style/<texture>.png`` (textures, shorter side ``size``); existing
    files are replaced atomically. Nothing is downloaded.

    Args:
        root (str): Output folder.
        size (int): Shorter side of the written images. Default: 160.

    Returns:
        tuple[str, str]: The content folder and the first style image.
    """
    from skimage import data

    written = {}
    for folder, names in (('content', SAMPLE_CONTENT), ('style', SAMPLE_STYLES)):
        for name in names:
            img = getattr(data, name)()
            if img.ndim == 2:
                img = np.repeat(img[:, :, None], 3, axis=2)
            img = resize_short_side(np.ascontiguousarray(img[:, :, :3]), size)
            path = os.path.join(root, folder, f'{name}.png')
            write_png(path, img)
            written.setdefault(folder, []).append(path)
    return os.path.join(root, 'content'), written['style'][0]
