"""Export a trained PaddleGAN model to Paddle Inference and ONNX, with parity checks.

``export_model(cfg, weights, output_dir)`` builds the model of a config, loads
a ppgan weight/checkpoint file, converts ONE graph to static form with
dynamic batch, height and width (``paddle.jit.to_static`` + ``paddle.jit.save``:
Paddle 3 writes ``NAME.json`` + ``NAME.pdiparams``, Paddle 2 wrote
``NAME.pdmodel``), converts that graph to ``NAME.onnx`` with paddle2onnx
(:mod:`ppgan_ext.deploy.onnx_convert`), writes the sidecar ``ppgan_ext.json``
(:mod:`ppgan_ext.deploy.model_dir`), then runs every saved format against the
dynamic-graph net on the same random inputs (three sizes, odd ones among
them): the Paddle graph through Paddle Inference, the ONNX graph through ONNX
Runtime. A difference above ``1e-4`` in any of them fails the export and
leaves ``output_dir`` as it was (a previous export stays usable).

Which graph a model exports is decided by an *exporter*
(:mod:`ppgan_ext.deploy.export_spec`), looked up by model class (its own name
first, then its base classes); the parity check is
:mod:`ppgan_ext.deploy.parity`. The exporters live in
:mod:`ppgan_ext.deploy.exporters`, one module per model kind:

* image-to-image models with a ``generator`` net (ppgan's ``BaseSRModel``,
  ``ESRGAN``, ... and anything else with ``nets['generator']``) export
  ``lq -> output`` (:mod:`~ppgan_ext.deploy.exporters.sr`);
* ``LapStylePyramidModel`` exports its whole pyramid as
  ``(content, style) -> stylized`` with ``kind='stylize'``
  (:mod:`~ppgan_ext.deploy.exporters.lapstyle`).

A new model kind adds a module there whose function, decorated with
:func:`register_exporter`, returns an :class:`ExportSpec`; both formats and
both parity checks then come for free.

Config entry (optional; the defaults suit SR models). PaddleGAN's list form is
accepted as is::

    export_model:
      - {name: generator, inputs_num: 1}

or ppgan-ext's mapping form::

    export_model:
      net: generator            # the entry of model.nets to export
      input_names: [lq]         # names of the graph inputs
      channel_order: RGB        # colour order the net was trained with
      parity_sizes: [[32, 32], [47, 33], [64, 72]]   # (H, W) of the check
"""
import os
import shutil
import tempfile
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .export_spec import (EXPORTERS, ExportSpec, export_layer, export_options,  # noqa: F401
                          preparer_of, register_exporter)
from .model_dir import (GRAPH_SUFFIXES, ONNX_SUFFIX, PARAMS_SUFFIX, graph_candidates,
                        onnx_candidates, read_model_dir)
from .parity import (DEFAULT_PARITY_SIZES, PARITY_ATOL, ParityError,  # noqa: F401
                     check_parity, parse_sizes, reference_cases)
from .sidecar import FORMATS, SIDECAR_FORMAT, SIDECAR_NAME, Sidecar, write_sidecar

__all__ = ['PARITY_ATOL', 'DEFAULT_PARITY_SIZES', 'ParityError', 'ExportSpec', 'EXPORTERS',
           'register_exporter', 'export_options', 'export_layer', 'load_weights',
           'parse_inputs_size', 'parse_sizes', 'parse_formats', 'ExportReport',
           'build_model_for_export', 'check_parity', 'export_model']

# what the backends derive from a folder's graphs (OpenVINO's compiled blobs, ONNX Runtime's
# rewritten graph): never installed from the export's temporary folder, dropped on re-export
_BACKEND_CACHES = ('openvino_cache', 'onnxruntime_cache')


# ---------------------------------------------------------------- weights
def load_weights(model, path: str) -> List[str]:
    """Load a ppgan ``*_weight.pdparams`` / ``*_checkpoint.pdparams`` into ``model.nets``.

    A file holding one bare state dict (``paddle.save(net.state_dict())``)
    is loaded into the model's only net. Reading and checking are
    :func:`ppgan_ext.weight_files.read_state_file` and
    :func:`~ppgan_ext.weight_files.load_net_state` (names and shapes must match).

    Returns:
        list[str]: The nets loaded.

    Raises:
        FileNotFoundError / ValueError: missing or unreadable file, no net of
            the model in it, or parameters whose names or shapes differ.
    """
    from ..weight_files import is_state_dict, load_net_state, read_state_file

    state = read_state_file(path, key='--load')
    source = f"--load {path}"
    if is_state_dict(state):
        if len(model.nets) != 1:
            raise ValueError(f"{source}: one bare state dict, but the model has nets "
                             f"{', '.join(model.nets)}; save {{net_name: state_dict}}")
        state = {next(iter(model.nets)): state}
    loaded = []
    for name, net in model.nets.items():
        if name in state:
            load_net_state(net, state[name], source, name, strict=True)
            loaded.append(name)
    if not loaded:
        keys = ', '.join(sorted(str(k) for k in state)[:6])
        raise ValueError(f"{source}: holds none of the model's nets "
                         f"({', '.join(model.nets)}); its keys: {keys}")
    return loaded


