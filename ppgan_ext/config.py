"""Loading, overriding and checking PaddleGAN YAML configs.

Same file format and ``-o key.sub=value`` syntax as ppgan's ``get_config``, with
three differences: override values are parsed as YAML (never ``eval``), a key
that does not exist is an error that suggests close matches (an argument of
the component whose config it extends may be added), and every
component name and argument list is checked against ppgan's registries before
anything is built, so a typo fails in one line instead of deep in a constructor.
"""
import difflib
import inspect
import os
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import yaml
from ppgan.utils.config import AttrDict, create_attr_dict


class ConfigError(ValueError):
    """A config problem, reported in one line that names the file or key."""


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ''


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _override(cfg: dict, option: str) -> None:
    if '=' not in option:
        raise ConfigError(f"override {option!r} must look like key.sub=value")
    key, text = option.split('=', 1)
    parts = key.strip().split('.')
    node = cfg
    for depth, part in enumerate(parts):
        where = '.'.join(parts[:depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            try:
                index = int(part)
                node[index]
            except (ValueError, IndexError):
                raise ConfigError(
                    f"override key {where!r}: {part!r} is not an index of a "
                    f"list of {len(node)}") from None
            part = index
        elif isinstance(node, dict):
            if part not in node and not (last and _component_accepts(node, part)):
                raise ConfigError(f"override key {where!r} does not exist in the config"
                                  f"{_suggest(part, node.keys())}")
        else:
            raise ConfigError(f"override key {where!r}: "
                              f"{'.'.join(parts[:depth])!r} is not a mapping")
        if last:
            node[part] = _parse_value(text)
        else:
            node = node[part]


def _component_accepts(node: dict, key: str) -> bool:
    """True if ``node`` is a component config whose class takes argument ``key``."""
    name = node.get('name')
    for registry in _registries().values():
        cls = registry._obj_map.get(name) if isinstance(name, str) else None
        if cls is not None:
            try:
                return key in inspect.signature(cls).parameters
            except (TypeError, ValueError):
                return False
    return False


def load_config(path: str, overrides: Optional[Sequence[str]] = None) -> AttrDict:
    """Read a PaddleGAN YAML config, apply ``key=value`` overrides, return an AttrDict.

    Raises:
        ConfigError: missing/unreadable file, YAML syntax error, a config that
            is not a mapping, or an override of a key that does not exist.
    """
    if not path:
        raise ConfigError("no config file given (use -c FILE)")
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, 'r', encoding='utf-8') as f:
            raw = yaml.safe_load(f)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ''
        raise ConfigError(f"{path}: YAML syntax error{where}: {e.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"{path}: cannot read config: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping, got "
                          f"{type(raw).__name__}")
    for option in overrides or []:
        _override(raw, option)
    cfg = AttrDict(raw)
    create_attr_dict(cfg)
    return cfg


# --------------------------------------------------------------------- checks
def _registries():
    from ppgan.datasets.builder import DATASETS
    from ppgan.metrics.builder import METRICS
    from ppgan.models.builder import MODELS
    from ppgan.models.criterions.builder import CRITERIONS
    from ppgan.models.discriminators.builder import DISCRIMINATORS
    from ppgan.models.generators.builder import GENERATORS
    from ppgan.solver.builder import LRSCHEDULERS, OPTIMIZERS
    return dict(MODELS=MODELS, GENERATORS=GENERATORS, DISCRIMINATORS=DISCRIMINATORS,
                CRITERIONS=CRITERIONS, DATASETS=DATASETS, METRICS=METRICS,
                LRSCHEDULERS=LRSCHEDULERS, OPTIMIZERS=OPTIMIZERS)


# Keys of a model config whose value is a component config, by registry.
_SUB_COMPONENTS = (('generator', 'GENERATORS'), ('discriminator', 'DISCRIMINATORS'),
                   ('criterion', 'CRITERIONS'), ('_loss', 'CRITERIONS'))
# Arguments the builders supply or pop themselves.
_BUILDER_KEYS = {'DATASETS': {'batch_size', 'num_workers', 'use_shared_memory'}}


def _components(cfg: dict, is_train: bool) -> Iterator[Tuple[str, str, dict]]:
    """Yield (dotted key, registry name, component config) for every component."""
    model = cfg.get('model')
    if isinstance(model, dict):
        yield 'model', 'MODELS', model
        for key, value in model.items():
            if not isinstance(value, dict) or 'name' not in value:
                continue
            for marker, registry in _SUB_COMPONENTS:
                if key == marker or key.endswith(marker):
                    yield f'model.{key}', registry, value
                    break
    datasets = cfg.get('dataset') or {}
    for split in (('train', 'test') if is_train else ('test',)):
        ds = datasets.get(split) if isinstance(datasets, dict) else None
        if isinstance(ds, dict):
            if ds.get('name') == 'RepeatDataset' and isinstance(ds.get('dataset'), dict):
                yield f'dataset.{split}.dataset', 'DATASETS', ds['dataset']
            else:
                yield f'dataset.{split}', 'DATASETS', ds
    metrics = (cfg.get('validate') or {}).get('metrics') or {}
    for key, metric in metrics.items():
        if isinstance(metric, dict):
            yield f'validate.metrics.{key}', 'METRICS', metric
    if is_train:
        if isinstance(cfg.get('lr_scheduler'), dict):
            yield 'lr_scheduler', 'LRSCHEDULERS', cfg['lr_scheduler']
        optim = cfg.get('optimizer')
        if isinstance(optim, dict) and 'name' in optim:
            yield 'optimizer', 'OPTIMIZERS', optim
        elif isinstance(optim, dict):
            for key, sub in optim.items():
                if isinstance(sub, dict):
                    yield f'optimizer.{key}', 'OPTIMIZERS', sub


def _check_arguments(where: str, name: str, cls, kwargs: dict, skip=()) -> None:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in kwargs.items():
        if key in skip:
            continue
        if key not in params:
            if not takes_any:
                raise ConfigError(f"{where}.{key}: {name} has no argument {key!r}"
                                  f"{_suggest(key, params.keys())}")
            continue
        default = params[key].default
        if default is inspect.Parameter.empty or default is None or value is None:
            continue
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, float)):
            ok = isinstance(value, (int, float, list, tuple)) and not isinstance(value, bool)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        else:
            ok = True
        if not ok:
            raise ConfigError(f"{where}.{key}: expected {type(default).__name__} "
                              f"(like the default {default!r}), got {value!r}")
    for key, p in params.items():
        if (p.default is inspect.Parameter.empty and key not in kwargs and key != 'self'
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)):
            raise ConfigError(f"{where}: missing required key {key!r} for {name}")


