"""Reading weight files (``.pdparams``) with one-line errors that name the file.

Both ppgan's ``paddle.save`` files and ppgan-ext's checkpoints (plain pickles
of numpy arrays) are read, and the model registry's converted weights
(``.npz`` with ``'<net>/<parameter>'`` keys, :mod:`ppgan_ext.zoo.packaged`).
Nothing is ever downloaded.
"""
import glob
import os
from typing import Any, Dict

import paddle

__all__ = ['resolve_weights_path', 'read_state_file', 'is_state_dict', 'sub_state',
           'load_net_state']

_GLOB_CHARS = ('*', '?', '[')
# Buffers that record facts about the weights rather than weights; ppgan's files lack them.
_RECORD_KEYS = ('semantics_record',)


def resolve_weights_path(pattern: str, key: str) -> str:
    """Return the file a config value names.

    Args:
        pattern (str): A path, or a glob pattern (``*``, ``?``, ``[``) such as
            ``output_dir/lapstyle_draft-*/iter_30000_weight.pdparams``; a
            pattern resolves to the most recently modified match. ``~`` is
            expanded.
        key (str): The config key, used in error messages.

    Raises:
        FileNotFoundError: no such file / no match, naming ``key``.
    """
    path = os.path.expanduser(str(pattern))
    if any(c in path for c in _GLOB_CHARS):
        matches = [p for p in glob.glob(path) if os.path.isfile(p)]
        if not matches:
            raise FileNotFoundError(f"{key}: no file matches {pattern!r}")
        return max(matches, key=os.path.getmtime)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{key}: file not found: {pattern}")
    return path


def read_state_file(path: str, hint: str = '', key: str = '') -> Dict[str, Any]:
    """Load a ``.pdparams`` file into a dict of numpy arrays (nested for checkpoints).

    An ``.npz`` file of the model registry's converted weights (keys
    ``'<net>/<parameter>'``) reads as ``{net: {parameter: array}}``, the layout
    of a ppgan weight file, so ``--load`` takes it as it is.

    The one reader of weight files in this package: ``paddlegan export
    --load``, ``stylize --load``, the LapStyle weight chain and the VGG
    encoder all use it.

    Args:
        path (str): File to read.
        hint (str): Appended to error messages (e.g. where the file comes from).
            Default: ''.
        key (str): The flag or config key that named the file, put in front
            of error messages (e.g. ``'--load'``). Default: ''.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is truncated, not a weight file, or not a mapping.
    """
    suffix = f"; {hint}" if hint else ''
    prefix = f"{key} " if key else ''
    if not os.path.isfile(path):
        if key:
            raise FileNotFoundError(f"{key}: file not found: {path}{suffix}")
        raise FileNotFoundError(f"weight file not found: {path}{suffix}")
    if path.endswith('.npz'):
        return _read_npz(path, prefix, suffix)
    try:
        state = paddle.load(path, return_numpy=True)
    except Exception as e:  # paddle raises ValueError/EOFError/UnpicklingError...
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{prefix}{path}: not a ppgan weight file, or truncated or corrupt "
                         f"({type(e).__name__}: {reason}){suffix}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{prefix}{path}: not a ppgan weight file (expected a dict of "
                         f"parameters, got {type(state).__name__}){suffix}")
    return state


def _read_npz(path: str, prefix: str, suffix: str) -> Dict[str, Any]:
    """``{net: {parameter: array}}`` from an ``.npz`` with ``'<net>/<parameter>'`` keys."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{prefix}{path}: not a weight archive, or truncated or corrupt "
                         f"({type(e).__name__}: {reason}){suffix}") from None
    state: Dict[str, Any] = {}
    for key, value in arrays.items():
        net, sep, param = key.partition('/')
        if not sep or not param:
            raise ValueError(f"{prefix}{path}: entry {key!r} is not '<net>/<parameter>' (a "
                             f"converted weight archive of ppgan_ext.zoo){suffix}")
        state.setdefault(net, {})[param] = value
    if not state:
        raise ValueError(f"{prefix}{path}: the archive holds no parameters{suffix}")
    return state


def is_state_dict(value: Any) -> bool:
    """True for a non-empty mapping of parameter name -> array (one net's weights)."""
    return isinstance(value, dict) and bool(value) and all(
        hasattr(v, 'shape') for v in value.values())


def sub_state(state: Dict[str, Any], net_name: str, path: str, key: str) -> Dict[str, Any]:
    """The ``net_name`` entry of a checkpoint dict, or a clear error naming ``key``."""
    sub = state.get(net_name)
    if not isinstance(sub, dict):
        nets = sorted(k for k, v in state.items() if isinstance(v, dict))
        raise ValueError(f"{key}: {path} has no {net_name!r} weights "
                         f"(it holds: {', '.join(nets) or 'no nets'})")
    return sub


def load_net_state(net: paddle.nn.Layer, state: Dict[str, Any], source: str,
                   net_name: str = 'net', strict: bool = False) -> None:
    """Check one net's state dict against ``net`` and load it.

    Args:
        net (paddle.nn.Layer): The net to load into.
        state (dict): Parameter name -> array (numpy or tensor).
        source (str): Where ``state`` comes from, put in front of error
            messages (e.g. ``'--load w.pdparams'``).
        net_name (str): The net's name in messages. Default: 'net'.
        strict (bool): Also refuse parameters ``net`` does not have.
            Default: False.

    A net may define ``check_state(state, source)`` (raising ValueError) to
    refuse weights of an incompatible kind, e.g. the LapStyle drafting net
    checks the pyramid semantics recorded in ``semantics_record``; such
    record entries (:data:`_RECORD_KEYS`) may be absent from ``state``
    (files written by ppgan have none).

    Raises:
        ValueError: one line naming ``source``, the net and the first
            parameter that is missing, unexpected or of another shape.
    """
    import numpy as np

    if not is_state_dict(state):
        raise ValueError(f"{source}: entry {net_name!r} is not a state dict")
    check = getattr(net, 'check_state', None)
    if callable(check):
        check(state, f"{source}: {net_name}" if net_name not in source else source)
    own = {k: v for k, v in net.state_dict().items()
           if k.rsplit('.', 1)[-1] not in _RECORD_KEYS or k in state}
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own] if strict else []
    if missing or extra:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
        raise ValueError(f"{source}: net {net_name!r} does not match the config "
                         f"({len(missing)} missing, {len(extra)} unexpected parameters; "
                         f"{what})")
    for key, value in own.items():
        got = tuple(np.shape(state[key]))
        if got != tuple(value.shape):
            raise ValueError(f"{source}: {net_name}.{key} has shape {got}, the config's net "
                             f"wants {tuple(value.shape)} (trained with other net settings?)")
    net.set_state_dict({k: state[k] for k in own})
