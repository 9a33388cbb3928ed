"""Parity of a saved model with the dynamic graph: reference runs, the check, sizes."""
import math
from typing import List, Sequence, Tuple

import numpy as np

from .export_spec import ExportSpec

__all__ = ['PARITY_ATOL', 'DEFAULT_PARITY_SIZES', 'ParityError', 'reference_cases',
           'check_parity', 'parse_sizes']

PARITY_ATOL = 1e-4
DEFAULT_PARITY_SIZES: Tuple[Tuple[int, int], ...] = ((32, 32), (47, 33), (64, 72))


class ParityError(ValueError):
    """The saved model's output differs from the dynamic graph's beyond tolerance."""


def parse_sizes(text) -> List[Tuple[int, int]]:
    """``"32x32,47x33"`` or ``[[32, 32], [47, 33]]`` -> [(H, W), ...]."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(',')
    sizes = []
    for item in items:
        try:
            h, w = (item.lower().split('x') if isinstance(item, str) else item)
            sizes.append((int(h), int(w)))
        except (ValueError, TypeError):
            raise ValueError(f"parity sizes: {item!r} is not HxW") from None
        if sizes[-1][0] < 1 or sizes[-1][1] < 1:
            raise ValueError(f"parity sizes: {item!r} must be positive")
    if not sizes:
        raise ValueError("parity sizes: none given")
    return sizes


def reference_cases(spec: ExportSpec, sizes: Sequence[Tuple[int, int]]):
    """``((H, W), inputs, dynamic-graph output)`` per size; inputs from ``spec`` (seed 0)."""
    import paddle

    rng = np.random.default_rng(0)
    cases = []
    with paddle.no_grad():
        for h, w in sizes:
            inputs = spec.inputs_for(rng, h, w)
            out = spec.layer(*[paddle.to_tensor(a) for a in inputs])
            cases.append(((h, w), inputs, np.asarray(out.numpy(), np.float32)))
    return cases


_RUNTIME_NAMES = {'paddle': 'Paddle Inference', 'onnxruntime': 'ONNX Runtime',
                  'openvino': 'OpenVINO'}


def check_parity(model_dir: str, cases, atol: float = PARITY_ATOL, backend: str = 'paddle'):
    """Max |saved model - dynamic graph| per case; raises :class:`ParityError` above ``atol``.

    Args:
        model_dir (str): Exported folder (with sidecar).
        cases (list): ``((H, W), inputs, reference_output)`` triples.
        atol (float): Tolerance. Default: 1e-4.
        backend (str): Runtime of the check: ``'paddle'`` (the Paddle graph,
            Paddle Inference with this package's oneDNN rules) or
            ``'onnxruntime'`` (the ONNX graph). Default: 'paddle'.

    Returns:
        (list[((H, W), float)], list[str]): differences, oneDNN passes deleted.
    """
    from .backends import create_predictor

    predictor = create_predictor(model_dir, backend, threads=None)
    runtime = _RUNTIME_NAMES[backend]
    diffs, peak = [], 0.0
    for size, inputs, ref in cases:
        out = predictor(*inputs)
        if out.shape != ref.shape:
            raise ParityError(f"parity check failed at {size[0]}x{size[1]}: {runtime} "
                              f"gave shape {out.shape}, the dynamic graph {ref.shape}")
        diff = float(np.max(np.abs(out.astype(np.float64) - ref))) if ref.size else 0.0
        if not math.isfinite(diff):
            diff = math.inf
        diffs.append((size, diff))
        peak = max(peak, float(np.max(np.abs(ref))) if ref.size else 0.0)
    worst = max(diffs, key=lambda d: d[1])
    if worst[1] > atol:
        raise ParityError(f"parity check failed: max |{runtime} - dynamic graph| = "
                          f"{worst[1]:.3g} > {atol:g} at {worst[0][0]}x{worst[0][1]} "
                          f"(dynamic-graph outputs reach {peak:.3g}; the limit assumes "
                          f"images in about [0, 1])")
    return diffs, list(predictor.deleted_passes)
