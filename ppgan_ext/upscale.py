"""Super-resolve a finished image with an SR model: the upscaler of ``stylize --upscale``.

An upscaler is loaded from either

* an exported SR model folder (``paddlegan export``; sidecar kind ``'sr'``),
  run by any backend of :func:`ppgan_ext.deploy.backends.create_predictor`
  exactly as ``paddlegan infer`` runs it (``--upscale-backend``,
  ``--upscale-precision``), or
* a training weight/checkpoint file plus its config (a model with a
  ``generator`` net, e.g. ``BaseSRModel`` + ``TransposeSRResNet``), run as a
  dynamic graph;

and applied tile by tile with :func:`ppgan_ext.tiling.tiled_apply`, the
tiling of ``paddlegan infer --tile``. With the same tile settings an
exported upscaler gives ``paddlegan infer``'s pixels.

:func:`upscale_stylizer` puts an upscaler behind a stylizer (any
``(content, style) -> stylized`` callable on (1, 3, H, W) arrays), so a
pyramid can stylize at a working size and the upscaler brings the result to
``scale`` times that size.

Paddle and the deployment code (:func:`ppgan_ext.deploy.backends.create_predictor`,
:func:`ppgan_ext.deploy.model_dir.read_model_dir`,
:func:`ppgan_ext.deploy.export.build_model_for_export`) are imported when an
upscaler is loaded, not with this module.
"""
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .scale_probe import probe_scale
from .tiling import DEFAULT_OVERLAP, DEFAULT_TILE, dygraph_net, tiled_apply

# (1, 3, H, W) content, (1, 3, H', W') style, float32 in [0, 1] -> (1, 3, H, W)
Stylizer = Callable[[np.ndarray, np.ndarray], np.ndarray]
# called as progress(done, total) after each tile
Progress = Callable[[int, int], None]


@dataclass
class Upscaler:
    """An SR net with its scale, pixel range and tiling.

    Attributes:
        net (callable): ``(1, C, h, w) float32 -> (1, C, scale*h, scale*w)``
            in the model's value range.
        scale (int): Upscale factor (>= 2).
        source (str): The folder or weight file it came from (for messages).
        value_range (tuple[float, float]): Pixel range the net works in.
        tile (int): Tile side in input pixels; 0 = whole image. Default: 128.
        overlap (int): Tile overlap in input pixels. Default: 16.
    """
    net: Callable[[np.ndarray], np.ndarray]
    scale: int
    source: str
    value_range: tuple = (0.0, 1.0)
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP

    def __call__(self, image: np.ndarray, progress: Optional[Progress] = None) -> np.ndarray:
        """Upscale ``(3, H, W)`` float32 RGB in [0, 1] -> ``(3, s*H, s*W)`` (not clipped)."""
        low, high = self.value_range
        if (low, high) != (0.0, 1.0):
            image = image * (high - low) + low
        out = tiled_apply(self.net, image, self.scale, self.tile, self.overlap, 3,
                          progress=progress)
        if (low, high) != (0.0, 1.0):
            out = (out - low) / (high - low)
        return out


def check_upscaler(path: str, config: Optional[str] = None, tile: int = DEFAULT_TILE,
                   overlap: int = DEFAULT_OVERLAP, backend: Optional[str] = None,
                   precision: str = 'fp32', key: str = '--upscale'):
    """Check what :func:`load_upscaler` would load, without loading a net.

    Args:
        path, config, tile, overlap, backend, precision, key: as
            :func:`load_upscaler`.

    Returns:
        ModelInfo or None: The exported folder's
        :class:`ppgan_ext.deploy.model_dir.ModelInfo`; None for a weight file.

    Raises:
        FileNotFoundError / ValueError: one line naming ``key``,
            ``--upscale-config`` or ``--upscale-tile(-overlap)``: bad tiling,
            missing files, a folder that is not a one-input ``'sr'`` model,
            a config with a folder or a weight file without one.
    """
    if tile < 0:
        raise ValueError(f"--upscale-tile must be >= 0, got {tile}")
    if tile and not 0 <= overlap < tile:
        raise ValueError(f"--upscale-tile-overlap must be in [0, --upscale-tile) = "
                         f"[0, {tile}), got {overlap}")
    if os.path.isdir(path):
        if config is not None:
            raise ValueError(f"--upscale-config: {path} is an exported model folder, which "
                             f"needs no config (give a config with a weight file only)")
        from .deploy.model_dir import read_model_dir

        info = read_model_dir(path, key)
        if info.kind != 'sr' or len(info.inputs) != 1:
            raise ValueError(f"{key} {path}: a {info.kind!r} model with "
                             f"{len(info.inputs)} input(s); an upscaler is an exported SR "
                             f"model (kind 'sr', one input)")
        return info
    if os.path.isfile(path):
        if config is None:
            raise ValueError(f"{key} {path}: a weight file needs its training config "
                             f"(--upscale-config CONFIG.yaml), or give an exported folder")
        if backend not in (None, 'auto') or precision != 'fp32':
            raise ValueError(f"--upscale-backend/--upscale-precision choose how an exported "
                             f"{key} folder runs; the weight file {path} runs the dynamic "
                             f"graph in fp32")
        if not os.path.isfile(config):
            raise FileNotFoundError(f"--upscale-config: file not found: {config}")
        return None
    raise FileNotFoundError(f"{key}: no such file or folder: {path}")


