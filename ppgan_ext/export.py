"""Export a trained PaddleGAN model to Paddle Inference, with a parity check.

``export_model(cfg, weights, output_dir)`` builds the model of a config, loads
a ppgan weight/checkpoint file, converts ONE graph to static form with
dynamic batch, height and width (``paddle.jit.to_static`` + ``paddle.jit.save``:
Paddle 3 writes ``NAME.json`` + ``NAME.pdiparams``, Paddle 2 wrote
``NAME.pdmodel``), writes the sidecar ``ppgan_ext.json`` that
:mod:`ppgan_ext.inference` reads, then runs the saved model through Paddle
Inference and the dynamic-graph net on the same random inputs (several sizes,
odd ones among them). A difference above ``1e-4`` fails the export and leaves
``output_dir`` as it was.

Which graph a model exports is decided by an *exporter*, looked up by model
class (its own name first, then its base classes):

* image-to-image models with a ``generator`` net (ppgan's ``BaseSRModel``,
  ``ESRGAN``, ... and anything else with ``nets['generator']``) export
  ``lq -> output`` (:func:`export_sr_generator`);
* other model classes register their own with :func:`register_exporter`,
  returning an :class:`ExportSpec`: ``LapStylePyramidModel``
  (:mod:`ppgan_ext.models.lapstyle_model`) exports its whole pyramid as
  ``(content, style) -> stylized`` with ``kind='stylize'``.

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
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .inference import (GRAPH_SUFFIXES, PARAMS_SUFFIX, SIDECAR_FORMAT, SIDECAR_NAME,
                        Predictor, _graph_candidates, read_model_dir)
from .utils import atomic_write

PARITY_ATOL = 1e-4
DEFAULT_PARITY_SIZES: Tuple[Tuple[int, int], ...] = ((32, 32), (47, 33), (64, 72))
_SR_INPUT_NAMES = ('lq',)

InputMaker = Callable[[np.random.Generator, int, int], List[np.ndarray]]


class ParityError(ValueError):
    """The saved model's output differs from the dynamic graph's beyond tolerance."""


@dataclass
class ExportSpec:
    """One graph to export and how to feed it.

    Attributes:
        layer (paddle.nn.Layer): The net to convert (in eval mode). Its
            ``forward`` takes the inputs in ``input_specs`` order and returns
            one tensor.
        input_specs (list[paddle.static.InputSpec]): Shapes (-1 or None for
            dynamic), dtypes and names of the inputs.
        kind (str): ``'sr'`` (image in, image ``scale`` times larger out) or
            another kind a tool understands (e.g. ``'stylize'``).
        name (str): File stem of the saved graph.
        scale (int): Output / input size ratio of the first input.
        in_channels (int): Channels of the first input.
        out_channels (int): Channels of the output.
        channel_order (str): ``'RGB'`` or ``'BGR'``. Default: 'RGB'.
        value_range (tuple[float, float]): Pixel range of inputs and output.
            Default: (0.0, 1.0).
        nets (list[str]): Entries of ``model.nets`` inside the graph (their
            weights must be in the weight file when one is given).
        make_inputs (callable, optional): ``(rng, H, W) -> [arrays]`` inputs
            for the parity check at size (H, W); default: uniform [0, 1)
            arrays of each spec's shape with -1 dims set to 1 (batch) and H, W.
        full_graph (bool): ``to_static`` full-graph (AST) conversion. Default: True.
        meta (dict): Extra entries for the sidecar.
        parity_sizes (list[(H, W)], optional): Default sizes of the parity
            check when the config names none. Default: None (32x32, 47x33,
            64x72).
    """
    layer: object
    input_specs: list
    kind: str = 'sr'
    name: str = 'model'
    scale: int = 1
    in_channels: int = 3
    out_channels: int = 3
    channel_order: str = 'RGB'
    value_range: Tuple[float, float] = (0.0, 1.0)
    nets: List[str] = field(default_factory=list)
    make_inputs: Optional[InputMaker] = None
    full_graph: bool = True
    meta: dict = field(default_factory=dict)
    parity_sizes: Optional[List[Tuple[int, int]]] = None

    @property
    def input_names(self) -> List[str]:
        return [s.name for s in self.input_specs]

    def inputs_for(self, rng: np.random.Generator, height: int, width: int) -> List[np.ndarray]:
        if self.make_inputs is not None:
            return self.make_inputs(rng, height, width)
        arrays = []
        for spec in self.input_specs:
            shape = [d if d is not None and d > 0 else -1 for d in spec.shape]
            if len(shape) == 4:
                shape = [shape[0] if shape[0] > 0 else 1, shape[1],
                         shape[2] if shape[2] > 0 else height, shape[3] if shape[3] > 0 else width]
            shape = [d if d > 0 else 1 for d in shape]
            arrays.append(rng.random(shape, dtype=np.float32))
        return arrays


Exporter = Callable[[object, dict, dict, Optional[List[List[int]]]], ExportSpec]
# (model config, weight file or None) -> the model config to build for export
Preparer = Callable[[dict, Optional[str]], dict]
EXPORTERS: Dict[str, Exporter] = {}
PREPARERS: Dict[str, Preparer] = {}


def register_exporter(*model_names: str,
                      prepare: Optional[Preparer] = None) -> Callable[[Exporter], Exporter]:
    """Register ``fn(model, cfg, options, inputs_size) -> ExportSpec`` for model classes.

    ``options`` is the config's ``export_model`` mapping (``{}`` when absent);
    ``inputs_size`` the ``-s`` shapes or None. Subclasses of a registered
    class use its exporter unless they register their own.

    ``prepare(model_cfg, weights) -> model_cfg``, when given, adapts the
    ``model`` config before the model is built for export, e.g. so that a
    training stage that reads other weight files in its constructor takes
    everything from the one ``--load`` file instead. It must not change
    ``model_cfg`` in place.
    """
    def decorator(fn: Exporter) -> Exporter:
        for name in model_names:
            if name in EXPORTERS and EXPORTERS[name] is not fn:
                raise ValueError(f'an exporter for {name!r} is already registered')
            EXPORTERS[name] = fn
            if prepare is not None:
                PREPARERS[name] = prepare
        return fn
    return decorator


def _preparer(model_name: Optional[str]) -> Optional[Preparer]:
    """The :data:`PREPARERS` entry of a registered model class or of its nearest base."""
    from ppgan.models.builder import MODELS

    try:
        cls = MODELS.get(model_name) if model_name else None
    except KeyError:
        cls = None
    for klass in getattr(cls, '__mro__', ()):
        if klass.__name__ in EXPORTERS:  # the exporter used decides the preparer too
            return PREPARERS.get(klass.__name__)
    return None


def export_options(cfg: dict) -> dict:
    """The config's ``export_model`` entry as a mapping (PaddleGAN's list form converted)."""
    raw = cfg.get('export_model')
    if raw is None:
        return {}
    if isinstance(raw, (list, tuple)):
        if not raw or not isinstance(raw[0], dict) or 'name' not in raw[0]:
            raise ValueError("export_model: a list must hold {name: NET, inputs_num: N} entries")
        if len(raw) > 1:
            raise ValueError(f"export_model: {len(raw)} nets listed; one graph per model is "
                             f"exported (name the net with export_model.net)")
        return {'net': raw[0]['name'], 'inputs_num': raw[0].get('inputs_num', 1)}
    if not isinstance(raw, dict):
        raise ValueError(f"export_model: expected a mapping or PaddleGAN's list, got {raw!r}")
    known = {'net', 'input_names', 'channel_order', 'parity_sizes', 'inputs_num', 'name'}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"export_model.{unknown[0]}: unknown key; allowed: {sorted(known)}")
    options = dict(raw)
    if 'name' in options and 'net' not in options:
        options['net'] = options.pop('name')
    return options


def export_layer(model, cfg: dict, inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """The :class:`ExportSpec` of ``model``, from the exporter registered for its class.

    Raises:
        ValueError: no exporter for the model class, or bad ``export_model`` options.
    """
    options = export_options(cfg)
    for cls in type(model).__mro__:
        if cls.__name__ in EXPORTERS:
            return EXPORTERS[cls.__name__](model, cfg, options, inputs_size)
    if 'generator' in getattr(model, 'nets', {}):
        return export_sr_generator(model, cfg, options, inputs_size)
    raise ValueError(f"model.name: no exporter for {type(model).__name__} (registered: "
                     f"{', '.join(sorted(EXPORTERS)) or 'none'}; models with a 'generator' net "
                     f"export it as lq -> output)")


# ---------------------------------------------------------------- SR exporter
def _first_conv_in_channels(net) -> Optional[int]:
    import paddle.nn as nn

    for layer in net.sublayers(include_self=True):
        if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose)):
            return int(layer.weight.shape[1 if isinstance(layer, nn.Conv2D) else 0]
                       * (layer._groups if isinstance(layer, nn.Conv2D) else 1))
    return None


def _value_range(cfg: dict) -> Tuple[float, float]:
    """ppgan's ``min_max`` config entry (``"(0., 1.)"`` or a list) as a float pair."""
    raw = cfg.get('min_max', (0.0, 1.0))
    values = re.findall(r'[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?', str(raw)) \
        if isinstance(raw, str) else list(raw)
    if len(values) != 2:
        raise ValueError(f"min_max: expected two numbers, got {raw!r}")
    low, high = float(values[0]), float(values[1])
    if not high > low:
        raise ValueError(f"min_max: expected low < high, got {raw!r}")
    return low, high


