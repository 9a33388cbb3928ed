"""Deployment of trained ppgan-ext / PaddleGAN models: export, backends, predictors.

Data flows one way: config -> model -> :mod:`.export` (graphs + sidecar) ->
:mod:`.backends` (predictors) -> :mod:`ppgan_ext.apps.infer` (``paddlegan infer``).
Model code never imports this package.

========================= ==================================================
module                    concern
========================= ==================================================
:mod:`.model_dir`         the exported folder: its files, read as ``ModelInfo``
:mod:`.sidecar`           ``ppgan_ext.json``: the typed schema, its reader and writer
:mod:`.export`            ``export_model``: to_static, formats, install
:mod:`.export_spec`       ``ExportSpec`` and the exporter registry
:mod:`.parity`            saved model vs dynamic graph
:mod:`.exporters`         one exporter per model kind (SR, LapStyle pyramid)
:mod:`.onnx_convert`      Paddle graph -> ONNX with paddle2onnx
:mod:`.graph_rewrites`    tracing third-party nets so that they convert
:mod:`.backends`          predictor interface; ``paddle``, ``onnxruntime``,
                          ``openvino`` modules; default-backend rule
:mod:`.subpixel`          transposed convs as sub-pixel convs (ONNX Runtime)
:mod:`.graph_cache`       where backends keep what they derive from a graph
:mod:`.quantize`          ``paddlegan quantize``: NNCF int8 and its guard
:mod:`.onednn`            Paddle Inference's oneDNN passes this package deletes
:mod:`.cpu`               threads, native bf16 detection
:mod:`.metrics`           Paddle-free PSNR/SSIM (ppgan's numbers), table, CSV
========================= ==================================================
"""
from .backends import BACKENDS, PRECISIONS, create_predictor  # noqa: F401
from .model_dir import ModelInfo, read_model_dir  # noqa: F401
