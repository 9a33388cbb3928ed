"""``paddlegan serve``: a local web app to restore and stylize photos.

Standard library only (``http.server``) with one static page: nothing is
fetched from or reported to any other host. See :mod:`.server` (HTTP and
JSON API), :mod:`.jobs` (uploads, bounded queue, work folder) and
:mod:`.engine` (the models, run as the command line runs them).
"""
from .engine import Engine, EngineOptions, InputError  # noqa: F401
from .jobs import JobStore  # noqa: F401
from .server import make_server  # noqa: F401