@register_exporter('BaseSRModel')
def export_sr_generator(model, cfg: dict, options: dict,
                        inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """``lq -> output`` for any model whose ``nets[net]`` maps one image to one image.

    Channels come from the net's first convolution, scale and output
    channels from a 16x16 probe run.
    """
    import paddle
    from paddle.static import InputSpec

    net_name = options.get('net', 'generator')
    if net_name not in model.nets:
        raise ValueError(f"export_model.net: {net_name!r} is not a net of "
                         f"{type(model).__name__} (nets: {', '.join(model.nets)})")
    net = model.nets[net_name]
    net.eval()
    channels = _first_conv_in_channels(net) or 3
    names = list(options.get('input_names', _SR_INPUT_NAMES))
    if int(options.get('inputs_num', 1)) != 1 or len(names) != 1:
        raise ValueError(f"export_model: {type(model).__name__}.{net_name} takes one input "
                         f"(got input_names {names})")
    shape = list(inputs_size[0]) if inputs_size else [-1, channels, -1, -1]
    if inputs_size and len(inputs_size) != 1:
        raise ValueError(f"--inputs_size: {net_name} takes one input, got {len(inputs_size)} "
                         f"shapes")
    if len(shape) != 4 or shape[1] != channels:
        raise ValueError(f"--inputs_size: {shape} does not fit {net_name}, which takes "
                         f"(N, {channels}, H, W)")
    with paddle.no_grad():
        probe = net(paddle.zeros([1, channels, 16, 16], 'float32'))
    if probe.ndim != 4 or probe.shape[2] % 16 or probe.shape[2] != probe.shape[3]:
        raise ValueError(f"{net_name}: output shape {probe.shape} for a 16x16 input is not an "
                         f"image upscale; it needs its own exporter")
    order = str(options.get('channel_order', 'RGB')).upper()
    if order not in ('RGB', 'BGR'):
        raise ValueError(f"export_model.channel_order must be 'RGB' or 'BGR', got {order!r}")
    gen_cfg = (cfg.get('model') or {}).get(net_name) or {}
    return ExportSpec(
        layer=net,
        input_specs=[InputSpec([d if d > 0 else None for d in shape], 'float32', name=names[0])],
        kind='sr', name=f'{type(model).__name__.lower()}_{net_name}',
        scale=int(probe.shape[2]) // 16, in_channels=channels, out_channels=int(probe.shape[1]),
        channel_order=order, value_range=_value_range(cfg), nets=[net_name],
        meta={'net': net_name, 'net_class': gen_cfg.get('name', type(net).__name__)})


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
    from .weight_files import is_state_dict, load_net_state, read_state_file

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
            raise ValueError(f"--inputs_size: {part!r} is not comma-separated integers "
                             f"(e.g. -1,3,-1,-1)") from None
        if not shape or any(v == 0 or v < -1 for v in shape):
            raise ValueError(f"--inputs_size: {part!r}: sizes must be positive or -1 (dynamic)")
        shapes.append(shape)
    return shapes


def parse_sizes(text) -> List[Tuple[int, int]]:
    """``"32x32,47x33"`` or ``[[32, 32], [47, 33]]`` -> [(H, W), ...]."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(',')
    sizes = []
    for item in items:
        try:
            h, w = (item.lower().split('x') if isinstance(item, str) else item)
            sizes.append((int(h), int(w)))
        except (ValueError, TypeError):
            raise ValueError(f"parity sizes: {item!r} is not HxW") from None
        if sizes[-1][0] < 1 or sizes[-1][1] < 1:
            raise ValueError(f"parity sizes: {item!r} must be positive")
    if not sizes:
        raise ValueError("parity sizes: none given")
    return sizes


@dataclass
class ExportReport:
    """What :func:`export_model` wrote and how the parity check went."""
    model_dir: str
    model_file: str
    params_file: str
    spec: ExportSpec
    diffs: List[Tuple[Tuple[int, int], float]] = field(default_factory=list)
    deleted_passes: List[str] = field(default_factory=list)

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
    prepare = _preparer(model_cfg.get('name') if isinstance(model_cfg, dict) else None)
    if prepare is not None:
        model_cfg = prepare(model_cfg, weights)
    model = build_model(model_cfg)
    loaded = load_weights(model, weights) if weights else []
    for net in model.nets.values():
        net.eval()
    return model, loaded


def _reference_outputs(spec: ExportSpec, sizes: Sequence[Tuple[int, int]]):
    import paddle

    rng = np.random.default_rng(0)
    cases = []
    with paddle.no_grad():
        for h, w in sizes:
            inputs = spec.inputs_for(rng, h, w)
            out = spec.layer(*[paddle.to_tensor(a) for a in inputs])
            cases.append(((h, w), inputs, np.asarray(out.numpy(), np.float32)))
    return cases


def check_parity(model_dir: str, cases, atol: float = PARITY_ATOL):
    """Max |Paddle Inference - dynamic graph| per case; raises :class:`ParityError` above ``atol``.

    Args:
        model_dir (str): Exported folder (with sidecar).
        cases (list): ``((H, W), inputs, reference_output)`` triples.
        atol (float): Tolerance. Default: 1e-4.

    Returns:
        (list[((H, W), float)], list[str]): differences, oneDNN passes deleted.
    """
    predictor = Predictor(model_dir, device='cpu')
    diffs, peak = [], 0.0
    for size, inputs, ref in cases:
        out = predictor(*inputs)
        if out.shape != ref.shape:
            raise ParityError(f"parity check failed at {size[0]}x{size[1]}: Paddle Inference "
                              f"gave shape {out.shape}, the dynamic graph {ref.shape}")
        diff = float(np.max(np.abs(out.astype(np.float64) - ref))) if ref.size else 0.0
        if not math.isfinite(diff):
            diff = math.inf
        diffs.append((size, diff))
        peak = max(peak, float(np.max(np.abs(ref))) if ref.size else 0.0)
    worst = max(diffs, key=lambda d: d[1])
    if worst[1] > atol:
        raise ParityError(f"parity check failed: max |inference - dynamic graph| = "
                          f"{worst[1]:.3g} > {atol:g} at {worst[0][0]}x{worst[0][1]} "
                          f"(dynamic-graph outputs reach {peak:.3g}; the limit assumes "
                          f"images in about [0, 1])")
    return diffs, predictor.deleted_passes


def _sidecar(spec: ExportSpec, model_file: str, params_file: str, cfg: dict,
             weights: Optional[str], config_path: Optional[str], diffs, atol) -> dict:
    import paddle

    from . import __version__

    return {
        'format': SIDECAR_FORMAT,
        'kind': spec.kind,
        'model_file': os.path.basename(model_file),
        'params_file': os.path.basename(params_file),
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
        'parity': None if diffs is None else {
            'atol': atol, 'max_abs_diff': max(d for _, d in diffs),
            'sizes': [[h, w] for (h, w), _ in diffs]},
        'paddle_version': paddle.__version__,
        'ppgan_ext_version': __version__,
    }


def _write_json(path: str, data: dict) -> None:
    import json

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=2)
            f.write('\n')

    atomic_write(path, write)


def _check_output_dir(output_dir: str, name: str) -> List[str]:
    """Files of a previous export to replace; refuses a folder holding someone else's model."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise NotADirectoryError(f"--output_dir: {output_dir} is a file")
    if not os.path.isdir(output_dir):
        return []
    ours = set()
    if os.path.isfile(os.path.join(output_dir, SIDECAR_NAME)):
        try:
            old = read_model_dir(output_dir)
            ours = {os.path.basename(old.model_file), os.path.basename(old.params_file)}
        except (ValueError, FileNotFoundError):
            ours = set()
    stale = []
    for graph in _graph_candidates(output_dir):
        stem = os.path.splitext(graph)[0]
        if stem == name or graph in ours:
            stale += [graph, stem + PARAMS_SUFFIX, stem + PARAMS_SUFFIX + '.info']
        else:
            raise ValueError(f"--output_dir {output_dir} already holds another model "
                             f"({graph}); choose another folder")
    return [f for f in stale if os.path.isfile(os.path.join(output_dir, f))]


def export_model(cfg: dict, weights: Optional[str], output_dir: str,
                 inputs_size: Optional[List[List[int]]] = None, parity: bool = True,
                 parity_sizes: Optional[Sequence[Tuple[int, int]]] = None,
                 config_path: Optional[str] = None, atol: float = PARITY_ATOL,
                 model=None) -> ExportReport:
    """Export the model of ``cfg`` with ``weights`` to ``output_dir`` (see module docstring).

    Args:
        cfg (dict): Loaded config (``ppgan_ext.config.load_config``).
        weights (str, optional): ppgan weight or checkpoint file; None keeps
            the weights the model was built with.
        output_dir (str): Folder for ``NAME.json``, ``NAME.pdiparams`` and
            ``ppgan_ext.json``. Created if needed; a previous export of the
            same model is replaced only after the new one passed its check.
        inputs_size (list[list[int]], optional): Input shapes (PaddleGAN's
            ``-s``); default ``[-1, C, -1, -1]`` per input.
        parity (bool): Run the parity check. Default: True.
        parity_sizes (list[(H, W)], optional): Sizes of the check. Default:
            the config's ``export_model.parity_sizes``, else the exporter's
            (``ExportSpec.parity_sizes``), else 32x32, 47x33, 64x72 (the
            input's own size when ``inputs_size`` fixes it).
        config_path (str, optional): Recorded in the sidecar.
        atol (float): Parity tolerance. Default: 1e-4.
        model (ppgan BaseModel, optional): An already built model to export
            instead of building ``cfg.model``. Default: None.

    Returns:
        ExportReport

    Raises:
        ParityError: the check failed (nothing is written to ``output_dir``).
        ValueError / FileNotFoundError: bad config, weights or arguments.
    """
    import paddle

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
    cases = _reference_outputs(spec, parity_sizes) if parity else []

    created = not os.path.isdir(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix='.export-', dir=output_dir)
    installed = False
    try:
        static = paddle.jit.to_static(spec.layer, input_spec=spec.input_specs,
                                      full_graph=spec.full_graph)
        paddle.jit.save(static, os.path.join(tmp_dir, spec.name))
        graphs = [n for n in os.listdir(tmp_dir) if n.endswith(GRAPH_SUFFIXES)]
        if len(graphs) != 1:
            raise RuntimeError(f"paddle.jit.save wrote {sorted(os.listdir(tmp_dir))} "
                               f"(expected one graph file)")
        model_file = os.path.join(tmp_dir, graphs[0])
        params_file = os.path.splitext(model_file)[0] + PARAMS_SUFFIX
        sidecar = _sidecar(spec, model_file, params_file, cfg, weights, config_path, None, atol)
        _write_json(os.path.join(tmp_dir, SIDECAR_NAME), sidecar)
        diffs, deleted = check_parity(tmp_dir, cases, atol) if parity else (None, [])
        if diffs is not None:
            sidecar = _sidecar(spec, model_file, params_file, cfg, weights, config_path,
                               diffs, atol)
            _write_json(os.path.join(tmp_dir, SIDECAR_NAME), sidecar)
        # install: the new files replace the old ones, leftovers of the previous
        # export (e.g. a Paddle 2 .pdmodel) go, and the sidecar comes last
        new_names = os.listdir(tmp_dir)
        for name in sorted(new_names):
            if name != SIDECAR_NAME:
                os.replace(os.path.join(tmp_dir, name), os.path.join(output_dir, name))
        for name in stale:
            if name not in new_names:
                os.remove(os.path.join(output_dir, name))
        os.replace(os.path.join(tmp_dir, SIDECAR_NAME), os.path.join(output_dir, SIDECAR_NAME))
        installed = True
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if created and not installed and not os.listdir(output_dir):
            os.rmdir(output_dir)
    return ExportReport(output_dir, os.path.join(output_dir, os.path.basename(model_file)),
                        os.path.join(output_dir, os.path.basename(params_file)), spec,
                        diffs or [], deleted)
