"""Tiled application of an image-to-image net, with feathered blending of the overlaps.

Pure numpy: the net is any callable ``(1, C, h, w) float32 -> (1, C', s*h, s*w)``
(a Paddle Inference predictor, a dynamic-graph net). Each tile is run on its
own and written into a preallocated float32 accumulator together with a
weight map, so peak memory is the output image plus one tile's activations,
whatever the image size.

Tiles overlap by at least ``overlap`` input pixels. A tile's outputs next to
a cut edge are wrong (the net saw zero padding instead of the neighbouring
pixels), so inside each overlap the tile's weight is 0 over the ``margin``
(3/8) of the overlap nearest its cut edge, then rises linearly to 1 across the
middle quarter, where the neighbouring tile's weight falls by the same amount
(a feathered cross-fade; the two always sum to 1). Sides on the image border
keep full weight. When the net's receptive radius is at most 3/8 of the
overlap the blend equals the untiled output up to float rounding; beyond that
the cross-fade keeps the seam invisible.
"""
import math
from typing import Callable, List, Optional, Tuple

import numpy as np

Net = Callable[[np.ndarray], np.ndarray]
MARGIN = 0.375  # share of an overlap, next to each cut edge, that gets weight 0
# The default tile of every command and the web app that tiles by default (SR models,
# upscalers): side in input pixels, and the overlap of neighbouring tiles. A 128 tile keeps
# a 4096x4096 x4 output of the 64-feature TransposeSRResNet near 1.3 GiB.
DEFAULT_TILE = 128
DEFAULT_OVERLAP = 16


