"""Temporal stability of frame-by-frame video processing: flicker measure and flow-guided blending.

Motion is always taken from the *input* frames, with OpenCV's DIS optical
flow (``cv2.DISOpticalFlow_create``). For consecutive frames ``t-1, t``:

* ``back`` = flow of frame ``t`` to frame ``t-1``: input ``t`` at ``x`` shows
  what input ``t-1`` shows at ``x + back(x)``;
* a pixel is *reliable* when the forward flow brings it back
  (forward-backward consistency, ``|back(x) + fwd(x + back(x))|^2 <=
  0.01 (|back|^2 + |fwd|^2) + 0.5``, as in Ruder et al., "Artistic style
  transfer for videos", 2016) and ``x + back(x)`` lies inside the frame;
  elsewhere (occlusions, frame borders) nothing is expected to match.

**Flicker** of an output sequence is the warping error: the mean absolute
difference, in grey levels (0-255), between output ``t`` and output ``t-1``
warped along ``back``, over the reliable pixels (:func:`flicker_curve`).

:class:`TemporalBlender` steadies a per-frame result: output ``t`` =
``a * m * warp(output t-1) + (1 - a * m) * result t`` with ``m`` the
reliability mask (slightly blurred) and ``a`` the blend weight, so
static and smoothly moving content keeps its texture while occluded and new
content takes the fresh result.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['optical_flow', 'warp', 'reliable_mask', 'flicker', 'flicker_curve',
           'TemporalBlender']


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


_DIS = {}


def optical_flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """DIS optical flow from ``src`` to ``dst`` (``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey).

    Returns:
        ndarray: ``(H, W, 2)`` float32 ``f`` with ``src(x) ~ dst(x + f(x))``.
    """
    dis = _DIS.get('medium')
    if dis is None:
        dis = _DIS['medium'] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    a = _grey(src) if src.ndim == 3 else src
    b = _grey(dst) if dst.ndim == 3 else dst
    return dis.calc(a, b, None)


def _grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def warp(img: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``img`` sampled at ``x + flow(x)`` (borders replicated); same dtype as ``img``.

    Args:
        img (ndarray): ``(H, W, C)`` or ``(H, W)`` image.
        flow (ndarray): ``(H, W, 2)`` float32 displacement.
        interpolation (int): OpenCV interpolation. Default: bilinear.
    """
    h, w = flow.shape[:2]
    gx, gy = _grid(h, w)
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], interpolation,
                     borderMode=cv2.BORDER_REPLICATE)


def reliable_mask(back: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """Forward-backward consistency of ``back`` (t -> t-1) and ``fwd`` (t-1 -> t).

    Returns:
        ndarray: ``(H, W)`` bool, True where the motion is trusted.
    """
    h, w = back.shape[:2]
    gx, gy = _grid(h, w)
    fwd_at = warp(fwd, back)
    total = back + fwd_at
    err = (total ** 2).sum(-1)
    mag = (back ** 2).sum(-1) + (fwd_at ** 2).sum(-1)
    tx, ty = gx + back[..., 0], gy + back[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (err <= 0.01 * mag + 0.5) & inside


def flicker(prev_out: np.ndarray, out: np.ndarray, back: np.ndarray,
            mask: np.ndarray) -> float:
    """Mean absolute difference (grey levels) of ``out`` and warped ``prev_out`` on ``mask``."""
    diff = np.abs(out.astype(np.float32) - warp(prev_out, back).astype(np.float32)).mean(-1)
    return float(diff[mask].mean()) if mask.any() else 0.0


def flicker_curve(inputs: Sequence[np.ndarray], *outputs: Sequence[np.ndarray]
                  ) -> List[List[float]]:
    """Warping error of each output sequence between consecutive frames, motion from ``inputs``.

    Args:
        inputs (list[ndarray]): Input frames ``(H, W, 3)`` uint8 RGB.
        *outputs (list[ndarray]): Output sequences of the same length and
            frame size (resize outputs of another size before).

    Returns:
        list[list[float]]: One curve per output sequence, ``len(inputs) - 1``
        values (frames 1 .. T-1).
    """
    curves: List[List[float]] = [[] for _ in outputs]
    for t in range(1, len(inputs)):
        back = optical_flow(inputs[t], inputs[t - 1])
        fwd = optical_flow(inputs[t - 1], inputs[t])
        mask = reliable_mask(back, fwd)
        for curve, seq in zip(curves, outputs):
            curve.append(flicker(seq[t - 1], seq[t], back, mask))
    return curves


class TemporalBlender:
    """Blend each per-frame result with the previous output warped along the input's motion.

    Args:
        weight (float): Blend weight ``a`` of the warped previous output on
            reliable pixels, in [0, 1). Default: 0.75.
        feather (int): Box-blur radius (pixels) softening the mask's edges.
            Default: 2.
        keep_contrast (bool): Rescale the blend to the fresh result's
            per-channel mean and standard deviation, so averaging does not
            weaken the style's contrast. Default: True.
    """

    def __init__(self, weight: float = 0.75, feather: int = 2, keep_contrast: bool = True):
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"temporal blend weight must be in [0, 1), got {weight}")
        self.weight = weight
        self.feather = feather
        self.keep_contrast = keep_contrast
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a cut, a new chunk)."""
        self._prev_in: Optional[np.ndarray] = None
        self._prev_out: Optional[np.ndarray] = None

    def __call__(self, frame: np.ndarray, result: np.ndarray) -> np.ndarray:
        """Steady ``result`` (the processed ``frame``; both ``(H, W, 3)`` uint8 RGB)."""
        prev_in, prev_out = self._prev_in, self._prev_out
        grey = _grey(frame)
        self._prev_in = grey
        if prev_in is None or prev_out is None or prev_out.shape != result.shape \
                or prev_in.shape != grey.shape:
            self._prev_out = result
            return result
        back = optical_flow(grey, prev_in)
        fwd = optical_flow(prev_in, grey)
        mask = reliable_mask(back, fwd).astype(np.float32)
        if self.feather:
            k = 2 * self.feather + 1
            mask = cv2.blur(mask, (k, k)) * mask   # soft edges, zero where unreliable
        if result.shape[:2] != grey.shape:   # an upscaled result: flow and mask at its size
            h, w = result.shape[:2]
            sy, sx = h / grey.shape[0], w / grey.shape[1]
            back = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR) * (sx, sy)
            back = back.astype(np.float32)
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        a = (self.weight * mask)[..., None]
        warped = warp(prev_out, back, cv2.INTER_CUBIC).astype(np.float32)
        fresh = result.astype(np.float32)
        out = a * warped + (1.0 - a) * fresh
        if self.keep_contrast:   # averaging lowers contrast: give back the fresh result's
            mean, std = out.mean((0, 1)), out.std((0, 1)) + 1e-6
            out = (out - mean) * (fresh.std((0, 1)) / std) + fresh.mean((0, 1))
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        self._prev_out = out
        return out
