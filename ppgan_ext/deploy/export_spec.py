"""What an exporter returns (:class:`ExportSpec`) and the exporter registry.

An exporter is ``fn(model, cfg, options, inputs_size) -> ExportSpec``,
registered for model class names with :func:`register_exporter`.
:func:`export_layer` finds the exporter of a model (its class first, then its
base classes). The built-in exporters register themselves when their package,
:data:`EXPORTER_PACKAGE`, is imported; the registry holds only that import
path (it imports no exporter module, so exporters import this one freely).
"""
import importlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

__all__ = ['ExportSpec', 'EXPORTERS', 'PREPARERS', 'EXPORTER_PACKAGE', 'register_exporter',
           'load_exporters', 'preparer_of', 'export_options', 'export_layer']

InputMaker = Callable[[np.random.Generator, int, int], List[np.ndarray]]


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
# exporter of models that have a 'generator' net and no exporter of their own
GENERATOR_FALLBACK: Dict[str, Exporter] = {}
EXPORTER_PACKAGE = 'ppgan_ext.deploy.exporters'   # importing it registers the built-in ones


def register_exporter(*model_names: str, prepare: Optional[Preparer] = None,
                      generator_fallback: bool = False) -> Callable[[Exporter], Exporter]:
    """Register ``fn(model, cfg, options, inputs_size) -> ExportSpec`` for model classes.

    ``options`` is the config's ``export_model`` mapping (``{}`` when absent);
    ``inputs_size`` the ``-s`` shapes or None. Subclasses of a registered
    class use its exporter unless they register their own.

    ``prepare(model_cfg, weights) -> model_cfg``, when given, adapts the
    ``model`` config before the model is built for export, e.g. so that a
    training stage that reads other weight files in its constructor takes
    everything from the one ``--load`` file instead. It must not change
    ``model_cfg`` in place.

    ``generator_fallback=True`` also makes it the exporter of any model with
    a ``generator`` net that has no exporter of its own.
    """
    def decorator(fn: Exporter) -> Exporter:
        if generator_fallback:
            GENERATOR_FALLBACK['generator'] = fn
        for name in model_names:
            if name in EXPORTERS and EXPORTERS[name] is not fn:
                raise ValueError(f'an exporter for {name!r} is already registered')
            EXPORTERS[name] = fn
            if prepare is not None:
                PREPARERS[name] = prepare
        return fn
    return decorator


def preparer_of(model_name: Optional[str]) -> Optional[Preparer]:
    """The :data:`PREPARERS` entry of a registered model class or of its nearest base."""
    from ppgan.models.builder import MODELS

    load_exporters()
    try:
        cls = MODELS.get(model_name) if model_name else None
    except KeyError:
        cls = None
    for klass in getattr(cls, '__mro__', ()):
        if klass.__name__ in EXPORTERS:  # the exporter used decides the preparer too
            return PREPARERS.get(klass.__name__)
    return None


def load_exporters() -> None:
    """Import :data:`EXPORTER_PACKAGE`, whose modules register the built-in exporters."""
    importlib.import_module(EXPORTER_PACKAGE)


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
    load_exporters()
    options = export_options(cfg)
    for cls in type(model).__mro__:
        if cls.__name__ in EXPORTERS:
            return EXPORTERS[cls.__name__](model, cfg, options, inputs_size)
    if 'generator' in getattr(model, 'nets', {}) and GENERATOR_FALLBACK:
        return GENERATOR_FALLBACK['generator'](model, cfg, options, inputs_size)
    raise ValueError(f"model.name: no exporter for {type(model).__name__} (registered: "
                     f"{', '.join(sorted(EXPORTERS)) or 'none'}; models with a 'generator' net "
                     f"export it as lq -> output)")
