"""The sidecar ``ppgan_ext.json`` of an exported model folder: its schema, reader and writer.

One typed record (:class:`Sidecar`) is written by ``paddlegan export``
(:mod:`ppgan_ext.deploy.export`, with the entries its exporter declares in
``ExportSpec.meta``), extended by ``paddlegan quantize`` (``int8``) and read by
:func:`ppgan_ext.deploy.model_dir.read_model_dir`. Format ``ppgan_ext.inference/1``::

    {"format": "ppgan_ext.inference/1", "kind": "sr",
     "formats": ["paddle", "onnx"],
     "model_file": "basesrmodel_generator.json",
     "params_file": "basesrmodel_generator.pdiparams",
     "onnx_file": "basesrmodel_generator.onnx",
     "inputs": [{"name": "lq", "shape": [-1, 3, -1, -1]}],
     "scale": 4, "in_channels": 3, "out_channels": 3,
     "channel_order": "RGB", "value_range": [0.0, 1.0],
     "parity": {...}, "onnx_parity": {...},
     "int8": {"onnx_file": "basesrmodel_generator.int8.onnx", "quantizer": ...}, ...}

``formats``, ``onnx_file`` and the parity records are optional (folders
exported before ONNX existed still read). Keys this version does not know are
kept in :attr:`Sidecar.extra` and written back unchanged, so a folder written
by a newer version survives a ``paddlegan quantize`` of this one. A key of the
wrong type is one ``ValueError`` naming the file and the key.
"""
import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

SIDECAR_NAME = 'ppgan_ext.json'
SIDECAR_FORMAT = 'ppgan_ext.inference/1'
FORMATS = ('paddle', 'onnx')

__all__ = ['SIDECAR_NAME', 'SIDECAR_FORMAT', 'FORMATS', 'Sidecar', 'read_sidecar',
           'write_sidecar', 'write_json']


@dataclass
class Sidecar:
    """The sidecar of an exported model folder.

    Attributes:
        kind (str): ``'sr'`` (one image in, ``scale`` times larger out) or
            another kind an exporter declared (``'stylize'``).
        model_file (str or None): Paddle graph file name (null in an ONNX-only folder).
        params_file (str or None): Paddle weights file name.
        inputs (list[dict]): ``{'name', 'shape'}`` per input, in feed order
            (``-1``: dynamic).
        formats (list[str]): Formats written, a subset of ``('paddle', 'onnx')``.
        onnx_file (str or None): ONNX graph file name.
        scale (int or None): Output / input size ratio.
        in_channels (int or None): Channels of the first input.
        out_channels (int or None): Channels of the output.
        channel_order (str): ``'RGB'`` or ``'BGR'``. Default: 'RGB'.
        value_range (tuple[float, float]): Pixel range of the tensors. Default: (0, 1).
        model (str or None): The config's ``model.name``.
        net, net_class, levels, stage, semantics, graph_nets, style_min_side,
        content_multiple, upscale, generator_class, zoo_model, pad_multiple, pipeline:
            What the exporters declare (``ExportSpec.meta``): the exported net and
            its class, a LapStyle pyramid's revision levels, training stage,
            semantics, the nets in its graph, the least style side and the content
            multiple, the fused upscaler's scale and class, a named model's registry
            name, padding multiple and pipeline. None when not declared.
        config, weights (str or None): Absolute paths the export read.
        parity, onnx_parity (dict or None): Parity checks against the dynamic graph.
        onnx_opset (int or None): ONNX opset of the conversion.
        paddle_version, ppgan_ext_version (str or None): Versions that exported it.
        int8 (dict or None): ``paddlegan quantize``'s record (``onnx_file``, ...).
        extra (dict): Keys this version does not know, kept as read.
    """
    kind: str = 'sr'
    model_file: Optional[str] = None
    params_file: Optional[str] = None
    inputs: List[dict] = field(default_factory=list)
    formats: Optional[List[str]] = None
    onnx_file: Optional[str] = None
    scale: Optional[int] = None
    in_channels: Optional[int] = None
    out_channels: Optional[int] = None
    channel_order: str = 'RGB'
    value_range: Tuple[float, float] = (0.0, 1.0)
    model: Optional[str] = None
    net: Optional[str] = None
    net_class: Optional[str] = None
    levels: Optional[int] = None
    stage: Optional[str] = None
    semantics: Optional[str] = None
    graph_nets: Optional[List[str]] = None
    style_min_side: Optional[int] = None
    content_multiple: Optional[int] = None
    upscale: Optional[int] = None
    generator_class: Optional[str] = None
    zoo_model: Optional[str] = None
    pad_multiple: Optional[int] = None
    pipeline: Optional[str] = None
    config: Optional[str] = None
    weights: Optional[str] = None
    parity: Optional[dict] = None
    onnx_parity: Optional[dict] = None
    onnx_opset: Optional[int] = None
    paddle_version: Optional[str] = None
    ppgan_ext_version: Optional[str] = None
    int8: Optional[dict] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    # written even when null (readers of older versions expect them)
    _ALWAYS = ('kind', 'formats', 'model_file', 'params_file', 'onnx_file', 'inputs', 'scale',
               'in_channels', 'out_channels', 'channel_order', 'value_range', 'model')
    _RUN = ('config', 'weights', 'parity', 'onnx_parity', 'onnx_opset', 'paddle_version',
            'ppgan_ext_version')

    def get(self, key: str, default=None):
        """The entry ``key`` (a field, or a kept unknown key); ``default`` when unset."""
        if key in self.extra:
            return self.extra[key]
        value = getattr(self, key, None) if key in _field_types() else None
        return default if value is None else value

    def __getitem__(self, key: str):
        """``sidecar[key]``, as on the JSON object (KeyError when unset)."""
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def to_dict(self) -> dict:
        """The JSON object written to ``ppgan_ext.json``."""
        values = {f: getattr(self, f) for f in _field_types()}
        values['value_range'] = list(self.value_range)
        data = {'format': SIDECAR_FORMAT}
        data.update((k, values[k]) for k in self._ALWAYS)
        data.update((k, v) for k, v in values.items()
                    if k not in self._ALWAYS + self._RUN + ('int8',) and v is not None)
        data.update((k, values[k]) for k in self._RUN)
        if self.int8 is not None:
            data['int8'] = self.int8
        data.update((k, v) for k, v in self.extra.items() if k not in data)
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = SIDECAR_NAME) -> 'Sidecar':
        """Check and type ``data``; unknown keys go to :attr:`extra`.

        Args:
            data (dict): A sidecar as JSON-decoded, or the entries to write.
            source (str): The file, for the messages. Default: ``'ppgan_ext.json'``.

        Raises:
            ValueError: ``<source>: <key>: ...`` for a missing or mistyped entry.
        """
        if not isinstance(data, dict) or data.get('format') != SIDECAR_FORMAT:
            raise ValueError(f"{source}: not a {SIDECAR_FORMAT} sidecar")
        for key in ('model_file', 'params_file', 'inputs', 'kind'):
            if key not in data:
                raise ValueError(f"{source}: missing key {key!r}")
        types = _field_types()
        known = {k: v for k, v in data.items() if k in types and k != 'extra'}
        extra = {k: v for k, v in data.items() if k not in types and k != 'format'}
        for key, value in known.items():
            _check(source, key, value, types[key])
        known = {k: v for k, v in known.items() if v is not None or k in ('model_file',
                                                                        'params_file')}
        if 'value_range' in known:
            if len(known['value_range']) != 2:
                raise ValueError(f"{source}: value_range: expected [low, high], "
                                 f"got {known['value_range']!r}")
            known['value_range'] = tuple(float(v) for v in known['value_range'])
        sidecar = cls(**known, extra=extra)
        sidecar.channel_order = sidecar.channel_order.upper()
        if sidecar.channel_order not in ('RGB', 'BGR'):
            raise ValueError(f"{source}: channel_order must be 'RGB' or 'BGR', "
                             f"got {data.get('channel_order')!r}")
        if not sidecar.inputs or not all(isinstance(i, dict) and 'name' in i
                                         for i in sidecar.inputs):
            raise ValueError(f"{source}: inputs: must be a list of {{name, shape}}")
        if sidecar.int8 is not None and not sidecar.int8.get('onnx_file'):
            raise ValueError(f"{source}: int8: must be a record with an 'onnx_file'")
        if (sidecar.model_file is None) != (sidecar.params_file is None):
            raise ValueError(f"{source}: 'model_file' and 'params_file' must both be set "
                             f"or both be null")
        if sidecar.model_file is None and sidecar.onnx_file is None:
            raise ValueError(f"{source}: names no model (model_file and onnx_file are null)")
        if sidecar.formats is not None and not set(sidecar.formats) <= set(FORMATS):
            raise ValueError(f"{source}: formats: expected a subset of {list(FORMATS)}, "
                             f"got {sidecar.formats!r}")
        return sidecar


