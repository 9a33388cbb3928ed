"""Paddle Inference backend (``--backend paddle``): CPU with oneDNN, or GPU.

On CPU the oneDNN rules of :mod:`ppgan_ext.deploy.onednn` apply (the passes
that break this package's nets are deleted). Runs ``NAME.json`` (Paddle 3)
and ``NAME.pdmodel`` (Paddle 2) graphs, also PaddleGAN's own exports without
a sidecar (their scale is probed).
"""
import os
from typing import List, Optional, Sequence

import numpy as np

from ...scale_probe import probe_scale
from ..cpu import default_threads
from ..model_dir import ModelInfo, read_model_dir
from ..sidecar import SIDECAR_NAME
from ..onednn import graph_ops, onednn_passes_to_delete
from . import BasePredictor

__all__ = ['build_config', 'PaddlePredictor', 'PREDICTOR']


def build_config(model_file: str, params_file: str, device: str = 'cpu',
                 threads: Optional[int] = None, onednn: bool = True,
                 delete_passes: Optional[Sequence[str]] = None):
    """The Paddle Inference config every tool of this package uses.

    Args:
        model_file (str): ``.json`` or ``.pdmodel`` graph.
        params_file (str): ``.pdiparams`` weights.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        threads (int, optional): CPU math threads. Default: :func:`default_threads`.
        onednn (bool): Use oneDNN on CPU (with :data:`ONEDNN_WORKAROUNDS`
            applied). Default: True.
        delete_passes (list[str], optional): Delete exactly these passes
            instead of applying :data:`ONEDNN_WORKAROUNDS` (for diagnosis:
            ``[]`` runs oneDNN as Paddle ships it). Default: None.

    Returns:
        (paddle.inference.Config, list[str]): the config and the passes deleted.
    """
    from paddle import inference

    if device not in ('cpu', 'gpu'):
        raise ValueError(f"--device must be 'cpu' or 'gpu', got {device!r}")
    config = inference.Config(model_file, params_file)
    config.disable_glog_info()
    deleted: List[str] = []
    if device == 'gpu':
        import paddle

        if not paddle.is_compiled_with_cuda():
            raise ValueError("--device gpu: this PaddlePaddle is CPU-only (install "
                             "paddlepaddle-gpu from PaddlePaddle's package index)")
        config.enable_use_gpu(256, 0)
        return config, deleted
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(threads or default_threads())
    if onednn:
        config.enable_mkldnn()
        config.set_mkldnn_cache_capacity(16)  # bounded primitive cache across tile sizes
        if delete_passes is None:
            try:
                deleted = onednn_passes_to_delete(graph_ops(model_file))
            except (ValueError, OSError) as e:  # json / protobuf decode errors
                raise ValueError(f"{model_file}: unreadable model graph ({e})") from None
        else:
            deleted = list(delete_passes)
        for name in deleted:
            config.delete_pass(name)
    else:
        config.disable_mkldnn()
    return config, deleted


class PaddlePredictor(BasePredictor):
    """A Paddle Inference predictor for an exported model folder (backend ``paddle``).

    Args:
        model_dir (str or ModelInfo): Folder written by ``paddlegan export``
            (or by PaddleGAN's ``tools/export_model.py``).
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        threads (int, optional): CPU threads. Default: :func:`default_threads`.
        onednn (bool): oneDNN on CPU, with the broken passes removed. Default: True.
        shrink_memory (bool): Release Paddle's memory pool after every run
            (lower peak memory across changing input sizes, a little slower).
            Default: False.
        delete_passes (list[str], optional): See :func:`build_config`. Default: None.

    ``predictor(*arrays)`` feeds float32 NCHW arrays in the order of
    ``info.inputs`` and returns the first output as a float32 array.
    """
    backend = 'paddle'
    precision = 'fp32'

    def __init__(self, model_dir, device: str = 'cpu', threads: Optional[int] = None,
                 onednn: bool = True, shrink_memory: bool = False,
                 delete_passes: Optional[Sequence[str]] = None):
        from paddle import inference

        self.shrink_memory = shrink_memory
        self.info = model_dir if isinstance(model_dir, ModelInfo) else read_model_dir(model_dir)
        if self.info.model_file is None:
            raise ValueError(f"--backend paddle: {self.info.model_dir} holds no Paddle graph "
                             f"(formats: {', '.join(self.info.formats)}); export it with "
                             f"--format paddle or choose --backend openvino/onnxruntime")
        config, self.deleted_passes = build_config(self.info.model_file, self.info.params_file,
                                                   device, threads, onednn, delete_passes)
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as e:  # Paddle raises several types for unreadable models
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"{self.info.key} {self.info.model_dir}: Paddle Inference cannot load "
                             f"{os.path.basename(self.info.model_file)} + "
                             f"{os.path.basename(self.info.params_file)}: {first}") from None
        self.input_names = self._predictor.get_input_names()
        self.output_names = self._predictor.get_output_names()
        wanted = [i.get('name') for i in self.info.inputs]
        if all(wanted) and set(wanted) <= set(self.input_names):
            self.input_names = wanted
        if self.info.scale is None:
            self._probe()

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        self._check_count(arrays)
        for name, array in zip(self.input_names, arrays):
            handle = self._predictor.get_input_handle(name)
            array = np.ascontiguousarray(array, dtype=np.float32)
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(array)
        self._predictor.run()
        out = self._predictor.get_output_handle(self.output_names[0]).copy_to_cpu()
        if self.shrink_memory:
            self._predictor.try_shrink_memory()
        return out

    def _probe(self) -> None:
        """Measure scale and channels of a model without a sidecar (one 16x16 run)."""
        if len(self.input_names) != 1:
            raise ValueError(f"{self.info.key} {self.info.model_dir}: no {SIDECAR_NAME} and "
                             f"{len(self.input_names)} inputs; only single-input image models "
                             f"run without a sidecar")
        handle = self._predictor.get_input_handle(self.input_names[0])
        shape = list(handle.shape()) if hasattr(handle, 'shape') else []
        channels = shape[1] if len(shape) == 4 and shape[1] > 0 else 3
        self.info.scale, self.info.out_channels = probe_scale(
            self, channels, what=f'{self.info.key} {self.info.model_dir}')
        self.info.in_channels = channels
        self.info.inputs = [{'name': self.input_names[0], 'shape': [-1, channels, -1, -1]}]


PREDICTOR = PaddlePredictor
