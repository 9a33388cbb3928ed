"""Names of the former ``ppgan_ext.inference`` module, kept importable.

Deployment lives in :mod:`ppgan_ext.deploy`; image reading/writing in
:mod:`ppgan_ext.image_io`. ``Predictor`` here is the Paddle Inference
predictor; :func:`ppgan_ext.deploy.create_predictor` picks any backend.
"""
from .deploy.backends.paddle import PaddlePredictor as Predictor  # noqa: F401
from .deploy.backends.paddle import build_config  # noqa: F401
from .deploy.cpu import default_threads  # noqa: F401
from .deploy.folder_job import (InferResult, find_gt, infer, plan_outputs,  # noqa: F401
                                summarize)
from .deploy.metrics import image_metrics, metrics_table, write_metrics_csv  # noqa: F401
from .deploy.model_dir import (GRAPH_SUFFIXES, PARAMS_SUFFIX, SIDECAR_FORMAT,  # noqa: F401
                               SIDECAR_NAME, ModelInfo, find_model_files, read_model_dir)
from .deploy.onednn import ONEDNN_WORKAROUNDS, graph_ops, onednn_passes_to_delete  # noqa: F401
from .image_io import read_input, read_uint8_rgb, write_png  # noqa: F401
