"""The HTTP side of the web app: a Starlette application over the app layer.

Routes::

    GET  /                         the page (static/index.html, app.js, app.css)
    GET  /api/info                 the loaded models, what they offer, the limits
    GET  /api/textures/NAME.png    preview of a bundled texture
    POST /api/uploads?name=FILE    raw image bytes -> {id, name, width, height} (checked)
    POST /api/jobs                 {mode, photo, style|texture, upscale} -> job (queued)
    GET  /api/jobs/ID              job state and progress
    GET  /api/jobs/ID/result       the finished PNG, streamed from disk (download)

Every failure is a JSON ``{"error": "..."}`` with a 4xx/5xx status that the
page shows next to the photo, naming the user's file, never a server path.
Jobs, uploads and models live in :mod:`ppgan_ext.apps`; this module only
parses requests and answers. Host/Origin checks and the security headers
are :mod:`.guard`'s, connection-level limits :mod:`.protocol`'s.
"""
import asyncio
import json
import os
import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..apps.jobs import BusyError, Job, JobStore, safe_name
from ..apps.photo_models import InputError, PhotoModels

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
STATIC_FILES = {'index.html': 'text/html; charset=utf-8',
                'app.js': 'text/javascript; charset=utf-8',
                'app.css': 'text/css; charset=utf-8'}
TOKEN_PLACEHOLDER = b'__PPGAN_EXT_TOKEN__'
MAX_DRAIN_BYTES = 256 * 2 ** 20   # a too-large body up to this size is read and dropped


@dataclass
class ServeOptions:
    """Limits of the HTTP side.

    Attributes:
        max_upload (int): Largest upload body in bytes. Default: 20 MiB.
        max_json (int): Largest JSON request body in bytes. Default: 4096.
        body_timeout (float): Seconds a client may pause while sending a
            body. Default: 10.
        token (str): The per-page token the page sends with every POST
            (``X-Ppgan-Token``); see :mod:`.guard`.
    """
    max_upload: int = 20 * 2 ** 20
    max_json: int = 4096
    body_timeout: float = 10.0
    token: str = ''


def error(status: int, message: str, close: bool = False) -> JSONResponse:
    """A JSON error answer; ``close`` ends the connection after it (an unread body)."""
    return JSONResponse({'error': message}, status,
                        headers={'Connection': 'close'} if close else None)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the full name as RFC 5987 ``filename*``."""
    fallback = re.sub(r'_+', '_', re.sub(r'[^A-Za-z0-9._-]', '_', name)).lstrip('_.') or 'result'

    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class _Refused(Exception):
    """A request answered with an error before it could be handled."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def _content_length(request: Request) -> Optional[int]:
    value = request.headers.get('content-length')
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise _Refused(error(400, f'bad Content-Length header: {value[:40]!r}', close=True))
    return int(value)


def _over_limit(request: Request, length: int, limit: int, label: str) -> _Refused:
    """413 for a declared body over ``limit``, without reading it when the client waits.

    A client that sent ``Expect: 100-continue`` gets the 413 instead of
    "100 Continue" and the connection closes; a body of another client up
    to :data:`MAX_DRAIN_BYTES` is dropped by the server so that the client
    reads the answer rather than a reset connection.
    """
    waits = request.headers.get('expect', '').lower() == '100-continue'
    return _Refused(error(413, f"{label}upload of {length} bytes is over the limit of {limit} "
                               f"bytes ({limit / 2 ** 20:.0f} MiB)",
                          close=waits or length > MAX_DRAIN_BYTES))


async def _chunks(request: Request, timeout: float):
    """The body's chunks; a pause longer than ``timeout`` seconds ends the request with 408."""
    while True:
        try:
            message = await asyncio.wait_for(request.receive(), timeout)
        except asyncio.TimeoutError:
            raise _Refused(error(408, f'the body did not arrive (no data for {timeout:g} s)',
                                 close=True)) from None
        if message['type'] == 'http.disconnect':
            raise ClientDisconnect()
        body = message.get('body', b'')
        if body:
            yield body
        if not message.get('more_body', False):
            return


