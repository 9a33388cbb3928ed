"""(lq, gt) pairs of stylized images, made on the fly by a frozen LapStyle pyramid.

The style-aware upscaler of ``stylize --upscale`` learns to enlarge the
pyramid's own outputs: each sample crops a content photo, stylizes the crop
with a frozen :class:`LapStylePyramidNet` (weights from a file) and a style
image, and returns that stylization as ``gt`` and a ``scale`` times smaller
version as ``lq``:

* ``lq_source: downscale`` (default): ``lq`` is ``gt`` area-downscaled;
* ``lq_source: restylize``: ``lq`` is the pyramid's stylization of the
  area-downscaled content crop, i.e. exactly what the upscaler receives when
  the pyramid runs at the working size, so it learns to turn the low-
  resolution stylization into the full-resolution one.

Samples are ppgan SR samples (``lq``, ``gt``, ``lq_path``, ``gt_path``;
float32 CHW RGB in [0, 1]) for ``BaseSRModel``. Test mode is deterministic
(the same crop and style for an index every epoch). The pyramid runs in the
loading process: keep ``num_workers: 0``.
"""
import os
from typing import Dict, List, Optional

import cv2
import numpy as np
from paddle.io import Dataset
from ppgan.datasets.builder import DATASETS

from ..utils import IMG_EXTENSIONS, scan_images
from .lapstyle_dataset import read_rgb, resize_short_side

__all__ = ['StylizedSRDataset']

_MODES = ('train', 'test')
_LQ_SOURCES = ('downscale', 'restylize')


def _images(root: str, key: str) -> List[str]:
    if os.path.isfile(root):
        return [root]
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{key}: no such file or folder: {root}")
    found = scan_images(root)
    if not found:
        raise ValueError(f"{key}: no images ({', '.join(IMG_EXTENSIONS)}) in {root}")
    return found


def _area_down(chw: np.ndarray, scale: int) -> np.ndarray:
    _, h, w = chw.shape
    hwc = cv2.resize(chw.transpose(1, 2, 0), (w // scale, h // scale),
                     interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32)


@DATASETS.register()
class StylizedSRDataset(Dataset):
    """Content crops stylized by a frozen LapStyle pyramid, and their low-resolution versions.

    Args:
        content_root (str): Folder of content photos (searched recursively) or one file.
        style_root (str): Folder of style images or one file.
        lapstyle_weights (str): LapStyle weight file (``net_enc``, ``net_dec``,
            ``net_rev`` ...; a glob picks the newest match).
        levels (int, optional): Revision levels of the pyramid. Default: all in the file.
        scale (int): ``gt`` / ``lq`` size ratio, 2, 4 or 8. Default: 4.
        gt_size (int): Side of the ``gt`` crop, a multiple of ``scale``. Default: 128.
        lq_source (str): ``'downscale'`` or ``'restylize'`` (see module docstring).
            Default: 'downscale'.
        style_size (int, optional): Shorter side the styles are resized to.
            Default: ``128 * 2**levels`` (as ``paddlegan stylize``).
        mode (str): ``'train'`` (random crops, flips, styles) or ``'test'``. Default: 'train'.
        repeat (int): Times the content list is repeated per epoch. Default: 1.
        seed (int): Seed of the test-mode crops and of the training stream. Default: 0.
    """

    def __init__(self, content_root: str, style_root: str, lapstyle_weights: str,
                 levels: Optional[int] = None, scale: int = 4, gt_size: int = 128,
                 lq_source: str = 'downscale', style_size: Optional[int] = None,
                 mode: str = 'train', repeat: int = 1, seed: int = 0):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"StylizedSRDataset: scale must be one of (2, 4, 8), got {scale!r}")
        if not isinstance(gt_size, int) or gt_size < 16 * scale or gt_size % scale:
            raise ValueError(f"StylizedSRDataset: gt_size must be a multiple of scale {scale} "
                             f"and >= {16 * scale}, got {gt_size!r}")
        if lq_source not in _LQ_SOURCES:
            raise ValueError(f"StylizedSRDataset: lq_source must be one of {_LQ_SOURCES}, "
                             f"got {lq_source!r}")
        if mode not in _MODES:
            raise ValueError(f"StylizedSRDataset: mode must be one of {_MODES}, got {mode!r}")
        if not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"StylizedSRDataset: repeat must be an int >= 1, got {repeat!r}")
        from ..models.generators.stylize_sr import pyramid_from_weights

        self.pyramid = pyramid_from_weights(lapstyle_weights, levels,
                                            'dataset.lapstyle_weights')
        for p in self.pyramid.parameters():
            p.stop_gradient = True
        self.levels = self.pyramid.levels
        self.scale, self.gt_size, self.lq_source = scale, gt_size, lq_source
        self.mode, self.repeat, self.seed = mode, repeat, seed
        self.contents = _images(content_root, 'dataset.content_root')
        size = style_size or 128 * 2 ** self.levels
        least = 2 ** (self.levels + 4)
        self.styles = []
        for path in _images(style_root, 'dataset.style_root'):
            style = resize_short_side(read_rgb(path), size)
            if min(style.shape[:2]) < least:
                raise ValueError(f"dataset.style_size: {size} is below the {least} pixels "
                                 f"{self.levels} revision level(s) need")
            self.styles.append((path, np.ascontiguousarray(style.transpose(2, 0, 1)[None],
                                                           dtype=np.float32) / 255.0))
        self._cache: Dict[str, np.ndarray] = {}
        self._stream = np.random.default_rng(seed)
        for path in self.contents:
            img = self._content(path)
            if min(img.shape[:2]) < gt_size:
                raise ValueError(f"dataset.content_root: {path} is {img.shape[1]}x"
                                 f"{img.shape[0]}, smaller than gt_size {gt_size}")

    def _content(self, path: str) -> np.ndarray:
        if path not in self._cache:
            self._cache[path] = read_rgb(path)
        return self._cache[path]

    def __len__(self) -> int:
        return len(self.contents) * self.repeat

    def _stylize(self, chw: np.ndarray, style: np.ndarray) -> np.ndarray:
        import paddle

        with paddle.no_grad():
            out = self.pyramid(paddle.to_tensor(chw[None]), paddle.to_tensor(style))
        return np.ascontiguousarray(out.numpy()[0], dtype=np.float32)

    def __getitem__(self, index: int) -> dict:
        path = self.contents[index % len(self.contents)]
        img = self._content(path)
        rng = np.random.default_rng([self.seed, index]) if self.mode == 'test' else self._stream
        h, w = img.shape[:2]
        size = self.gt_size
        if self.mode == 'test':
            top, left = (h - size) // 2, (w - size) // 2
        else:
            top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        patch = img[top:top + size, left:left + size]
        if self.mode == 'train':
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            patch = np.rot90(patch, int(rng.integers(0, 4)))
        content = np.ascontiguousarray(patch.transpose(2, 0, 1), dtype=np.float32) / 255.0
        style_path, style = self.styles[int(rng.integers(0, len(self.styles)))]
        gt = self._stylize(content, style)
        if self.lq_source == 'downscale':
            lq = _area_down(gt, self.scale)
        else:
            lq = self._stylize(_area_down(content, self.scale), style)
        name = f"{os.path.splitext(os.path.basename(path))[0]}_{index}" \
               f"_{os.path.splitext(os.path.basename(style_path))[0]}"
        return {'lq': lq, 'gt': gt, 'lq_path': name, 'gt_path': name}
