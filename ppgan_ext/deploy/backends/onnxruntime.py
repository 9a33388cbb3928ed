"""ONNX Runtime backend (``--backend onnxruntime``): the folder's ``NAME.onnx`` on CPU, fp32.

One session per predictor with the CPU execution provider, every graph
optimisation on, ``threads`` intra-op threads and sequential execution
(one image at a time). ONNX Runtime has no bf16 CPU path for these nets
(its CPU provider has no bf16 convolution kernels), so only fp32 runs here.

Graphs with transposed convolutions (the SR nets' upsamplers) run rewritten
as sub-pixel convolutions (:mod:`ppgan_ext.deploy.subpixel`: the same
function in less than half the memory on the demo net at 256x256; as fast
as the exported graph on a quiet 2-core machine, up to 2.2x faster under
load, docs/startup_int8.md). The rewritten graph is made once and kept beside the model
(``MODEL_DIR/onnxruntime_cache/<graph version>/``, or
``~/.cache/ppgan_ext/onnxruntime/`` when the folder is not writable), the
way OpenVINO's compiled blobs are (:mod:`ppgan_ext.deploy.graph_cache`): a
re-export makes a new one. ``PPGAN_EXT_ONNXRUNTIME_CACHE=DIR`` puts it
elsewhere, ``=off`` rewrites in memory on every run;
``PPGAN_EXT_ONNXRUNTIME_REWRITE=off`` runs the exported graph as it is.
"""
import os
from typing import Optional, Union

import numpy as np

from ..cpu import default_threads
from ..graph_cache import cache_root, graph_version, versioned_cache
from ..model_dir import ModelInfo, read_model_dir
from . import BasePredictor, no_onnx_error

__all__ = ['OnnxRuntimePredictor', 'PREDICTOR', 'CACHE_DIR_NAME', 'CACHE_ENV', 'REWRITE_ENV',
           'rewritten_graph']

CACHE_DIR_NAME = 'onnxruntime_cache'
CACHE_ENV = 'PPGAN_EXT_ONNXRUNTIME_CACHE'
REWRITE_ENV = 'PPGAN_EXT_ONNXRUNTIME_REWRITE'
# written instead of a graph when the exported one has nothing to rewrite
_UNCHANGED = 'unchanged'


def rewritten_graph(info: ModelInfo, graph: str):
    """What ONNX Runtime loads for ``graph``: a file path, or serialized bytes.

    The cached sub-pixel rewrite when there is one (made on the first call),
    ``graph`` itself when it has nothing to rewrite, rewriting is off
    (``$PPGAN_EXT_ONNXRUNTIME_REWRITE``), ``onnx`` is not installed or the
    rewrite fails; the rewritten model's bytes when the cache is off or
    cannot be written.
    """
    if os.environ.get(REWRITE_ENV, '').strip().lower() in ('0', 'off', 'no', 'false'):
        return graph
    base = cache_root(info.model_dir, CACHE_DIR_NAME, CACHE_ENV, 'onnxruntime')
    folder = None
    if base is not None:
        try:
            current = {graph_version(f) for f in (info.onnx_file, info.int8_file) if f}
            folder = versioned_cache(base, graph, current)
        except OSError:
            folder = None
    if folder is not None:
        target = os.path.join(folder, os.path.basename(graph))
        if os.path.isfile(target):
            return target
        if os.path.isfile(os.path.join(folder, _UNCHANGED)):
            return graph
    try:
        import onnx

        from ..subpixel import rewrite_model

        model = onnx.load(graph)
        if not rewrite_model(model):
            if folder is not None:
                _write_marker(folder)
            return graph
    except Exception:   # no onnx package, or a graph the rewrite does not handle: as exported
        return graph
    if folder is not None:
        try:
            from ...utils import atomic_write

            os.makedirs(folder, exist_ok=True)
            atomic_write(target, lambda tmp: onnx.save(model, tmp))
            return target
        except OSError:
            pass
    return model.SerializeToString()


def _write_marker(folder: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, _UNCHANGED), 'w') as f:
            f.write('the exported graph has nothing to rewrite for ONNX Runtime\n')
    except OSError:
        pass


class OnnxRuntimePredictor(BasePredictor):
    """ONNX Runtime predictor for an exported folder.

    Args:
        model_dir (str or ModelInfo): Folder with an ONNX graph.
        precision (str): ``'fp32'`` only. Default: 'fp32'.
        threads (int, optional): Intra-op threads. Default:
            :func:`ppgan_ext.deploy.cpu.default_threads`.

    Attributes:
        graph (str or bytes): What the session loaded (see :func:`rewritten_graph`).
        rewritten (bool): The sub-pixel rewrite of the graph runs.
    """
    backend = 'onnxruntime'

    def __init__(self, model_dir: Union[str, ModelInfo], precision: str = 'fp32',
                 threads: Optional[int] = None):
        import onnxruntime as ort

        if precision != 'fp32':
            raise ValueError(f"--precision {precision}: the onnxruntime backend runs fp32 only")
        self.info = model_dir if isinstance(model_dir, ModelInfo) else read_model_dir(model_dir)
        if self.info.onnx_file is None:
            raise no_onnx_error(self.info, self.backend)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # idle threads sleep instead of spinning: on a 2-core machine shared with other work a
        # one-photo run of the demo net was 13 % faster and used 11 % less CPU (the graph's
        # ops last milliseconds, so waking a thread costs nothing that shows)
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        self.graph = rewritten_graph(self.info, self.info.onnx_file)
        if self.graph != self.info.onnx_file:
            try:
                self._session = ort.InferenceSession(self.graph, options,
                                                     providers=['CPUExecutionProvider'])
            except Exception:   # e.g. a damaged cache file: the exported graph instead
                self.graph = self.info.onnx_file
        self.rewritten = self.graph != self.info.onnx_file
        try:
            if not self.rewritten:
                self._session = ort.InferenceSession(self.graph, options,
                                                     providers=['CPUExecutionProvider'])
        except Exception as e:  # ONNX Runtime raises its own exception types
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"{self.info.key} {self.info.model_dir}: ONNX Runtime cannot load "
                             f"{self.info.onnx_file}: {first}") from None
        self.input_names = [i.name for i in self._session.get_inputs()]
        wanted = [i.get('name') for i in self.info.inputs]
        if all(wanted) and sorted(wanted) == sorted(self.input_names):
            self.input_names = wanted
        self._output = self._session.get_outputs()[0].name

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        self._check_count(arrays)
        feeds = {name: np.ascontiguousarray(a, dtype=np.float32)
                 for name, a in zip(self.input_names, arrays)}
        return self._session.run([self._output], feeds)[0]


PREDICTOR = OnnxRuntimePredictor
