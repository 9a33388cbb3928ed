"""Graphs that paddle2onnx converts correctly, also from nets this package does not own.

paddle2onnx 2.1.0 reads float attributes of Paddle 3 (PIR) graphs as 32-bit
floats, but PIR stores Python numbers as doubles:

* an interpolation with a Python-number ``scale_factor`` fails to convert
  ("the 0th elementwise MUST be ir::FloatAttribute");
* ``leaky_relu``'s ``negative_slope`` converts *silently wrong* (an ONNX
  ``LeakyRelu`` with alpha ~1e-35 instead of 0.2).

This package's own nets pass an output ``size`` to every resize
(:mod:`ppgan_ext.pyramid`) and use PReLU. Nets we do not own (ppgan's
``RRDBNet`` of ESRGAN has both) are traced inside :func:`onnx_convertible_ops`,
which hands ``F.interpolate`` the same factors as a float32 tensor (a graph
input of the interp op, not an attribute) and writes ``leaky_relu`` as
``where(x > 0, x, x * slope)`` (slope as a tensor). Paddle computes exactly
the same numbers either way; the export's parity checks confirm it for the
Paddle and the ONNX graph.
"""
import contextlib
import numbers
from typing import Iterator

__all__ = ['onnx_convertible_ops']


def _is_number_scale(scale) -> bool:
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        return True
    return isinstance(scale, (list, tuple)) and bool(scale) and all(
        isinstance(s, numbers.Real) and not isinstance(s, bool) for s in scale)


@contextlib.contextmanager
def onnx_convertible_ops() -> Iterator[None]:
    """Within the block, ``paddle.nn.functional`` resizes and ``leaky_relu`` trace convertibly.

    ``interpolate`` / ``upsample`` (and so ``nn.Upsample``): a Python-number
    (or list of numbers) ``scale_factor`` becomes a float32 tensor; ``size``
    calls and tensor factors pass through. ``leaky_relu`` (and so
    ``nn.LeakyReLU``) becomes ``where(x > 0, x, x * slope)``. The original
    functions are restored on exit.
    """
    import paddle
    import paddle.nn.functional as F

    originals = {name: getattr(F, name) for name in ('interpolate', 'upsample', 'leaky_relu')}

    def resize(fn):
        def call(x, size=None, scale_factor=None, *args, **kwargs):
            if size is None and _is_number_scale(scale_factor):
                factors = list(scale_factor) if isinstance(scale_factor, (list, tuple)) \
                    else [scale_factor] * (len(x.shape) - 2)
                scale_factor = paddle.to_tensor([float(s) for s in factors], dtype='float32')
            return fn(x, size, scale_factor, *args, **kwargs)
        call.__wrapped__ = fn
        return call

    def leaky_relu(x, negative_slope=0.01, name=None):
        slope = paddle.full([1], negative_slope, dtype=x.dtype)
        return paddle.where(x > 0, x, x * slope)

    try:
        F.interpolate = resize(originals['interpolate'])
        F.upsample = resize(originals['upsample'])
        F.leaky_relu = leaky_relu
        yield
    finally:
        for name, fn in originals.items():
            setattr(F, name, fn)
