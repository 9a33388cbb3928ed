"""Reading weight files (``.pdparams``) with one-line errors that name the file.

Both ppgan's ``paddle.save`` files and ppgan-ext's checkpoints (plain pickles
of numpy arrays) are read. Nothing is ever downloaded.
"""
import glob
import os
from typing import Any, Dict

import paddle

__all__ = ['resolve_weights_path', 'read_state_file', 'sub_state']

_GLOB_CHARS = ('*', '?', '[')


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


def read_state_file(path: str, hint: str = '') -> Dict[str, Any]:
    """Load a ``.pdparams`` file into a dict of numpy arrays (nested for checkpoints).

    Args:
        path (str): File to read.
        hint (str): Appended to error messages (e.g. where the file comes from).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is truncated, not a weight file, or not a mapping.
    """
    suffix = f"; {hint}" if hint else ''
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weight file not found: {path}{suffix}")
    try:
        state = paddle.load(path, return_numpy=True)
    except Exception as e:  # paddle raises ValueError/EOFError/UnpicklingError...
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path}: not a readable weight file, truncated or corrupt "
                         f"({type(e).__name__}: {reason}){suffix}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a dict of parameters, got "
                         f"{type(state).__name__}{suffix}")
    return state


def sub_state(state: Dict[str, Any], net_name: str, path: str, key: str) -> Dict[str, Any]:
    """The ``net_name`` entry of a checkpoint dict, or a clear error naming ``key``."""
    sub = state.get(net_name)
    if not isinstance(sub, dict):
        nets = sorted(k for k, v in state.items() if isinstance(v, dict))
        raise ValueError(f"{key}: {path} has no {net_name!r} weights "
                         f"(it holds: {', '.join(nets) or 'no nets'})")
    return sub
