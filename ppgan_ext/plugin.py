"""How ``import ppgan_ext`` plugs into PaddleGAN without importing Paddle or ppgan itself.

Registering our components means importing ppgan's registries, hence ppgan's
model zoo and Paddle: about 4 s. The deployment paths (ONNX Runtime and
OpenVINO predictors, ``--help`` of every command) need neither, so the
registration waits until ppgan is imported:

* :func:`install` (run by ``import ppgan_ext``) registers at once when
  ``ppgan`` is already in ``sys.modules``; otherwise it puts a one-shot
  finder in front of ``sys.meta_path``.
* When ``ppgan`` is first imported, that finder wraps ppgan's loader: before
  ppgan's ``__init__`` runs, :func:`ppgan_ext.compat.apply` installs the
  import shims ppgan 2.1.0 needs on Paddle 3; right after it, :func:`register`
  imports :mod:`ppgan_ext.datasets`, :mod:`ppgan_ext.models` and
  :mod:`ppgan_ext.metrics`, whose modules register into ppgan's registries.

So ``import ppgan_ext`` followed by any ppgan import (``from
ppgan.models.generators.builder import GENERATORS``, ppgan's ``Trainer``) sees
our components, exactly as when ``import ppgan_ext`` registered eagerly,
while ``import ppgan_ext.cli`` or ``ppgan_ext.deploy`` costs milliseconds.
:func:`register` may also be called directly; it is idempotent.
"""
import importlib
import importlib.abc
import os
import sys
import warnings

# The packages whose modules register components, in import order.
COMPONENT_PACKAGES = ('ppgan_ext.metrics', 'ppgan_ext.datasets', 'ppgan_ext.models')

# third-party warnings that tell a user nothing actionable (message prefixes)
QUIET_WARNINGS = ('No ccache found', 'To copy construct from a tensor',
                  'When training, we now always track global mean and variance')

_REGISTERED = False
_REGISTERING = False

__all__ = ['COMPONENT_PACKAGES', 'QUIET_WARNINGS', 'install', 'register',
           'quiet_third_party_warnings', 'quiet_paddle_logs']


def quiet_third_party_warnings() -> None:
    """Silence third-party warnings that tell a user nothing actionable. Idempotent.

    * Paddle warns about a missing compiler cache on every import (it only
      matters when building custom C++ operators);
    * ppgan's models call ``paddle.to_tensor`` on tensors every iteration;
    * Paddle's ``BatchNorm`` says on every training step that it tracks
      running statistics (it always has).

    Message-specific filters: every other warning is shown as before.
    """
    for message in QUIET_WARNINGS:
        warnings.filterwarnings('ignore', message=message)


def quiet_paddle_logs() -> None:
    """Keep Paddle's C++ INFO/WARNING log lines (glog) out of a command's output.

    Called by the command-line entry points only (``paddlegan``,
    ``tools/*.py``), never on import, and only before Paddle is loaded (glog
    reads the variable once). A ``GLOG_minloglevel`` set by the user wins;
    Paddle's errors still print.
    """
    if 'paddle' not in sys.modules:
        os.environ.setdefault('GLOG_minloglevel', '2')


def register() -> None:
    """Make ppgan importable and register every ppgan-ext component. Idempotent.

    Imports ppgan (through the compat shims) and Paddle.

    Raises:
        ImportError: ppgan is not installed (the message says what to run).
    """
    global _REGISTERED, _REGISTERING
    if _REGISTERED or _REGISTERING:
        return
    _REGISTERING = True
    try:
        from . import compat

        compat.apply()
        for name in COMPONENT_PACKAGES:
            importlib.import_module(name)
        _REGISTERED = True
    finally:
        _REGISTERING = False


class _RegisteringLoader(importlib.abc.Loader):
    """ppgan's own loader, with the compat shims before and our registration after it."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        from . import compat

        _uninstall()   # find_spec alone (importlib.util.find_spec) loads nothing: stay until here
        # ppgan's own loader from here on (importlib.resources, reloads)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        compat.apply()
        self._loader.exec_module(module)
        register()


class _PpganFinder(importlib.abc.MetaPathFinder):
    """``sys.meta_path`` entry that wraps the loader of the top-level ``ppgan`` until it loads."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'ppgan':
            return None
        spec = None
        for finder in sys.meta_path:   # the finders that would have found ppgan
            if isinstance(finder, _PpganFinder):
                continue
            find = getattr(finder, 'find_spec', None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _PpganFinder)]


def install() -> None:
    """Register now if ppgan is imported, else when it is. Idempotent (``import ppgan_ext``)."""
    quiet_third_party_warnings()
    if _REGISTERED:
        return
    if 'ppgan' in sys.modules:
        register()
    elif not any(isinstance(f, _PpganFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PpganFinder())