def load_upscaler(path: str, config: Optional[str] = None, device: str = 'cpu',
                  tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                  threads: Optional[int] = None, backend: Optional[str] = None,
                  precision: str = 'fp32', key: str = '--upscale') -> Upscaler:
    """An :class:`Upscaler` from an exported SR folder, or from weights + config.

    Args:
        path (str): Exported model folder, or a ``*.pdparams`` weight /
            checkpoint file (then ``config`` is required).
        config (str, optional): The training config of the weights.
        device (str): ``'cpu'`` or ``'gpu'`` (GPU untested here). Default: 'cpu'.
        tile (int): Tile side in input pixels, 0 = whole image. Default: 128.
        overlap (int): Tile overlap in input pixels. Default: 16.
        threads (int, optional): CPU threads of the exported folder's backend.
        backend (str, optional): Backend of an exported folder (see
            :func:`ppgan_ext.deploy.backends.create_predictor`); None: the
            fastest installed. Default: None.
        precision (str): ``'fp32'`` or ``'bf16'`` (exported folder only).
            Default: 'fp32'.
        key (str): What gave ``path`` (a flag or an option), named in the
            errors. Default: '--upscale'.

    Raises:
        FileNotFoundError / ValueError: one line naming ``key`` or
            ``--upscale-config``: missing files, a model that is not an RGB
            image-to-image upscaler, a scale below 2.
    """
    info = check_upscaler(path, config, tile, overlap, backend, precision, key)
    if info is not None:
        from .deploy.backends import create_predictor

        predictor = create_predictor(info, backend, precision, device, threads)
        info = predictor.info
        if info.in_channels != 3 or (info.out_channels or 3) != 3 or info.channel_order != 'RGB':
            raise ValueError(f"{key} {path}: takes {info.in_channels}-channel "
                             f"{info.channel_order} images; the upscaler must map RGB to RGB")
        net, scale, value_range = predictor, int(info.scale), tuple(info.value_range)
    else:
        net, scale, value_range = _dygraph_upscaler(path, config, device)
    if scale < 2:
        raise ValueError(f"{key} {path}: the model's scale is x{scale}; an upscaler "
                         f"must enlarge (x2, x4, ...)")
    return Upscaler(net, scale, path, value_range, tile, overlap)


def _dygraph_upscaler(weights: str, config: str, device: str):
    """(net, scale, value range) of a config's ``generator`` net with ``weights`` loaded."""
    import paddle

    from .config import load_config
    from .deploy.export import build_model_for_export
    from .deploy.exporters.sr import value_range

    cfg = load_config(config)
    model, _ = build_model_for_export(cfg, weights)
    generator = model.nets.get('generator')
    if generator is None:
        raise ValueError(f"--upscale-config {config}: the model has no 'generator' net "
                         f"(nets: {', '.join(model.nets)}); an upscaler is an SR model")
    if device == 'gpu':
        paddle.set_device('gpu')
    generator.eval()
    net = dygraph_net(generator)
    scale, _ = probe_scale(net, out_channels=3, what=f'{config}: model.generator')
    return net, scale, value_range(cfg)


def resize_to_work_size(content: np.ndarray, work_size: int) -> np.ndarray:
    """Shrink ``(1, 3, H, W)`` so its longer side is at most ``work_size`` (area filter).

    A content already that small, or ``work_size`` 0, is returned as is.
    """
    import cv2

    _, _, h, w = content.shape
    if not work_size or max(h, w) <= work_size:
        return content
    ratio = work_size / max(h, w)
    size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    hwc = cv2.resize(content[0].transpose(1, 2, 0), size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)[None], dtype=np.float32)


def upscale_stylizer(stylize: Stylizer, upscaler: Upscaler, work_size: int = 0,
                     progress: Optional[Progress] = None) -> Stylizer:
    """A stylizer that stylizes at a working size, then super-resolves the result.

    Args:
        stylize (callable): ``(content, style) -> stylized``, (1, 3, H, W)
            float32 in [0, 1] (the pyramid as a black box).
        upscaler (Upscaler): The SR model applied to the stylized image.
        work_size (int): Longer side the content is shrunk to before
            stylizing (0: the content's own size). Default: 0.
        progress (callable, optional): ``progress(done, total)`` per tile.

    Returns:
        callable: ``(content, style) -> (1, 3, s*h, s*w)`` in [0, 1], where
        (h, w) is the working size of the content.
    """
    if work_size < 0:
        raise ValueError(f"--work-size must be >= 0, got {work_size}")

    def fused(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        stylized = stylize(resize_to_work_size(content, work_size), style)
        out = upscaler(np.clip(stylized[0], 0.0, 1.0), progress)
        return np.clip(out, 0.0, 1.0)[None]

    return fused
