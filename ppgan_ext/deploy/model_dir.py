"""The exported model folder and its sidecar ``ppgan_ext.json``.

A folder written by ``paddlegan export`` holds one model in one or two
formats, plus the sidecar that says how to feed it:

* ``paddle``: ``NAME.json`` (Paddle 3 PIR; Paddle 2 wrote ``NAME.pdmodel``)
  and ``NAME.pdiparams``, run by Paddle Inference;
* ``onnx``: ``NAME.onnx`` (converted by paddle2onnx from the Paddle graph),
  run by ONNX Runtime or OpenVINO.

Sidecar (format ``ppgan_ext.inference/1``; the keys ``formats``,
``onnx_file`` and ``onnx_parity`` are optional, so folders exported before
ONNX existed still read)::

    {"format": "ppgan_ext.inference/1", "kind": "sr",
     "formats": ["paddle", "onnx"],
     "model_file": "basesrmodel_generator.json",
     "params_file": "basesrmodel_generator.pdiparams",
     "onnx_file": "basesrmodel_generator.onnx",
     "inputs": [{"name": "lq", "shape": [-1, 3, -1, -1]}],
     "scale": 4, "in_channels": 3, "out_channels": 3,
     "channel_order": "RGB", "value_range": [0.0, 1.0],
     "parity": {...}, "onnx_parity": {...},
     "int8": {"onnx_file": "basesrmodel_generator.int8.onnx", "quantizer": ...,
              "psnr_fp32_db": ..., "psnr_int8_db": ..., ...}, ...}

``int8`` is written by ``paddlegan quantize`` (:mod:`ppgan_ext.deploy.quantize`)
and dropped by a re-export.

``model_file`` / ``params_file`` are null in an ONNX-only folder. Folders
exported by PaddleGAN itself (no sidecar, one single-input image-to-image
Paddle graph in RGB [0, 1]) also work: the Paddle backend measures their scale
with a probe run.
"""
import json
import os
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

SIDECAR_NAME = 'ppgan_ext.json'
SIDECAR_FORMAT = 'ppgan_ext.inference/1'
GRAPH_SUFFIXES = ('.json', '.pdmodel')
PARAMS_SUFFIX = '.pdiparams'
ONNX_SUFFIX = '.onnx'
FORMATS = ('paddle', 'onnx')

__all__ = ['SIDECAR_NAME', 'SIDECAR_FORMAT', 'GRAPH_SUFFIXES', 'PARAMS_SUFFIX', 'ONNX_SUFFIX',
           'FORMATS', 'ModelInfo', 'graph_candidates', 'onnx_candidates', 'find_model_files',
           'read_model_dir', 'write_json']


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
        sidecar (dict): The sidecar as read (empty without one).
        onnx_file (str or None): The ONNX graph, when exported.
        int8_file (str or None): The int8 ONNX graph written by
            ``paddlegan quantize`` (sidecar key ``int8``), if any.
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
    sidecar: dict = field(default_factory=dict)
    onnx_file: Optional[str] = None
    int8_file: Optional[str] = None

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


def find_model_files(model_dir: str) -> Tuple[str, str]:
    """(graph file, params file) of the single Paddle model in ``model_dir``.

    Takes Paddle 3's ``NAME.json`` and Paddle 2's ``NAME.pdmodel``, each
    with its ``NAME.pdiparams``.

    Raises:
        FileNotFoundError: the folder does not exist, holds no graph, or the
            graph's ``.pdiparams`` is missing.
        ValueError: several graphs in one folder.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"--model-dir: no such folder: {model_dir}")
    graphs = graph_candidates(model_dir)
    if not graphs:
        raise FileNotFoundError(f"--model-dir {model_dir}: no model graph (NAME.json or "
                                f"NAME.pdmodel); export one with `paddlegan export`")
    if len(graphs) > 1:
        raise ValueError(f"--model-dir {model_dir}: several model graphs ({', '.join(graphs)}); "
                         f"keep one per folder")
    graph = os.path.join(model_dir, graphs[0])
    params = os.path.splitext(graph)[0] + PARAMS_SUFFIX
    if not os.path.isfile(params):
        raise FileNotFoundError(f"--model-dir {model_dir}: {os.path.basename(params)} is "
                                f"missing (weights of {graphs[0]})")
    return graph, params


def _named_file(model_dir: str, meta: dict, key: str) -> Optional[str]:
    if meta.get(key) is None:
        return None
    path = os.path.join(model_dir, os.path.basename(str(meta[key])))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--model-dir {model_dir}: {os.path.basename(path)} is "
                                f"missing (named by {SIDECAR_NAME})")
    return path


def read_model_dir(model_dir: str) -> ModelInfo:
    """Locate and check an exported model; read its sidecar when there is one.

    Raises:
        FileNotFoundError / ValueError: one line naming the folder and the
            missing or malformed file.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"--model-dir: no such folder: {model_dir}")
    sidecar_path = os.path.join(model_dir, SIDECAR_NAME)
    if not os.path.isfile(sidecar_path):
        graph, params = find_model_files(model_dir)
        return ModelInfo(model_dir, graph, params, inputs=[{'name': None, 'shape': None}])
    try:
        with open(sidecar_path, 'r', encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{sidecar_path}: unreadable sidecar ({e})") from None
    if not isinstance(meta, dict) or meta.get('format') != SIDECAR_FORMAT:
        raise ValueError(f"{sidecar_path}: not a {SIDECAR_FORMAT} sidecar")
    for key in ('model_file', 'params_file', 'inputs', 'kind'):
        if key not in meta:
            raise ValueError(f"{sidecar_path}: missing key {key!r}")
    model_file = _named_file(model_dir, meta, 'model_file')
    params_file = _named_file(model_dir, meta, 'params_file')
    onnx_file = _named_file(model_dir, meta, 'onnx_file')
    int8 = meta.get('int8')
    if int8 is not None and not (isinstance(int8, dict) and int8.get('onnx_file')):
        raise ValueError(f"{sidecar_path}: 'int8' must be a record with an 'onnx_file'")
    int8_file = _named_file(model_dir, int8, 'onnx_file') if int8 else None
    if (model_file is None) != (params_file is None):
        raise ValueError(f"{sidecar_path}: 'model_file' and 'params_file' must both be set "
                         f"or both be null")
    if model_file is None and onnx_file is None:
        raise ValueError(f"{sidecar_path}: names no model (model_file and onnx_file are null)")
    inputs = meta['inputs']
    if not isinstance(inputs, list) or not inputs or not all(
            isinstance(i, dict) and 'name' in i for i in inputs):
        raise ValueError(f"{sidecar_path}: 'inputs' must be a list of {{name, shape}}")
    order = str(meta.get('channel_order', 'RGB')).upper()
    if order not in ('RGB', 'BGR'):
        raise ValueError(f"{sidecar_path}: channel_order must be 'RGB' or 'BGR', got {order!r}")
    shape = inputs[0].get('shape') or [-1, 3, -1, -1]
    scale = meta.get('scale')
    return ModelInfo(model_dir, model_file, params_file, kind=str(meta['kind']), inputs=inputs,
                     scale=int(scale) if scale is not None else None,
                     in_channels=int(meta.get('in_channels', shape[1] if shape[1] > 0 else 3)),
                     out_channels=meta.get('out_channels'), channel_order=order,
                     value_range=tuple(meta.get('value_range', (0.0, 1.0))), sidecar=meta,
                     onnx_file=onnx_file, int8_file=int8_file)


def write_json(path: str, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    from ..utils import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=2)
            f.write('\n')

    atomic_write(path, write)
