"""Loading, overriding and checking PaddleGAN YAML configs.

Same file format and ``-o key.sub=value`` syntax as ppgan's ``get_config``, with
these differences:

* override values are parsed as YAML (never ``eval``); a mapping given for a
  mapping is merged into it (``-o model.generator={scale: 2}`` keeps the
  other generator keys); an unquoted ``{a: 1, b: 2}`` split by the shell into
  several words is joined back;
* a key that does not exist is added (with a warning, as ppgan does), unless
  it is a near miss of an existing key: then it is an error that suggests the
  close matches (``+key=value`` adds it anyway);
* every component name and argument list is checked against ppgan's
  registries before anything is built. ppgan-ext's own components are checked
  strictly; for ppgan's own ones the check only warns where ppgan knows
  better (values a ppgan model accepts although its default has another type,
  such as EDVR's ``fix_random_seed: 10``; keys a ppgan model fills into its
  sub-components itself, such as first-order motion's ``common_params``; a
  learning-rate schedule the model builds itself).
"""
import difflib
import inspect
import os
import warnings
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import yaml
from ppgan.utils.config import AttrDict, create_attr_dict


class ConfigError(ValueError):
    """A config problem, reported in one line that names the file or key."""


class ConfigWarning(UserWarning):
    """A config entry ppgan-ext cannot check but ppgan may accept; training goes on."""


def _warn(message: str) -> None:
    warnings.warn(message, ConfigWarning, stacklevel=3)


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ''


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def join_override_words(words: Sequence[str]) -> List[str]:
    """Join ``-o`` words that a shell split inside an unquoted ``{...}`` or ``[...]``.

    ``-o model.generator={name: X, scale: 2}`` reaches the program as
    ``['model.generator={name:', 'X,', 'scale:', '2}']``; a word that
    continues an unbalanced value is appended to it with a space.
    """
    joined: List[str] = []
    for word in words:
        if joined and _unbalanced(joined[-1]):
            joined[-1] += ' ' + word
        else:
            joined.append(word)
    return joined


def _unbalanced(option: str) -> bool:
    value = option.split('=', 1)[1] if '=' in option else ''
    return value.count('{') > value.count('}') or value.count('[') > value.count(']')


def _merge(old: Any, new: Any, where: str) -> Any:
    """``new`` merged into ``old`` when both are mappings (recursively); else ``new``.

    When ``new`` names another component, the keys of ``old`` that the new
    component does not take are dropped.
    """
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return new
    merged = dict(old)
    if 'name' in new and new.get('name') != old.get('name'):
        # another component: the old one's arguments that the new one does not take go
        for key in [k for k in old if k != 'name' and k not in new
                    and not _class_accepts(new['name'], k)]:
            del merged[key]
    for key, value in new.items():
        merged[key] = _merge(merged.get(key), value, f'{where}.{key}')
    return merged


def _override(cfg: dict, option: str) -> None:
    if '=' not in option:
        raise ConfigError(f"override {option!r} must look like key.sub=value")
    key, text = option.split('=', 1)
    key = key.strip()
    force = key.startswith('+')
    parts = key.lstrip('+').split('.')
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
                close = _suggest(part, node.keys())
                if close and not force:
                    raise ConfigError(f"override key {where!r} does not exist in the config"
                                      f"{close} (write +{key.lstrip('+')}=... to add it "
                                      f"anyway)")
                _warn(f"-o {where}: not in the config, added")
                node[part] = {} if not last else None
        else:
            raise ConfigError(f"override key {where!r}: "
                              f"{'.'.join(parts[:depth])!r} is not a mapping")
        if last:
            old = node.get(part) if isinstance(node, dict) else node[part]
            node[part] = _merge(old, _parse_value(text), where)
        else:
            node = node[part]


def _lookup(registry, name: Any):
    """The class registered as ``name``, or None."""
    if not isinstance(name, str):
        return None
    try:
        return registry.get(name)
    except KeyError:
        return None


def _class_accepts(name: Any, key: str) -> bool:
    """True if a registered component called ``name`` takes argument ``key``."""
    for registry in ppgan_registries().values():
        cls = _lookup(registry, name)
        if cls is not None:
            try:
                params = inspect.signature(cls).parameters
            except (TypeError, ValueError):
                return True
            return key in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    return False


def _component_accepts(node: dict, key: str) -> bool:
    """True if ``node`` is a component config whose class takes argument ``key``."""
    return _class_accepts(node.get('name'), key)


BASE_KEY = '_base_'


