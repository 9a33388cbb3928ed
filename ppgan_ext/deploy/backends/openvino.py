"""OpenVINO backend (``--backend openvino``): the folder's ``NAME.onnx`` on CPU, fp32 or bf16.

OpenVINO reads the ONNX graph (its Paddle front end cannot read Paddle 3's
``.json`` graphs), compiles it for the CPU plugin with dynamic shapes, a
latency hint, one stream and ``threads`` threads. The precision is always
set explicitly through ``INFERENCE_PRECISION_HINT``: on CPUs with native bf16
OpenVINO would otherwise pick bf16 by itself, so ``fp32`` is ``f32`` and
``bf16`` is ``bf16``. bf16 needs AMX or AVX-512 BF16
(:func:`ppgan_ext.deploy.cpu.native_bf16`) and OpenVINO's CPU plugin
reporting ``BF16`` in ``OPTIMIZATION_CAPABILITIES``.

Compiled-model cache: compiling a graph for the CPU costs more than running
it once on a small photo, so the compiled blob is kept (OpenVINO's
``CACHE_DIR``) in ``MODEL_DIR/openvino_cache/``, or, when the model folder
is not writable, in ``~/.cache/ppgan_ext/openvino/<folder hash>/``. A later
run with the same graph, precision and threads loads the blob instead of
compiling (``predictor.loaded_from_cache``). Blobs live in one subfolder per
graph file version (its size, modification time and inode: ``paddlegan
export`` replaces files by rename, so a re-export always gets a new
subfolder and compiles again); subfolders of versions no longer in the
folder are removed. ``PPGAN_EXT_OPENVINO_CACHE`` names another cache folder,
or ``off`` disables the cache.
"""
import os
from typing import Optional, Union

import numpy as np

from ..cpu import default_threads
from ..graph_cache import cache_root, graph_version, versioned_cache
from ..model_dir import ModelInfo, read_model_dir
from . import BasePredictor, no_onnx_error

__all__ = ['OpenVINOPredictor', 'PREDICTOR', 'cpu_capabilities', 'cache_dir_for', 'graph_version',
           'CACHE_DIR_NAME', 'CACHE_ENV']

# int8: the quantized graph's int8 ops run in int8, the rest in f32 (bf16 for the rest
# measured no faster on the AMX Xeon)
_HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'int8': 'f32'}
CACHE_DIR_NAME = 'openvino_cache'
CACHE_ENV = 'PPGAN_EXT_OPENVINO_CACHE'


def cache_dir_for(model_dir: str) -> Optional[str]:
    """The compiled-blob cache folder of a model folder (None: caching off).

    ``$PPGAN_EXT_OPENVINO_CACHE`` if set (``off``/``0``/empty: None); else
    ``MODEL_DIR/openvino_cache`` when the model folder is writable; else a
    folder per model under ``~/.cache/ppgan_ext/openvino``.
    """
    return cache_root(model_dir, CACHE_DIR_NAME, CACHE_ENV, 'openvino')


def openvino_module():
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
    return list(openvino_module().Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))


class OpenVINOPredictor(BasePredictor):
    """OpenVINO CPU predictor for an exported folder.

    Args:
        model_dir (str or ModelInfo): Folder with an ONNX graph.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'int8'`` (the folder's
            ``NAME.int8.onnx``). Default: 'fp32'.
        threads (int, optional): Inference threads. Default:
            :func:`ppgan_ext.deploy.cpu.default_threads`.
        graph_file (str, optional): Run this ONNX file instead of the
            folder's (used to check a graph before it is installed).

    Attributes:
        cache_dir (str or None): Compiled-blob cache folder of this graph
            version (under :func:`cache_dir_for`); None when caching is off or
            the folder cannot be created.
        loaded_from_cache (bool): The compiled model came from the cache
            (nothing was compiled).

    Raises:
        ValueError: no ONNX graph, an unknown precision, or bf16 that the
            CPU plugin does not offer.
    """
    backend = 'openvino'

    def __init__(self, model_dir: Union[str, ModelInfo], precision: str = 'fp32',
                 threads: Optional[int] = None, graph_file: Optional[str] = None):
        ov = openvino_module()

        if precision not in _HINTS:
            raise ValueError(f"--precision must be one of {', '.join(_HINTS)}, got {precision!r}")
        self.info = model_dir if isinstance(model_dir, ModelInfo) else read_model_dir(model_dir)
        if self.info.onnx_file is None:
            raise no_onnx_error(self.info, self.backend)
        graph = graph_file or (self.info.int8_file if precision == 'int8' else self.info.onnx_file)
        if graph is None:
            raise ValueError(f"--precision int8: {self.info.model_dir} holds no int8 graph "
                             f"(paddlegan quantize)")
        core = ov.Core()
        if precision == 'bf16' and 'BF16' not in core.get_property(
                'CPU', 'OPTIMIZATION_CAPABILITIES'):
            raise ValueError("--precision bf16: OpenVINO's CPU plugin offers no BF16 on this "
                             "CPU; use --precision fp32")
        self.precision = precision
        config = {'INFERENCE_PRECISION_HINT': _HINTS[precision], 'PERFORMANCE_HINT': 'LATENCY',
                  'NUM_STREAMS': '1', 'INFERENCE_NUM_THREADS': str(threads or default_threads())}
        self.cache_dir = None if graph_file else cache_dir_for(self.info.model_dir)
        if self.cache_dir is not None:
            try:
                current = {graph_version(f) for f in (self.info.onnx_file, self.info.int8_file)
                           if f}
                self.cache_dir = versioned_cache(self.cache_dir, graph, current)
                os.makedirs(self.cache_dir, exist_ok=True)
                config['CACHE_DIR'] = self.cache_dir
            except OSError:   # read-only home or model folder: compile every time
                self.cache_dir = None
        try:   # a file path lets OpenVINO skip reading the graph on a cache hit
            self._compiled = core.compile_model(graph, 'CPU', config)
        except Exception as e:  # OpenVINO raises RuntimeError with multi-line text
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"{self.info.key} {self.info.model_dir}: OpenVINO cannot load "
                             f"{graph}: {first}") from None
        self.loaded_from_cache = bool(self.cache_dir) and bool(
            self._compiled.get_property('LOADED_FROM_CACHE'))
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