class WebApp:
    """The routes over loaded models and a job store.

    Args:
        models (PhotoModels): What restore/stylize run.
        store (JobStore): Uploads and jobs.
        options (ServeOptions): Limits.
    """

    def __init__(self, models: PhotoModels, store: JobStore, options: ServeOptions):
        self.models = models
        self.store = store
        self.options = options
        self._textures = {}
        with open(os.path.join(STATIC_DIR, 'index.html'), 'rb') as f:
            page = f.read()
        if TOKEN_PLACEHOLDER not in page:
            raise ValueError(f'{STATIC_DIR}/index.html has no {TOKEN_PLACEHOLDER.decode()}')
        self.page = page.replace(TOKEN_PLACEHOLDER, options.token.encode('ascii'))

    def starlette(self) -> Starlette:
        routes = [
            Route('/', self.index),
            Route('/static/{name}', self.static),
            Route('/favicon.ico', lambda request: Response(status_code=204)),
            Route('/api/info', self.info),
            Route('/api/textures/{name}', self.texture),
            Route('/api/uploads', self.upload, methods=['POST']),
            Route('/api/jobs', self.submit, methods=['POST']),
            Route('/api/jobs/{job_id}', self.job),
            Route('/api/jobs/{job_id}/result', self.result),
        ]
        return Starlette(routes=routes, exception_handlers={
            HTTPException: _http_error, _Refused: _refused, ClientDisconnect: _gone,
            Exception: _internal_error})

    # ------------------------------------------------------------ GET
    async def index(self, request: Request) -> Response:
        return Response(self.page, media_type=STATIC_FILES['index.html'])

    async def static(self, request: Request) -> Response:
        name = request.path_params['name']
        if name not in STATIC_FILES or name == 'index.html':
            return error(404, f'no such file: {safe_name(name)}')
        return FileResponse(os.path.join(STATIC_DIR, name), media_type=STATIC_FILES[name])

    async def info(self, request: Request) -> Response:
        return JSONResponse({**self.models.info(), 'max_upload': self.options.max_upload,
                             'max_pixels': self.store.max_pixels,
                             'max_queue': self.store.max_queue})

    async def texture(self, request: Request) -> Response:
        file_name = request.path_params['name']
        name = file_name[:-4] if file_name.endswith('.png') else file_name
        try:
            if name not in self._textures:
                self._textures[name] = await run_in_threadpool(self._thumbnail, name)
        except InputError as e:
            return error(404, str(e))
        return Response(self._textures[name], media_type='image/png',
                        headers={'Cache-Control': 'max-age=3600'})

    def _thumbnail(self, name: str) -> bytes:
        import cv2

        rgb = self.models.texture(name)
        thumb = cv2.resize(rgb, (96, 96), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        return cv2.imencode('.png', thumb)[1].tobytes()

    def _job(self, request: Request) -> Job:
        job = self.store.job(request.path_params['job_id'])
        if job is None:
            raise _Refused(error(404, 'no such job (finished jobs are kept for a while only)'))
        return job

    async def job(self, request: Request) -> Response:
        return JSONResponse(self._job(request).public())

    async def result(self, request: Request) -> Response:
        job = self._job(request)
        if job.state != 'done' or not job.result or not os.path.isfile(job.result):
            return error(409, f'job {job.id} has no result '
                              f'({job.state}{": " + job.message if job.message else ""})')
        # streamed from disk in chunks; a download may take as long as the client needs
        return FileResponse(job.result, media_type='image/png',
                            headers={'Content-Disposition': content_disposition(job.download)})

    # ------------------------------------------------------------ POST
    async def upload(self, request: Request) -> Response:
        """Receive an image body into the upload folder in chunks (never all in memory)."""
        name = request.query_params.get('name', 'image')
        label = safe_name(name)
        limit = self.options.max_upload
        length = _content_length(request)
        if length is not None and length > limit:
            raise _over_limit(request, length, limit, f'{label}: ')
        try:
            with self.store.receiving() as partial:
                received = 0
                with open(partial, 'wb') as f:
                    async for chunk in _chunks(request, self.options.body_timeout):
                        received += len(chunk)
                        if received > limit:
                            return error(413, f'{label}: upload is over the limit of {limit} '
                                              f'bytes ({limit / 2 ** 20:.0f} MiB)', close=True)
                        f.write(chunk)
                upload = await run_in_threadpool(self.store.add_upload_file, partial, name)
        except BusyError as e:
            return error(503, str(e), close=True)
        except ValueError as e:
            return error(400, str(e))
        return JSONResponse({'id': upload.id, 'name': upload.name,
                             'width': upload.width, 'height': upload.height})

    async def _json_body(self, request: Request) -> dict:
        limit = self.options.max_json
        length = _content_length(request)
        if length is not None and length > limit:
            raise _Refused(error(413, f'request body of {length} bytes is over the limit of '
                                      f'{limit} bytes', close=True))
        raw = b''
        async for chunk in _chunks(request, self.options.body_timeout):
            raw += chunk
            if len(raw) > limit:
                raise _Refused(error(413, f'request body is over the limit of {limit} bytes',
                                     close=True))
        try:
            data = json.loads(raw.decode('utf-8'))
        except (ValueError, RecursionError) as e:
            reason = 'nested too deeply' if isinstance(e, RecursionError) else str(e)[:200]
            raise _Refused(error(400, f'bad request: not JSON ({reason})')) from None
        if not isinstance(data, dict):
            raise _Refused(error(400, 'bad request: expected a JSON object'))
        return data

    async def submit(self, request: Request) -> Response:
        data = await self._json_body(request)
        models, store = self.models, self.store
        mode = data.get('mode')
        try:
            if mode not in ('restore', 'stylize'):
                raise InputError(f"mode must be 'restore' or 'stylize', got {str(mode)[:40]!r}")
            photo = store.upload(str(data.get('photo', '')))
            if mode == 'restore':
                if models.restorer is None:
                    raise InputError('restore is not available: the app was started '
                                     'without --sr-model')

                def run(job: Job, result: str, progress) -> None:
                    job.height, job.width = models.restore(photo.path, result, progress)
                job = store.submit(mode, [photo.id], run)
            else:
                job = self._submit_stylize(data, photo)
        except InputError as e:
            return error(400, str(e))
        except KeyError as e:   # an upload id that is unknown or gone
            return error(400, str(e.args[0]))
        except BusyError as e:
            return error(503, str(e))
        return JSONResponse(job.public(), 202)

    def _submit_stylize(self, data: dict, photo) -> Job:
        from ..image_io import read_image as read_rgb

        models, store = self.models, self.store
        if models.stylizer is None:
            raise InputError('stylize is not available: the app was started without --lapstyle')
        upscale = bool(data.get('upscale'))
        if upscale and models.upscaler is None:
            raise InputError('upscale is not available: the app was started without an SR '
                             'model')
        texture = data.get('texture')
        uploads = [photo.id]
        if texture:
            texture = str(texture)
            models.texture(texture)   # checks the name
            style = None
        else:
            if not data.get('style'):
                raise InputError('choose a style: a bundled texture or an uploaded image')
            style = store.upload(str(data['style']))
            least = models.info()['style_min_side']
            if min(style.height, style.width) < least:
                raise InputError(f"style image {style.label} is {style.width}x{style.height}; "
                                 f"the style model needs sides of at least {least} pixels")
            uploads.append(style.id)

        def run(job: Job, result: str, progress) -> None:
            style_rgb = models.texture(texture) if style is None else read_rgb(style.path)
            models.check_style(style_rgb, texture if style is None else style.label)
            job.height, job.width = models.stylize(photo.path, style_rgb, result, upscale,
                                                   progress)
        return store.submit('stylize', uploads, run)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        what = 'page' if request.method in ('GET', 'HEAD') else 'endpoint'
        return error(404, f'no such {what}: {request.url.path[:200]}')
    if exc.status_code == 405:
        return error(405, f'method {request.method} is not allowed on {request.url.path[:200]}')
    return error(exc.status_code, str(exc.detail))


async def _refused(request: Request, exc: _Refused) -> Response:
    return exc.response


async def _gone(request: Request, exc: ClientDisconnect) -> Response:
    return error(400, 'the request was cut off', close=True)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error(500, f'internal error: {type(exc).__name__}')


def create_app(models: PhotoModels, store: JobStore, options: ServeOptions) -> Starlette:
    """The ASGI application of the web app (wrap it with :func:`.guard.guarded`)."""
    return WebApp(models, store, options).starlette()