def _read_yaml(path: str, chain: Tuple[str, ...] = ()) -> dict:
    """One config file as a dict, with the files its ``_base_`` names merged under it.

    ``_base_: other.yaml`` (or a list of files, merged in order) is read
    relative to the config's own folder; the config's keys are then merged
    into it as ``-o`` merges a mapping (a mapping is merged key by key,
    anything else replaces the base's value). ppgan's own loader does not
    know ``_base_``: such configs run through ppgan-ext's ``tools/main.py``.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}"
                          + (f" (the {BASE_KEY} of {chain[-1]})" if chain else ''))
    if os.path.realpath(path) in chain:
        raise ConfigError(f"{path}: {BASE_KEY} files include each other: "
                          + ' -> '.join(list(chain) + [os.path.realpath(path)]))
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
    bases = raw.pop(BASE_KEY, None)
    if bases is None:
        return raw
    if isinstance(bases, str):
        bases = [bases]
    if not (isinstance(bases, list) and bases and all(isinstance(b, str) for b in bases)):
        raise ConfigError(f"{path}: {BASE_KEY} must be a file name or a list of them, "
                          f"got {bases!r}")
    merged: dict = {}
    for base in bases:
        base_path = os.path.join(os.path.dirname(path), os.path.expanduser(base))
        merged = _merge(merged, _read_yaml(base_path, chain + (os.path.realpath(path),)),
                        BASE_KEY)
    return _merge(merged, raw, '')


def load_config(path: str, overrides: Optional[Sequence[str]] = None) -> AttrDict:
    """Read a PaddleGAN YAML config, apply ``key=value`` overrides, return an AttrDict.

    A config may start from others with ``_base_`` (see :func:`_read_yaml`).

    Raises:
        ConfigError: missing/unreadable file, YAML syntax error, a config that
            is not a mapping, a ``_base_`` loop, or an override of a key that
            does not exist.
    """
    if not path:
        raise ConfigError("no config file given (use -c FILE)")
    raw = _read_yaml(path)
    for option in join_override_words(overrides or []):
        _override(raw, option)
    cfg = AttrDict(raw)
    create_attr_dict(cfg)
    return cfg


# --------------------------------------------------------------------- checks
def ppgan_registries() -> dict:
    """ppgan's registries by name (``MODELS``, ``GENERATORS``, ...): ours are registered there."""
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


def _is_ours(cls) -> bool:
    return getattr(cls, '__module__', '').split('.')[0] == 'ppgan_ext'


def _check_arguments(where: str, name: str, cls, kwargs: dict, skip=(), strict: bool = True,
                     filled_in: bool = False) -> None:
    """Check ``kwargs`` against ``cls``'s signature.

    Args:
        strict (bool): A value whose type differs from the default's is an
            error (else a warning: ppgan's classes take truthy ints for bools
            and the like).
        filled_in (bool): The enclosing model fills missing required keys in
            itself: a missing one is a warning, not an error.
    """
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
            message = (f"{where}.{key}: expected {type(default).__name__} "
                       f"(like the default {default!r}), got {value!r}")
            if strict:
                raise ConfigError(message)
            _warn(f"{message}; passed to {name} as it is")
    for key, p in params.items():
        if (p.default is inspect.Parameter.empty and key not in kwargs and key != 'self'
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)):
            if filled_in:
                _warn(f"{where}: no {key!r} for {name}; the model is expected to fill it in")
                continue
            raise ConfigError(f"{where}: missing required key {key!r} for {name}")


def _builds_own(model_cls, method: str) -> bool:
    """True if a ppgan model class overrides ``BaseModel.<method>`` (builds its own schedule)."""
    from ppgan.models.base_model import BaseModel

    return model_cls is not None and not _is_ours(model_cls) and \
        getattr(model_cls, method, None) is not getattr(BaseModel, method)


def _check_scales(cfg: dict) -> None:
    """The generator's ``scale`` and the datasets' ``scale`` must agree."""
    model = cfg.get('model') or {}
    gen = model.get('generator') if isinstance(model, dict) else None
    if not isinstance(gen, dict) or not isinstance(gen.get('scale'), int):
        return
    for split in ('train', 'test'):
        ds = (cfg.get('dataset') or {}).get(split)
        key = f'dataset.{split}'
        if isinstance(ds, dict) and ds.get('name') == 'RepeatDataset':
            ds, key = ds.get('dataset'), f'{key}.dataset'
        if isinstance(ds, dict) and isinstance(ds.get('scale'), int) \
                and ds['scale'] != gen['scale']:
            raise ConfigError(f"model.generator.scale is {gen['scale']} but {key}.scale is "
                              f"{ds['scale']}: the net would upscale by {gen['scale']} images "
                              f"the dataset made {ds['scale']}x smaller; make them equal")


def validate_config(cfg: dict, is_train: bool = True, source: str = 'config') -> None:
    """Check top-level keys, component names and component arguments.

    ppgan-ext's own components are checked strictly; ppgan's get the
    warnings described in the module docstring where ppgan knows better.

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
        keep = (cfg['snapshot_config'] or {}).get('keep_checkpoints', 0)
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
            raise ConfigError(f"snapshot_config.keep_checkpoints: expected an integer >= 0 "
                              f"(0 keeps all), got {keep!r}")
    registries = ppgan_registries()
    model = cfg.get('model')
    model_cls = _lookup(registries['MODELS'], model.get('name')) \
        if isinstance(model, dict) else None
    own_schedule = {'LRSCHEDULERS': _builds_own(model_cls, 'setup_lr_schedulers'),
                    'OPTIMIZERS': _builds_own(model_cls, 'setup_optimizers')}
    for where, registry_name, comp in _components(cfg, is_train):
        name = comp.get('name')
        if name is None:
            if own_schedule.get(registry_name):
                continue   # e.g. first-order motion reads lr_scheduler.lr_generator itself
            raise ConfigError(f"{source}: missing required key '{where}.name'")
        if registry_name == 'DATASETS' and name == 'RepeatDataset':
            continue
        registry = registries[registry_name]
        cls = _lookup(registry, name)
        if cls is None:
            raise ConfigError(f"{where}.name: unknown {registry_name} name {name!r}"
                              f"{_suggest(name, registry._obj_map)}")
        kwargs = {k: v for k, v in comp.items() if k != 'name'}
        if registry_name in ('MODELS', 'GENERATORS', 'DISCRIMINATORS', 'DATASETS'):
            sub = where.startswith('model.')
            _check_arguments(where, name, cls, kwargs, _BUILDER_KEYS.get(registry_name, ()),
                             strict=_is_ours(cls),
                             filled_in=sub and model_cls is not None and not _is_ours(model_cls))
    _check_scales(cfg)
