"""The exported model folder and its sidecar ``ppgan_ext.json``.

A folder written by ``paddlegan export`` holds one model in one or two
formats, plus the sidecar that says how to feed it:

* ``paddle``: ``NAME.json`` (Paddle 3 PIR; Paddle 2 wrote ``NAME.pdmodel``)
  and ``NAME.pdiparams``, run by Paddle Inference;
* ``onnx``: ``NAME.onnx`` (converted by paddle2onnx from the Paddle graph),
  run by ONNX Runtime or OpenVINO.

The sidecar's schema, reader and writer are :mod:`ppgan_ext.deploy.sidecar`;
``int8`` is written by ``paddlegan quantize`` (:mod:`ppgan_ext.deploy.quantize`)
and dropped by a re-export.

``model_file`` / ``params_file`` are null in an ONNX-only folder. Folders
exported by PaddleGAN itself (no sidecar, one single-input image-to-image
Paddle graph in RGB [0, 1]) also work: the Paddle backend measures their scale
with a probe run.
"""
import os
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .sidecar import FORMATS, SIDECAR_NAME, Sidecar, read_sidecar

GRAPH_SUFFIXES = ('.json', '.pdmodel')
PARAMS_SUFFIX = '.pdiparams'
ONNX_SUFFIX = '.onnx'

__all__ = ['GRAPH_SUFFIXES', 'PARAMS_SUFFIX', 'ONNX_SUFFIX', 'FORMATS', 'ModelInfo',
           'graph_candidates', 'onnx_candidates', 'find_model_files', 'read_model_dir']


@dataclass
class ModelInfo:
    """What :func:`read_model_dir` learns about an exported model folder.

    Attributes:
        model_dir (str): The folder.
        model_file (str or None): Paddle graph (``.json`` or ``.pdmodel``);
            None in an ONNX-only folder.
        params_file (str or None): Paddle weights (``.pdiparams``).
        kind (str): ``'sr'`` (one image in, one image out, ``scale`` times
            larger) or another kind an exporter declared (e.g. ``'stylize'``).
        inputs (list[dict]): ``{'name', 'shape'}`` per input, in feed order;
            ``-1`` marks a dynamic dimension.
        scale (int or None): Output / input size ratio (None until probed
            for folders without a sidecar).
        in_channels (int): Channels of the (first) image input.
        out_channels (int or None): Channels of the output.
        channel_order (str): ``'RGB'`` or ``'BGR'``, order of colour channels
            in the tensors.
        value_range (tuple[float, float]): Pixel range of the tensors.
        sidecar (Sidecar): The sidecar as read (all defaults without one;
            ``sidecar.get(key)`` reads a field or a kept unknown key).
        onnx_file (str or None): The ONNX graph, when exported.
        int8_file (str or None): The int8 ONNX graph written by
            ``paddlegan quantize`` (sidecar key ``int8``), if any.
        key (str): What gave the folder (a flag or an option), named in the
            errors of the predictors that run it. Default: '--model-dir'.
    """
    model_dir: str
    model_file: Optional[str]
    params_file: Optional[str]
    kind: str = 'sr'
    inputs: List[dict] = field(default_factory=list)
    scale: Optional[int] = None
    in_channels: int = 3
    out_channels: Optional[int] = None
    channel_order: str = 'RGB'
    value_range: Tuple[float, float] = (0.0, 1.0)
    sidecar: Sidecar = field(default_factory=Sidecar)
    onnx_file: Optional[str] = None
    int8_file: Optional[str] = None
    key: str = '--model-dir'

    @property
    def formats(self) -> List[str]:
        """The formats present: a subset of :data:`FORMATS`, in that order."""
        return [name for name, path in (('paddle', self.model_file), ('onnx', self.onnx_file))
                if path]


def _files_with(model_dir: str, suffixes: Tuple[str, ...]) -> List[str]:
    return sorted(n for n in os.listdir(model_dir)
                  if n.endswith(suffixes) and n != SIDECAR_NAME
                  and os.path.isfile(os.path.join(model_dir, n)))


def graph_candidates(model_dir: str) -> List[str]:
    """Names of the Paddle graph files (``.json``, ``.pdmodel``) in ``model_dir``."""
    return _files_with(model_dir, GRAPH_SUFFIXES)


def onnx_candidates(model_dir: str) -> List[str]:
    """Names of the ONNX files in ``model_dir``."""
    return _files_with(model_dir, (ONNX_SUFFIX,))


def find_model_files(model_dir: str, key: str = '--model-dir') -> Tuple[str, str]:
    """(graph file, params file) of the single Paddle model in ``model_dir``.

    Takes Paddle 3's ``NAME.json`` and Paddle 2's ``NAME.pdmodel``, each
    with its ``NAME.pdiparams``.

    Raises:
        FileNotFoundError: the folder does not exist, holds no graph, or the
            graph's ``.pdiparams`` is missing.
        ValueError: several graphs in one folder.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"{key}: no such folder: {model_dir}")
    graphs = graph_candidates(model_dir)
    if not graphs:
        raise FileNotFoundError(f"{key} {model_dir}: no model graph (NAME.json or "
                                f"NAME.pdmodel); export one with `paddlegan export`")
    if len(graphs) > 1:
        raise ValueError(f"{key} {model_dir}: several model graphs ({', '.join(graphs)}); "
                         f"keep one per folder")
    graph = os.path.join(model_dir, graphs[0])
    params = os.path.splitext(graph)[0] + PARAMS_SUFFIX
    if not os.path.isfile(params):
        raise FileNotFoundError(f"{key} {model_dir}: {os.path.basename(params)} is "
                                f"missing (weights of {graphs[0]})")
    return graph, params


def _named_file(model_dir: str, name: Optional[str], key: str) -> Optional[str]:
    if name is None:
        return None
    path = os.path.join(model_dir, os.path.basename(str(name)))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{key} {model_dir}: {os.path.basename(path)} is "
                                f"missing (named by {SIDECAR_NAME})")
    return path


def read_model_dir(model_dir: str, key: str = '--model-dir') -> ModelInfo:
    """Locate and check an exported model; read its sidecar when there is one.

    Args:
        model_dir (str): The folder.
        key (str): What gave the folder (a flag or an option), named in the errors.
            Default: '--model-dir'.

    Raises:
        FileNotFoundError / ValueError: one line naming ``key``, the folder and the
            missing or malformed file.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"{key}: no such folder: {model_dir}")
    meta = read_sidecar(model_dir)
    if meta is None:
        graph, params = find_model_files(model_dir, key)
        return ModelInfo(model_dir, graph, params, inputs=[{'name': None, 'shape': None}],
                         key=key)
    shape = meta.inputs[0].get('shape') or [-1, 3, -1, -1]
    in_channels = meta.in_channels if meta.in_channels is not None else \
        (shape[1] if shape[1] > 0 else 3)
    return ModelInfo(model_dir, _named_file(model_dir, meta.model_file, key),
                     _named_file(model_dir, meta.params_file, key), kind=meta.kind,
                     inputs=meta.inputs, scale=meta.scale, in_channels=in_channels,
                     out_channels=meta.out_channels, channel_order=meta.channel_order,
                     value_range=meta.value_range, sidecar=meta,
                     onnx_file=_named_file(model_dir, meta.onnx_file, key),
                     int8_file=_named_file(model_dir, (meta.int8 or {}).get('onnx_file'), key),
                     key=key)
