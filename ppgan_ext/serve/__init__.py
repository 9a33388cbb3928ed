"""``paddlegan serve``: a local web app to restore and stylize photos.

Starlette on uvicorn with one static page: nothing is fetched from or
reported to any other host. The app's own logic (models, uploads, the job
queue, the work folder) is in :mod:`ppgan_ext.apps`; here are only the HTTP
routes (:mod:`.server`), the Host/Origin checks (:mod:`.guard`), the
connection limits (:mod:`.protocol`), start/stop (:mod:`.run`) and the
``paddlegan serve`` command (:mod:`.command`).

The names below load Starlette and uvicorn on first use, so that
``paddlegan serve --help`` answers without them.
"""
import importlib

_LAZY = {'ServerSettings': '.run', 'serve': '.run', 'ServeOptions': '.server',
         'create_app': '.server'}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
