"""(lq, gt) pairs of stylized images, made on the fly by a frozen LapStyle pyramid.

The style-aware upscaler of ``stylize --upscale`` learns to enlarge the
pyramid's own outputs. When the dataset is built, a frozen
:class:`LapStylePyramidNet` (weights from a file) stylizes every content
photo with every style image at the photo's full size, as ``paddlegan
stylize`` would; each sample then crops that stylization (``gt``) and takes
the matching ``scale`` times smaller crop (``lq``) of

* ``lq_source: downscale`` (default): the stylization area-downscaled;
* ``lq_source: restylize``: the pyramid's stylization of the area-downscaled
  photo, i.e. exactly what the upscaler receives when the pyramid runs at the
  working size, so it learns to turn the low-resolution stylization into the
  full-resolution one.

The pyramid runs once per (photo, style) in the process that builds the
dataset, never inside a data-loading thread or worker (Paddle ops in
PaddlePaddle's loader thread abort the process at exit), so samples are
cheap numpy crops; memory holds one float32 stylization per (photo, style)
and lq source: use moderately sized photos. Samples are ppgan SR samples
(``lq``, ``gt``, ``lq_path``, ``gt_path``; float32 CHW RGB in [0, 1]) for
``BaseSRModel``. Test mode is deterministic (the same crop and style for an
index every epoch).
"""
import os
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from paddle.io import Dataset
from ppgan.datasets.builder import DATASETS

from ..utils import IMG_EXTENSIONS, scan_images
from ..image_io import read_image as read_rgb
from ..image_io import resize_short_side

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
    """Crops of content photos stylized by a frozen LapStyle pyramid, and their low-res versions.

    Args:
        content_root (str): Folder of content photos (searched recursively) or one file.
        style_root (str): Folder of style images or one file.
        lapstyle_weights (str): LapStyle weight file (``net_enc``, ``net_dec``,
            ``net_rev`` ...; a glob picks the newest match).
        levels (int, optional): Revision levels of the pyramid. Default: all in the file.
        scale (int): ``gt`` / ``lq`` size ratio, 2, 4 or 8. Default: 4.
        gt_size (int): Side of the ``gt`` crop, a multiple of ``scale``; photos are cut to
            a multiple of ``scale`` so the ``lq`` crop is aligned. Default: 128.
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
        from ..models.generators.lapstyle_pyramid import pyramid_from_weights

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
        self._pairs: Dict[Tuple[int, int], Tuple[np.ndarray, np.ndarray]] = {}
        self._stream = np.random.default_rng(seed)
        for i, path in enumerate(self.contents):
            img = read_rgb(path)
            h, w = img.shape[:2]
            if min(h, w) < gt_size:
                raise ValueError(f"dataset.content_root: {path} is {w}x{h}, smaller than "
                                 f"gt_size {gt_size}")
            img = img[:h - h % scale, :w - w % scale]   # lq and gt crops stay aligned
            content = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0
            small = _area_down(content, scale) if lq_source == 'restylize' else None
            for j, (_, style) in enumerate(self.styles):
                gt = self._stylize(content, style)
                lq = _area_down(gt, scale) if small is None else self._stylize(small, style)
                self._pairs[i, j] = (gt, lq)

    def __len__(self) -> int:
        return len(self.contents) * self.repeat

    def _stylize(self, chw: np.ndarray, style: np.ndarray) -> np.ndarray:
        import paddle

        with paddle.no_grad():
            out = self.pyramid(paddle.to_tensor(chw[None]), paddle.to_tensor(style))
        return np.ascontiguousarray(out.numpy()[0], dtype=np.float32)

    def __getitem__(self, index: int) -> dict:
        i = index % len(self.contents)
        rng = np.random.default_rng([self.seed, index]) if self.mode == 'test' else self._stream
        j = int(rng.integers(0, len(self.styles)))
        gt_full, lq_full = self._pairs[i, j]
        s, size = self.scale, self.gt_size
        _, h, w = gt_full.shape
        if self.mode == 'test':
            top, left = (h - size) // 2 // s, (w - size) // 2 // s
        else:
            top = int(rng.integers(0, (h - size) // s + 1))
            left = int(rng.integers(0, (w - size) // s + 1))
        gt = gt_full[:, top * s:top * s + size, left * s:left * s + size]
        lq = lq_full[:, top:top + size // s, left:left + size // s]
        if self.mode == 'train':
            if rng.random() < 0.5:
                gt, lq = gt[:, :, ::-1], lq[:, :, ::-1]
            k = int(rng.integers(0, 4))
            gt, lq = np.rot90(gt, k, axes=(1, 2)), np.rot90(lq, k, axes=(1, 2))
        name = f"{os.path.splitext(os.path.basename(self.contents[i]))[0]}_{index}" \
               f"_{os.path.splitext(os.path.basename(self.styles[j][0]))[0]}"
        return {'lq': np.ascontiguousarray(lq), 'gt': np.ascontiguousarray(gt),
                'lq_path': name, 'gt_path': name}
