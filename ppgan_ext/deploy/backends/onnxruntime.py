"""ONNX Runtime backend (``--backend onnxruntime``): the folder's ``NAME.onnx`` on CPU, fp32.

One session per predictor with the CPU execution provider, every graph
optimisation on, ``threads`` intra-op threads and sequential execution
(one image at a time). ONNX Runtime has no bf16 CPU path for these nets
(its CPU provider has no bf16 convolution kernels), so only fp32 runs here.
"""
from typing import Optional, Union

import numpy as np

from ..cpu import default_threads
from ..model_dir import ModelInfo, read_model_dir
from . import BasePredictor, no_onnx_error

__all__ = ['OnnxRuntimePredictor', 'PREDICTOR']


class OnnxRuntimePredictor(BasePredictor):
    """ONNX Runtime predictor for an exported folder.

    Args:
        model_dir (str or ModelInfo): Folder with an ONNX graph.
        precision (str): ``'fp32'`` only. Default: 'fp32'.
        threads (int, optional): Intra-op threads. Default:
            :func:`ppgan_ext.deploy.cpu.default_threads`.
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
        try:
            self._session = ort.InferenceSession(self.info.onnx_file, options,
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
