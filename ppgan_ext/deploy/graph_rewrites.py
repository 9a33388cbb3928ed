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

``group_norm`` (``nn.GroupNorm``, AnimeGAN's generator normalises with one
group) converts to an ONNX graph that ONNX Runtime answers with NaN; inside
:func:`onnx_convertible_ops` it is traced as reshape to ``(N, G, -1)``, mean
and biased variance over the last axis, normalise, reshape back, then the
per-channel scale and shift (the same numbers up to float rounding).

Reflection padding (``nn.Pad2D(mode='reflect')``, every 3x3 conv of the
LapStyle nets) traces in Paddle as unsqueeze -> 5-D ``pad3d`` -> squeeze, which
paddle2onnx writes as a 5-D ONNX ``Pad``. OpenVINO's CPU plugin runs that with
its reference kernel and converts the layout around each of them (two
reorders per conv); inside :func:`onnx_convertible_ops` a 4-D reflect pad is
traced as slices + concat of the mirrored rows and columns instead (the same
values), which OpenVINO keeps in the convolutions' layout.
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


def _is_int_list(values, length: int) -> bool:
    return isinstance(values, (list, tuple)) and len(values) == length and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in values)


def _reflect_pad_nchw(x, pad):
    """``F.pad(x, [left, right, top, bottom], mode='reflect')`` as slices + concat."""
    import paddle

    left, right, top, bottom = pad
    for axis, before, after in ((3, left, right), (2, top, bottom)):
        if not before and not after:
            continue
        # mirrored without the edge: index k before it, index -1-k after it
        parts = [paddle.slice(x, [axis], [k], [k + 1]) for k in range(before, 0, -1)]
        parts.append(x)
        parts += [paddle.slice(x, [axis], [-k - 1], [-k]) for k in range(1, after + 1)]
        x = paddle.concat(parts, axis=axis)
    return x


def _group_norm_nchw(x, num_groups, epsilon=1e-05, weight=None, bias=None,
                     data_format='NCHW', name=None, one_group_4d=True):
    """``F.group_norm`` of an NCHW tensor written with reshape, mean and variance.

    ``one_group_4d=False`` writes one group like several, as exports did before
    (``bench/animegan_graph_forms.py`` compares the two forms).
    """
    import paddle

    n, c = paddle.shape(x)[0], x.shape[1]
    if num_groups == 1 and one_group_4d:   # statistics over (C, H, W): OpenVINO keeps its layout
        mean = paddle.mean(x, axis=[1, 2, 3], keepdim=True)
        centred = x - mean
        var = paddle.mean(centred * centred, axis=[1, 2, 3], keepdim=True)
        out = centred / paddle.sqrt(var + epsilon)
    else:
        grouped = paddle.reshape(x, [n, num_groups, -1])
        mean = paddle.mean(grouped, axis=-1, keepdim=True)
        centred = grouped - mean
        var = paddle.mean(centred * centred, axis=-1, keepdim=True)
        out = paddle.reshape(centred / paddle.sqrt(var + epsilon), paddle.shape(x))
    if weight is not None:
        out = out * paddle.reshape(weight, [1, c, 1, 1])
    if bias is not None:
        out = out + paddle.reshape(bias, [1, c, 1, 1])
    return out


@contextlib.contextmanager
def onnx_convertible_ops() -> Iterator[None]:
    """Within the block, ``paddle.nn.functional`` resizes, ``leaky_relu`` and pads convert well.

    ``interpolate`` / ``upsample`` (and so ``nn.Upsample``): a Python-number
    (or list of numbers) ``scale_factor`` becomes a float32 tensor; ``size``
    calls and tensor factors pass through. ``leaky_relu`` (and so
    ``nn.LeakyReLU``) becomes ``where(x > 0, x, x * slope)``. ``pad`` (and so
    ``nn.Pad2D``) of a 4-D NCHW tensor in ``reflect`` mode by Python ints
    becomes slices + concat; every other pad passes through. ``group_norm``
    (and so ``nn.GroupNorm``) of an NCHW tensor with known channels becomes
    reshape / mean / variance. The original functions are restored on exit.
    """
    import paddle
    import paddle.nn.functional as F
    from paddle.nn.layer import norm as norm_layers

    originals = {name: getattr(F, name)
                 for name in ('interpolate', 'upsample', 'leaky_relu', 'pad')}

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

    def pad(x, pad, mode='constant', value=0.0, data_format='NCHW', *args, **kwargs):
        if (mode == 'reflect' and data_format == 'NCHW' and len(x.shape) == 4
                and _is_int_list(pad, 4)):
            return _reflect_pad_nchw(x, [int(p) for p in pad])
        return originals['pad'](x, pad, mode, value, data_format, *args, **kwargs)

    def group_norm(x, num_groups, epsilon=1e-05, weight=None, bias=None, data_format='NCHW',
                   name=None):
        if data_format == 'NCHW' and len(x.shape) == 4 and x.shape[1] not in (None, -1):
            return _group_norm_nchw(x, num_groups, epsilon, weight, bias)
        return group_norm_original(x, num_groups, epsilon, weight, bias, data_format, name)

    group_norm_original = norm_layers.group_norm
    try:
        norm_layers.group_norm = group_norm
        F.interpolate = resize(originals['interpolate'])
        F.upsample = resize(originals['upsample'])
        F.leaky_relu = leaky_relu
        F.pad = pad
        yield
    finally:
        norm_layers.group_norm = group_norm_original
        for name, fn in originals.items():
            setattr(F, name, fn)
