"""``probe_scale``: learn an image-to-image net's scale from one small run.

Used wherever a net's scale is not written down: the SR exporter and the
fused stylize + upscale exporter (dynamic graph), an upscaler loaded from a
config (dynamic graph), and a Paddle Inference folder without a sidecar.
"""
from typing import Callable, Optional, Tuple

import numpy as np

PROBE_SIDE = 16   # input side of the probe; SR scales are whole numbers, so outputs are multiples


def probe_scale(run: Callable[[np.ndarray], np.ndarray], in_channels: int = 3,
                out_channels: Optional[int] = None, min_scale: int = 1,
                what: str = 'the net') -> Tuple[int, int]:
    """Run ``run`` once on a black ``(1, in_channels, 16, 16)`` image; return its scale.

    Args:
        run (callable): ``(1, C, H, W) float32 ndarray -> (1, C', sH, sW) ndarray``.
        in_channels (int): Channels of the probe. Default: 3.
        out_channels (int, optional): Channels the output must have. Default: any.
        min_scale (int): Least scale accepted (2: an upscaler). Default: 1.
        what (str): Names the net in the error (a config key or a folder).
            Default: 'the net'.

    Returns:
        tuple[int, int]: ``(scale, output channels)``.

    Raises:
        ValueError: the output is not the input scaled by a whole number >= ``min_scale``
            (one line naming ``what`` and the output's shape).
    """
    out = np.asarray(run(np.zeros((1, in_channels, PROBE_SIDE, PROBE_SIDE), np.float32)))
    shape = tuple(int(d) for d in out.shape)
    if len(shape) != 4 or shape[2] % PROBE_SIDE or shape[2] != shape[3] \
            or shape[2] < min_scale * PROBE_SIDE \
            or (out_channels is not None and shape[1] != out_channels):
        want = 'an image' if out_channels is None else f'a {out_channels}-channel image'
        raise ValueError(f"{what}: maps a {in_channels}x{PROBE_SIDE}x{PROBE_SIDE} input to "
                         f"{list(shape[1:])}; expected {want} scaled by a whole number "
                         f">= {min_scale} (an image upscale)")
    return shape[2] // PROBE_SIDE, shape[1]