def dygraph_net(layer) -> Net:
    """A Paddle dynamic-graph ``layer`` as a :data:`Net`: ndarray in, ndarray out, no autograd.

    Args:
        layer (paddle.nn.Layer): One image tensor in, one out (already in eval mode).
    """
    import paddle

    def run(batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return layer(paddle.to_tensor(batch)).numpy()

    return run


def tile_starts(length: int, tile: int, overlap: int) -> List[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``.

    The tiles are spread evenly, so every pair of neighbours overlaps by at
    least ``overlap`` pixels; one tile (start 0) when ``tile >= length``.

    Args:
        length (int): Image side, >= 1.
        tile (int): Tile side, >= 1.
        overlap (int): Minimum overlap of neighbouring tiles, 0 <= overlap < tile.

    Returns:
        list[int]: Increasing starts; the last one is ``length - tile``.
    """
    if length < 1 or tile < 1:
        raise ValueError(f'tile_starts: length and tile must be >= 1, got {length}, {tile}')
    if not 0 <= overlap < tile:
        raise ValueError(f'tile_starts: overlap must be in [0, tile), got {overlap} '
                         f'for tile {tile}')
    if tile >= length:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    count = max(count, 2)
    span = length - tile
    return [int(round(i * span / (count - 1))) for i in range(count)]


def _ramp(length: int, margin: float) -> np.ndarray:
    """Weights rising from 0 to 1 across an overlap of ``length`` output pixels.

    The first ``margin * length`` pixels (next to the tile's cut edge) get
    weight 0, the middle part a linear ramp; the mirrored ramp of the
    neighbouring tile adds up to exactly 1.
    """
    zero = int(margin * length)
    width = max(length - 2 * zero, 1)
    u = np.arange(length, dtype=np.float32) + 0.5
    return np.clip((u - zero) / width, 0.0, 1.0)


def _axis_weights(starts: List[int], index: int, tile: int, length: int, scale: int,
                  margin: float) -> np.ndarray:
    """1-D blend weights, in output pixels, of tile ``index`` along one axis."""
    start = starts[index]
    size = min(tile, length) * scale
    w = np.ones(size, np.float32)
    if index > 0:  # overlap with the previous tile: ramp up from the cut edge
        ramp = (starts[index - 1] + tile - start) * scale
        w[:ramp] = _ramp(ramp, margin)
    if index < len(starts) - 1:  # overlap with the next tile: ramp down to the cut edge
        ramp = (start + tile - starts[index + 1]) * scale
        w[size - ramp:] = np.minimum(w[size - ramp:], _ramp(ramp, margin)[::-1])
    return w


def tiled_apply(net: Net, image: np.ndarray, scale: int, tile: int, overlap: int,
                out_channels: Optional[int] = None, margin: float = MARGIN,
                progress: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Run ``net`` over ``image`` tile by tile and blend the tiles.

    Args:
        net (callable): ``(1, C, h, w) float32 -> (1, C', scale*h, scale*w)``.
        image (ndarray): ``(C, H, W)`` float32 input.
        scale (int): Output / input size ratio of ``net``.
        tile (int): Tile side in input pixels (>= 1); ``0`` runs the whole
            image at once.
        overlap (int): Minimum overlap of neighbouring tiles in input pixels,
            ``0 <= overlap < tile``.
        out_channels (int, optional): Output channels; read from the first
            tile's output when None. Default: None.
        margin (float): Share of each overlap, next to a cut edge, given
            weight 0, in [0, 0.5). Default: 0.375.
        progress (callable, optional): Called as ``progress(done, total)``
            after each tile. Default: None.

    Returns:
        ndarray: ``(C', scale*H, scale*W)`` float32.
    """
    if image.ndim != 3:
        raise ValueError(f'tiled_apply: image must be (C, H, W), got shape {image.shape}')
    if tile < 0:
        raise ValueError(f'tiled_apply: tile must be >= 0, got {tile}')
    _, height, width = image.shape
    if tile == 0:
        out = net(np.ascontiguousarray(image[None], dtype=np.float32))
        _check_tile_output(out, scale, height, width, out_channels)
        if progress:
            progress(1, 1)
        return out[0]

    ys = tile_starts(height, tile, overlap)
    xs = tile_starts(width, tile, overlap)
    if not 0.0 <= margin < 0.5:
        raise ValueError(f'tiled_apply: margin must be in [0, 0.5), got {margin}')
    wy = [_axis_weights(ys, i, tile, height, scale, margin) for i in range(len(ys))]
    wx = [_axis_weights(xs, j, tile, width, scale, margin) for j in range(len(xs))]
    th, tw = min(tile, height), min(tile, width)
    acc: Optional[np.ndarray] = None
    weight = np.zeros((height * scale, width * scale), np.float32)
    total, done = len(ys) * len(xs), 0
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            crop = np.ascontiguousarray(image[None, :, y:y + th, x:x + tw], dtype=np.float32)
            out = net(crop)
            _check_tile_output(out, scale, th, tw, out_channels)
            if acc is None:
                acc = np.zeros((out.shape[1], height * scale, width * scale), np.float32)
            w2d = np.outer(wy[i], wx[j])
            oy, ox = y * scale, x * scale
            region = (slice(oy, oy + th * scale), slice(ox, ox + tw * scale))
            acc[(slice(None),) + region] += out[0] * w2d
            weight[region] += w2d
            del out, crop
            done += 1
            if progress:
                progress(done, total)
    acc /= weight  # every output pixel is covered with weight > 0
    return acc


def _check_tile_output(out, scale: int, h: int, w: int,
                       expected_channels: Optional[int]) -> None:
    want: Tuple[int, ...] = (1, expected_channels or out.shape[1], h * scale, w * scale)
    if out.ndim != 4 or tuple(out.shape) != want:
        raise ValueError(f'the model returned shape {tuple(out.shape)} for a '
                         f'{h}x{w} input; expected {want} (scale {scale})')


def to_uint8_hwc(chw: np.ndarray, rows: int = 512) -> np.ndarray:
    """float ``(C, H, W)`` in [0, 1] -> uint8 ``(H, W, C)``, rounded, in row chunks.

    Converting chunk by chunk keeps the temporaries small for very large images;
    the planes are scaled in place and interleaved by OpenCV (``cv2.merge``),
    about 2.8x faster than a strided numpy transpose for a 1024x1024 RGB output,
    with the same values.
    """
    import cv2

    channels, height, width = chw.shape
    out = np.empty((height, width, channels), np.uint8)
    for r in range(0, height, rows):
        part = np.clip(chw[:, r:r + rows], 0.0, 1.0)
        part *= 255.0
        np.rint(part, out=part)
        planes = part.astype(np.uint8)
        if channels == 1:
            out[r:r + rows, :, 0] = planes[0]
        elif channels <= 4:
            out[r:r + rows] = cv2.merge(list(planes)).reshape(-1, width, channels)
        else:
            out[r:r + rows] = planes.transpose(1, 2, 0)
    return out
