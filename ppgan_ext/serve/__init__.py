"""``paddlegan serve``: a local web app to restore and stylize photos.

Starlette on uvicorn with one static page: nothing is fetched from or
reported to any other host. The app's own logic (models, uploads, the job
queue, the work folder) is in :mod:`ppgan_ext.apps`; here are only the HTTP
routes (:mod:`.server`), the Host/Origin checks (:mod:`.guard`), the
connection limits (:mod:`.protocol`) and start/stop (:mod:`.run`).
"""
from .run import ServerSettings, serve  # noqa: F401
from .server import ServeOptions, create_app  # noqa: F401