def validate_config(cfg: dict, is_train: bool = True, source: str = 'config') -> None:
    """Check top-level keys, component names and component arguments.

    Raises:
        ConfigError: naming the dotted key at fault and, for unknown names,
            the closest registered names.
    """
    required: List[str] = ['model', 'output_dir']
    if is_train:
        required += ['dataset', 'lr_scheduler', 'optimizer', 'log_config', 'snapshot_config']
    for key in required:
        if key not in cfg:
            raise ConfigError(f"{source}: missing required key {key!r}")
    if is_train and 'total_iters' not in cfg and 'epochs' not in cfg:
        raise ConfigError(f"{source}: missing required key 'total_iters' (or 'epochs')")
    if is_train:
        if not isinstance(cfg['dataset'], dict) or 'train' not in cfg['dataset']:
            raise ConfigError(f"{source}: missing required key 'dataset.train'")
        for key, sub in (('log_config', ('interval', 'visiual_interval')),
                         ('snapshot_config', ('interval',))):
            for name in sub:
                if name not in (cfg[key] or {}):
                    raise ConfigError(f"{source}: missing required key '{key}.{name}'")
    registries = _registries()
    for where, registry_name, comp in _components(cfg, is_train):
        name = comp.get('name')
        if name is None:
            raise ConfigError(f"{source}: missing required key '{where}.name'")
        if registry_name == 'DATASETS' and name == 'RepeatDataset':
            continue
        registry = registries[registry_name]
        cls = registry._obj_map.get(name)
        if cls is None:
            raise ConfigError(f"{where}.name: unknown {registry_name} name {name!r}"
                              f"{_suggest(name, registry._obj_map)}")
        kwargs = {k: v for k, v in comp.items() if k != 'name'}
        if registry_name in ('MODELS', 'GENERATORS', 'DISCRIMINATORS', 'DATASETS'):
            _check_arguments(where, name, cls, kwargs, _BUILDER_KEYS.get(registry_name, ()))