def _field_types() -> Dict[str, type]:
    """Field name -> the (non-None) type it holds."""
    hints = typing.get_type_hints(Sidecar)
    types = {}
    for f in dataclasses.fields(Sidecar):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) is typing.Union:
            hint = args[0]
        types[f.name] = typing.get_origin(hint) or hint
    return types


_NAMES = {str: 'a string', int: 'an integer', list: 'a list', tuple: 'a list', dict: 'a mapping'}


def _check(source: str, key: str, value, expected: type) -> None:
    if value is None:
        if key in ('kind', 'inputs', 'channel_order', 'value_range'):
            raise ValueError(f"{source}: {key}: must not be null")
        return
    ok = isinstance(value, (list, tuple)) if expected in (list, tuple) else \
        isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ValueError(f"{source}: {key}: expected {_NAMES.get(expected, expected.__name__)}, "
                         f"got {value!r}")
    if expected is int and key in ('scale', 'levels', 'upscale') and value < (key != 'levels'):
        raise ValueError(f"{source}: {key}: must be >= {int(key != 'levels')}, got {value}")


def read_sidecar(model_dir: str) -> Optional[Sidecar]:
    """The sidecar of ``model_dir``; None when the folder has none (e.g. PaddleGAN's export).

    Raises:
        ValueError: an unreadable file, or an entry missing or of the wrong type (one
            line naming the file and the key).
    """
    path = os.path.join(model_dir, SIDECAR_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, 'r', encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable sidecar ({e})") from None
    return Sidecar.from_dict(data, path)


def write_sidecar(model_dir: str, sidecar: Sidecar) -> str:
    """Write ``sidecar`` as ``model_dir/ppgan_ext.json`` atomically; return the path."""
    path = os.path.join(model_dir, SIDECAR_NAME)
    write_json(path, sidecar.to_dict())
    return path


def write_json(path: str, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically (temporary file, then rename)."""
    from ..utils import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=2)
            f.write('\n')

    atomic_write(path, write)
