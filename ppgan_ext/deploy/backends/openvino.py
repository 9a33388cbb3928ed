"""OpenVINO backend (``--backend openvino``): the folder's ``NAME.onnx`` on CPU, fp32 or bf16.

OpenVINO reads the ONNX graph (its Paddle front end cannot read Paddle 3's
``.json`` graphs), compiles it for the CPU plugin with dynamic shapes, a
latency hint, one stream and ``threads`` threads. The precision is always
set explicitly through ``INFERENCE_PRECISION_HINT``: on CPUs with native bf16
OpenVINO would otherwise pick bf16 by itself, so ``fp32`` is ``f32`` and
``bf16`` is ``bf16``. bf16 needs AMX or AVX-512 BF16
(:func:`ppgan_ext.deploy.cpu.native_bf16`) and OpenVINO's CPU plugin
reporting ``BF16`` in ``OPTIMIZATION_CAPABILITIES``.
"""
from typing import Optional, Union

import numpy as np

from ..cpu import default_threads
from ..model_dir import ModelInfo, read_model_dir
from . import BasePredictor, no_onnx_error

__all__ = ['OpenVINOPredictor', 'PREDICTOR', 'cpu_capabilities']

_HINTS = {'fp32': 'f32', 'bf16': 'bf16'}


def _openvino():
    """The ``openvino`` module, with its usage telemetry declined for this process.

    OpenVINO's Python package counts usage unless the user opted out: reading
    an ONNX model writes a client id and statistics under ``~/intel/`` and
    queues events for an analytics service. Nothing here reports anything
    anywhere, so the consent check answers "declined" (no file is written).
    """
    try:
        from openvino_telemetry.utils import opt_in_checker
    except ImportError:    # telemetry not installed: nothing to decline
        pass
    else:
        opt_in_checker.OptInChecker.check = \
            lambda self, *args, **kwargs: opt_in_checker.ConsentCheckResult.DECLINED
    import openvino

    return openvino


def cpu_capabilities() -> list:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU (e.g. ``['BF16', 'FP32', ...]``)."""
    return list(_openvino().Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))


class OpenVINOPredictor(BasePredictor):
    """OpenVINO CPU predictor for an exported folder.

    Args:
        model_dir (str or ModelInfo): Folder with an ONNX graph.
        precision (str): ``'fp32'`` or ``'bf16'``. Default: 'fp32'.
        threads (int, optional): Inference threads. Default:
            :func:`ppgan_ext.deploy.cpu.default_threads`.

    Raises:
        ValueError: no ONNX graph, an unknown precision, or bf16 that the
            CPU plugin does not offer.
    """
    backend = 'openvino'

    def __init__(self, model_dir: Union[str, ModelInfo], precision: str = 'fp32',
                 threads: Optional[int] = None):
        ov = _openvino()

        if precision not in _HINTS:
            raise ValueError(f"--precision must be one of {', '.join(_HINTS)}, got {precision!r}")
        self.info = model_dir if isinstance(model_dir, ModelInfo) else read_model_dir(model_dir)
        if self.info.onnx_file is None:
            raise no_onnx_error(self.info, self.backend)
        core = ov.Core()
        if precision == 'bf16' and 'BF16' not in core.get_property(
                'CPU', 'OPTIMIZATION_CAPABILITIES'):
            raise ValueError("--precision bf16: OpenVINO's CPU plugin offers no BF16 on this "
                             "CPU; use --precision fp32")
        self.precision = precision
        config = {'INFERENCE_PRECISION_HINT': _HINTS[precision], 'PERFORMANCE_HINT': 'LATENCY',
                  'NUM_STREAMS': '1', 'INFERENCE_NUM_THREADS': str(threads or default_threads())}
        try:
            model = core.read_model(self.info.onnx_file)
            self._compiled = core.compile_model(model, 'CPU', config)
        except Exception as e:  # OpenVINO raises RuntimeError with multi-line text
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"--model_dir {self.info.model_dir}: OpenVINO cannot load "
                             f"{self.info.onnx_file}: {first}") from None
        self._request = self._compiled.create_infer_request()
        names = [port.get_any_name() for port in self._compiled.inputs]
        wanted = [i.get('name') for i in self.info.inputs]
        self.input_names = wanted if all(wanted) and sorted(wanted) == sorted(names) else names
        self._output = self._compiled.outputs[0]

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        self._check_count(arrays)
        feeds = {name: np.ascontiguousarray(a, dtype=np.float32)
                 for name, a in zip(self.input_names, arrays)}
        result = self._request.infer(feeds)
        return np.array(result[self._output], dtype=np.float32, copy=True)


PREDICTOR = OpenVINOPredictor