# ---------------------------------------------------------------- export
def parse_inputs_size(text: Optional[str]) -> Optional[List[List[int]]]:
    """PaddleGAN's ``-s``: ``"-1,3,-1,-1"``, several inputs separated by ``;``."""
    if not text:
        return None
    shapes = []
    for part in str(text).split(';'):
        try:
            shape = [int(v) for v in part.replace(' ', '').split(',') if v != '']
        except ValueError:
            raise ValueError(f"--inputs-size: {part!r} is not comma-separated integers "
                             f"(e.g. -1,3,-1,-1)") from None
        if not shape or any(v == 0 or v < -1 for v in shape):
            raise ValueError(f"--inputs-size: {part!r}: sizes must be positive or -1 (dynamic)")
        shapes.append(shape)
    return shapes


def parse_formats(text) -> List[str]:
    """``"paddle,onnx"`` or ``['onnx']`` -> formats in :data:`FORMATS` order, no repeats.

    Raises:
        ValueError: an unknown format or none, naming ``--format``.
    """
    items = text if isinstance(text, (list, tuple)) else str(text).split(',')
    names = [str(i).strip().lower() for i in items if str(i).strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ValueError(f"--format: {unknown[0] if unknown else text!r} is not a format; "
                         f"allowed: {', '.join(FORMATS)} (comma-separated)")
    return [f for f in FORMATS if f in names]


@dataclass
class ExportReport:
    """What :func:`export_model` wrote and how the parity checks went.

    ``diffs`` / ``onnx_diffs``: ``((H, W), max |saved - dynamic graph|)`` per
    checked size, for Paddle Inference and ONNX Runtime; file attributes are
    None for a format not written.
    """
    model_dir: str
    model_file: Optional[str]
    params_file: Optional[str]
    spec: ExportSpec
    diffs: List[Tuple[Tuple[int, int], float]] = field(default_factory=list)
    deleted_passes: List[str] = field(default_factory=list)
    onnx_file: Optional[str] = None
    onnx_diffs: List[Tuple[Tuple[int, int], float]] = field(default_factory=list)
    formats: List[str] = field(default_factory=list)

    @property
    def onnx_max_abs_diff(self) -> Optional[float]:
        return max(d for _, d in self.onnx_diffs) if self.onnx_diffs else None

    @property
    def max_abs_diff(self) -> Optional[float]:
        return max(d for _, d in self.diffs) if self.diffs else None


def build_model_for_export(cfg: dict, weights: Optional[str]):
    """ppgan's model of ``cfg`` on CPU, weights loaded, every net in eval mode.

    The ``model`` config goes through the exporter's ``prepare`` function
    first when one is registered (see :func:`register_exporter`).
    """
    import paddle
    from ppgan.models.builder import build_model

    if 'model' not in cfg:
        raise ValueError("config: missing required key 'model'")
    paddle.set_device('cpu')
    model_cfg = cfg['model']
    prepare = preparer_of(model_cfg.get('name') if isinstance(model_cfg, dict) else None)
    if prepare is not None:
        model_cfg = prepare(model_cfg, weights)
    model = build_model(model_cfg)
    loaded = load_weights(model, weights) if weights else []
    for net in model.nets.values():
        net.eval()
    return model, loaded


def _parity_entry(diffs, atol: float) -> Optional[dict]:
    if diffs is None:
        return None
    return {'atol': atol, 'max_abs_diff': max(d for _, d in diffs),
            'sizes': [[h, w] for (h, w), _ in diffs]}


def _sidecar(spec: ExportSpec, files: Dict[str, Optional[str]], cfg: dict,
             weights: Optional[str], config_path: Optional[str], diffs, onnx_diffs,
             atol: float) -> Sidecar:
    """The sidecar of an export: the spec's feed, its exporter's ``meta``, the run's record."""
    import paddle

    from .. import __version__

    def name(key: str) -> Optional[str]:
        return os.path.basename(files[key]) if files.get(key) else None

    formats = [f for f, key in (('paddle', 'model_file'), ('onnx', 'onnx_file')) if files.get(key)]
    return Sidecar.from_dict({
        'format': SIDECAR_FORMAT,
        'kind': spec.kind,
        'formats': formats,
        'model_file': name('model_file'),
        'params_file': name('params_file'),
        'onnx_file': name('onnx_file'),
        'inputs': [{'name': s.name, 'shape': [int(d) if d is not None and d > 0 else -1
                                              for d in s.shape]} for s in spec.input_specs],
        'scale': spec.scale,
        'in_channels': spec.in_channels,
        'out_channels': spec.out_channels,
        'channel_order': spec.channel_order,
        'value_range': list(spec.value_range),
        'model': (cfg.get('model') or {}).get('name'),
        **spec.meta,
        'config': os.path.abspath(config_path) if config_path else None,
        'weights': os.path.abspath(weights) if weights else None,
        'parity': _parity_entry(diffs, atol),
        'onnx_parity': _parity_entry(onnx_diffs, atol),
        'onnx_opset': files.get('opset'),
        'paddle_version': paddle.__version__,
        'ppgan_ext_version': __version__,
    }, f'the sidecar of {spec.name}')


def _check_output_dir(output_dir: str, name: str) -> List[str]:
    """Files of a previous export to replace; refuses a folder holding someone else's model."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise NotADirectoryError(f"--output-dir: {output_dir} is a file")
    if not os.path.isdir(output_dir):
        return []
    ours = set()
    if os.path.isfile(os.path.join(output_dir, SIDECAR_NAME)):
        try:
            old = read_model_dir(output_dir)
            ours = {os.path.basename(f) for f in (old.model_file, old.params_file,
                                                  old.onnx_file, old.int8_file) if f}
        except (ValueError, FileNotFoundError):
            ours = set()
    stale = []
    for graph in graph_candidates(output_dir) + onnx_candidates(output_dir):
        stem = os.path.splitext(graph)[0]
        if stem == name + '.int8':   # paddlegan quantize's graph of the previous export
            stem = name
        if stem == name or graph in ours:
            stale += [graph, stem + PARAMS_SUFFIX, stem + PARAMS_SUFFIX + '.info']
        else:
            raise ValueError(f"--output-dir {output_dir} already holds another model "
                             f"({graph}); choose another folder")
    return [f for f in dict.fromkeys(stale) if os.path.isfile(os.path.join(output_dir, f))]


def export_model(cfg: dict, weights: Optional[str], output_dir: str,
                 inputs_size: Optional[List[List[int]]] = None, parity: bool = True,
                 parity_sizes: Optional[Sequence[Tuple[int, int]]] = None,
                 config_path: Optional[str] = None, atol: float = PARITY_ATOL,
                 model=None, formats: Sequence[str] = FORMATS) -> ExportReport:
    """Export the model of ``cfg`` with ``weights`` to ``output_dir`` (see module docstring).

    Args:
        cfg (dict): Loaded config (``ppgan_ext.config.load_config``).
        weights (str, optional): ppgan weight or checkpoint file; None keeps
            the weights the model was built with.
        output_dir (str): Folder for ``NAME.json``, ``NAME.pdiparams``,
            ``NAME.onnx`` and ``ppgan_ext.json``. Created if needed; a
            previous export of the same model is replaced only after the new
            one passed its checks.
        inputs_size (list[list[int]], optional): Input shapes (PaddleGAN's
            ``-s``); default ``[-1, C, -1, -1]`` per input.
        parity (bool): Run the parity checks. Default: True.
        parity_sizes (list[(H, W)], optional): Sizes of the check. Default:
            the config's ``export_model.parity_sizes``, else the exporter's
            (``ExportSpec.parity_sizes``), else 32x32, 47x33, 64x72 (the
            input's own size when ``inputs_size`` fixes it).
        config_path (str, optional): Recorded in the sidecar.
        atol (float): Parity tolerance. Default: 1e-4.
        model (ppgan BaseModel, optional): An already built model to export
            instead of building ``cfg.model``. Default: None.
        formats (list[str]): ``'paddle'`` and/or ``'onnx'`` (the ONNX graph
            is converted from the Paddle one, which is dropped when only
            ``'onnx'`` is asked for). Default: both.

    Returns:
        ExportReport

    Raises:
        ParityError: a check failed (nothing is written to ``output_dir``).
        OnnxConversionError: paddle2onnx failed (nothing is written).
        ValueError / FileNotFoundError: bad config, weights or arguments.
    """
    import paddle

    from .graph_rewrites import onnx_convertible_ops
    from .onnx_convert import ONNX_OPSET, convert_to_onnx

    formats = parse_formats(formats)
    if model is None:
        model, loaded = build_model_for_export(cfg, weights)
    else:
        loaded = load_weights(model, weights) if weights else []
        for net in model.nets.values():
            net.eval()
    spec = export_layer(model, cfg, inputs_size)
    if weights:
        absent = [n for n in spec.nets if n not in loaded]
        if absent:
            raise ValueError(f"--load {weights}: no weights for net {absent[0]!r}, which the "
                             f"exported graph contains")
    stale = _check_output_dir(output_dir, spec.name)
    if parity_sizes is None:
        options = export_options(cfg)
        fixed = spec.input_specs[0].shape
        if len(fixed) == 4 and fixed[2] not in (None, -1) and fixed[3] not in (None, -1):
            parity_sizes = [(int(fixed[2]), int(fixed[3]))]
        else:
            parity_sizes = parse_sizes(options.get(
                'parity_sizes', spec.parity_sizes or DEFAULT_PARITY_SIZES))
    cases = reference_cases(spec, parity_sizes) if parity else []

    created = not os.path.isdir(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix='.export-', dir=output_dir)
    installed = False
    files: Dict[str, Optional[str]] = {}
    diffs = onnx_diffs = None
    deleted: List[str] = []
    try:
        # resizes and leaky_relu of nets we do not own, traced so that they convert
        rewrite = onnx_convertible_ops() if 'onnx' in formats else nullcontext()
        with rewrite, warnings.catch_warnings():
            # Paddle's own ops read Tensor.place while tracing (None in a PIR graph: harmless)
            warnings.filterwarnings('ignore', message="Tensor do not have 'place' interface")
            static = paddle.jit.to_static(spec.layer, input_spec=spec.input_specs,
                                          full_graph=spec.full_graph)
            paddle.jit.save(static, os.path.join(tmp_dir, spec.name))
        graphs = [n for n in os.listdir(tmp_dir) if n.endswith(GRAPH_SUFFIXES)]
        if len(graphs) != 1:
            raise RuntimeError(f"paddle.jit.save wrote {sorted(os.listdir(tmp_dir))} "
                               f"(expected one graph file)")
        files['model_file'] = os.path.join(tmp_dir, graphs[0])
        files['params_file'] = os.path.splitext(files['model_file'])[0] + PARAMS_SUFFIX
        if 'onnx' in formats:
            files['onnx_file'] = convert_to_onnx(
                files['model_file'], files['params_file'],
                os.path.join(tmp_dir, spec.name + ONNX_SUFFIX))
            files['opset'] = ONNX_OPSET
        if 'paddle' not in formats:
            for key in ('model_file', 'params_file'):
                os.remove(files.pop(key))
        sidecar_path = write_sidecar(tmp_dir, _sidecar(spec, files, cfg, weights, config_path,
                                                        None, None, atol))
        if parity and 'paddle' in formats:
            diffs, deleted = check_parity(tmp_dir, cases, atol, 'paddle')
        if parity and 'onnx' in formats:
            onnx_diffs, _ = check_parity(tmp_dir, cases, atol, 'onnxruntime')
        if parity:
            write_sidecar(tmp_dir, _sidecar(spec, files, cfg, weights, config_path, diffs,
                                            onnx_diffs, atol))
        # install: the new files replace the old ones, leftovers of the previous
        # export (e.g. a Paddle 2 .pdmodel) go, and the sidecar comes last
        # (the backends' caches that the parity check made in tmp_dir stay behind)
        new_names = [n for n in os.listdir(tmp_dir) if n not in _BACKEND_CACHES
                     and (not n.endswith('.info')
                          or os.path.isfile(os.path.join(tmp_dir, n[:-len('.info')])))]
        for name in sorted(new_names):
            if name != SIDECAR_NAME:
                os.replace(os.path.join(tmp_dir, name), os.path.join(output_dir, name))
        for name in stale:
            if name not in new_names:
                os.remove(os.path.join(output_dir, name))
        os.replace(sidecar_path, os.path.join(output_dir, SIDECAR_NAME))
        installed = True
        # OpenVINO's compiled blobs and ONNX Runtime's rewritten graphs of the replaced graphs
        for cache in _BACKEND_CACHES:
            shutil.rmtree(os.path.join(output_dir, cache), ignore_errors=True)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if created and not installed and not os.listdir(output_dir):
            os.rmdir(output_dir)

    def final(key: str) -> Optional[str]:
        return os.path.join(output_dir, os.path.basename(files[key])) if files.get(key) else None

    return ExportReport(output_dir, final('model_file'), final('params_file'), spec,
                        diffs or [], deleted, final('onnx_file'), onnx_diffs or [], formats)
