"""Every shim that ppgan 2.1.0 needs on Paddle 3.x, in one place.

ppgan 2.1.0 was written against Paddle 2.x.  On Paddle 3 the ``paddle.fluid``
namespace is gone, and ``ppgan.models`` imports
``paddle.fluid.layers.nn.soft_relu`` at module level (StarGAN v2), so the whole
model zoo fails to import.  :func:`apply` installs a minimal stand-in for that
import before ppgan is loaded.  On Paddle 2.6, where ``paddle.fluid`` still
exists, it changes nothing.

No other module of ppgan_ext looks at Paddle or ppgan versions.
"""
import importlib.util
import sys
import types
import warnings

# Paddle warns about a missing compiler cache on every import (it only matters
# for building custom C++ operators), and ppgan's models call paddle.to_tensor on
# tensors every iteration; neither is actionable for a user.
warnings.filterwarnings('ignore', message='No ccache found')
warnings.filterwarnings('ignore', message='To copy construct from a tensor')

import paddle  # noqa: E402

_APPLIED = False

PPGAN_INSTALL_HINT = (
    "ppgan is not installed. Install it with: "
    "pip install --no-deps ppgan==2.1.0 "
    "(or run `make install`, which also installs its runtime needs)")


def _soft_relu(x, threshold=40.0, name=None):
    """``log(1 + exp(clip(x, -threshold, threshold)))``, as Paddle 2's fluid op."""
    return paddle.log1p(paddle.exp(paddle.clip(x, -threshold, threshold)))


def _install_fluid_stand_in() -> None:
    try:
        has_fluid = importlib.util.find_spec('paddle.fluid') is not None
    except (ImportError, ValueError):
        has_fluid = False
    if has_fluid:
        return
    names = ('paddle.fluid', 'paddle.fluid.layers', 'paddle.fluid.layers.nn')
    modules = [types.ModuleType(n) for n in names]
    for parent, child, attr in ((modules[0], modules[1], 'layers'),
                                (modules[1], modules[2], 'nn')):
        setattr(parent, attr, child)
    modules[2].soft_relu = _soft_relu
    for name, module in zip(names, modules):
        sys.modules.setdefault(name, module)


def apply() -> None:
    """Make ``import ppgan.*`` work on the installed Paddle. Idempotent."""
    global _APPLIED
    if _APPLIED:
        return
    if importlib.util.find_spec('ppgan') is None:
        raise ImportError(PPGAN_INSTALL_HINT)
    _install_fluid_stand_in()
    _APPLIED = True
