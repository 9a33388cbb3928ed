"""The HTTP side of the web app: a static page and a small JSON API (standard library only).

Routes::

    GET  /                         the page (static/index.html, app.js, app.css)
    GET  /api/info                 what the loaded models offer, the limits
    GET  /api/textures/NAME.png    preview of a bundled texture
    POST /api/uploads?name=FILE    raw image bytes -> {id, width, height} (checked here)
    POST /api/jobs                 {mode, photo, style|texture, upscale} -> job (queued)
    GET  /api/jobs/ID              job state and progress
    GET  /api/jobs/ID/result       the finished PNG (download)

Every failure is a JSON ``{"error": "..."}`` with a 4xx/5xx status that the
page shows next to the photo. The page loads nothing from other hosts (no
fonts, scripts or analytics from a CDN), and the server sends a
``Content-Security-Policy`` that forbids the browser to load from anywhere
but this server.
"""
import json
import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple
from urllib.parse import parse_qs, urlparse

from .engine import Engine, InputError
from .jobs import BusyError, Job, JobStore

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
STATIC_FILES = {'index.html': 'text/html; charset=utf-8',
                'app.js': 'text/javascript; charset=utf-8',
                'app.css': 'text/css; charset=utf-8'}
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
MAX_JSON_BYTES = 4096
MAX_DRAIN_BYTES = 256 * 2 ** 20   # too-large uploads up to this size are read and dropped
REQUEST_TIMEOUT = 10.0   # seconds a client may take to send a request (or stay idle)


class AppServer(ThreadingHTTPServer):
    """A threading HTTP server that serves at most ``max_connections`` requests at once.

    A request beyond that is answered at once with 503 from the accepting thread.
    """
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128   # listen backlog: a burst of connections waits, not reset

    def __init__(self, address: Tuple[str, int], engine: Engine, store: JobStore,
                 max_upload: int, max_connections: int = 64, quiet: bool = True):
        self.engine = engine
        self.store = store
        self.max_upload = max_upload
        self.quiet = quiet
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, AppHandler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _refuse_busy(sock) -> None:
    """Answer 503 on a connection beyond the limit, without a handler thread.

    What the client already sent (a small request) is read first, so that
    closing the socket does not reset the connection before the answer arrives.
    """
    body = json.dumps({'error': 'busy: too many connections at once; try again in a '
                                'moment'}).encode()
    try:
        sock.settimeout(0.5)
        received = 0
        while received < 65536:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
            if len(chunk) < 65536:
                break
        sock.sendall(b'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json'
                     b'\r\nConnection: close\r\nContent-Length: ' + str(len(body)).encode()
                     + b'\r\n\r\n' + body)
    except OSError:
        pass


class AppHandler(BaseHTTPRequestHandler):
    server: AppServer
    server_version = 'ppgan-ext-serve'
    sys_version = ''
    timeout = REQUEST_TIMEOUT
    protocol_version = 'HTTP/1.1'

    # ------------------------------------------------------------ plumbing
    def log_message(self, format, *args):  # noqa: A002  (BaseHTTPRequestHandler's name)
        if not self.server.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str,
              headers: Optional[dict] = None) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.send_header('Content-Security-Policy', CSP)
        self.send_header('Referrer-Policy', 'no-referrer')
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data).encode('utf-8'), 'application/json')

    def _error(self, status: int, message: str) -> None:
        self._json(status, {'error': message})

    def _check_length(self, limit: int) -> Optional[int]:
        """The body's Content-Length, or None after answering 411/413."""
        length = self.headers.get('Content-Length')
        if length is None or not length.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, 'a Content-Length header is required')
            return None
        if int(length) > limit:
            # read and drop a body of moderate size, so the client gets the answer instead of
            # a reset connection; a larger one is answered at once and the connection closed
            if int(length) <= MAX_DRAIN_BYTES:
                left = int(length)
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    left -= len(chunk)
            else:
                self.close_connection = True
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"upload of {int(length)} bytes is over the limit of {limit} bytes "
                        f"({limit / 2 ** 20:.0f} MiB)")
            return None
        return int(length)

    def _body(self, limit: int) -> Optional[bytes]:
        """A small request body in memory, or None after answering 4xx."""
        length = self._check_length(limit)
        if length is None:
            return None
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, 'the request was cut off')
            return None
        return data

    # ------------------------------------------------------------ GET
    def do_GET(self):  # noqa: N802  (BaseHTTPRequestHandler's name)
        url = urlparse(self.path)
        parts = [p for p in url.path.split('/') if p]
        try:
            if not parts:
                return self._static('index.html')
            if parts[0] == 'static' and len(parts) == 2:
                return self._static(parts[1])
            if parts == ['favicon.ico']:
                return self._send(HTTPStatus.NO_CONTENT, b'', 'image/x-icon')
            if parts == ['api', 'info']:
                return self._json(HTTPStatus.OK, {
                    **self.server.engine.info(), 'max_upload': self.server.max_upload,
                    'max_pixels': self.server.store.max_pixels,
                    'max_queue': self.server.store.max_queue})
            if len(parts) == 3 and parts[:2] == ['api', 'textures']:
                return self._texture(parts[2])
            if len(parts) in (3, 4) and parts[:2] == ['api', 'jobs']:
                job = self.server.store.job(parts[2])
                if job is None:
                    return self._error(HTTPStatus.NOT_FOUND, 'no such job (finished jobs are '
                                       'kept for a while only)')
                if len(parts) == 3:
                    return self._json(HTTPStatus.OK, job.public())
                if parts[3] == 'result':
                    return self._result(job)
            self._error(HTTPStatus.NOT_FOUND, f'no such page: {url.path}')
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_HEAD = do_GET

    def _static(self, name: str) -> None:
        if name not in STATIC_FILES:
            return self._error(HTTPStatus.NOT_FOUND, f'no such file: {name}')
        with open(os.path.join(STATIC_DIR, name), 'rb') as f:
            self._send(HTTPStatus.OK, f.read(), STATIC_FILES[name])

    def _texture(self, file_name: str) -> None:
        import cv2

        name = file_name[:-4] if file_name.endswith('.png') else file_name
        try:
            rgb = self.server.engine.texture(name)
        except InputError as e:
            return self._error(HTTPStatus.NOT_FOUND, str(e))
        thumb = cv2.resize(rgb, (96, 96), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        ok, png = cv2.imencode('.png', thumb)
        self._send(HTTPStatus.OK, png.tobytes(), 'image/png',
                   {'Cache-Control': 'max-age=3600'})

    def _result(self, job: Job) -> None:
        if job.state != 'done' or not job.result or not os.path.isfile(job.result):
            return self._error(HTTPStatus.CONFLICT, f'job {job.id} has no result '
                               f'({job.state}{": " + job.message if job.message else ""})')
        with open(job.result, 'rb') as f:
            data = f.read()
        name = job.public()['download']
        self._send(HTTPStatus.OK, data, 'image/png',
                   {'Content-Disposition': f'attachment; filename="{name}"'})

    # ------------------------------------------------------------ POST
    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        try:
            if url.path == '/api/uploads':
                return self._upload(parse_qs(url.query).get('name', ['image'])[0])
            if url.path == '/api/jobs':
                return self._submit()
            self.close_connection = True
            self._error(HTTPStatus.NOT_FOUND, f'no such endpoint: {url.path}')
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _upload(self, name: str) -> None:
        """Receive an image body into the upload folder in chunks (never all in memory)."""
        length = self._check_length(self.server.max_upload)
        if length is None:
            return
        store = self.server.store
        partial = store.partial_path()
        left = length
        try:
            with open(partial, 'wb') as f:
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    f.write(chunk)
                    left -= len(chunk)
        except BaseException:   # a timeout or a dropped connection: nothing is kept
            os.remove(partial)
            raise
        if left:
            os.remove(partial)
            self.close_connection = True
            return self._error(HTTPStatus.BAD_REQUEST, 'the upload was cut off')
        try:
            upload = store.add_upload_file(partial, name)
        except ValueError as e:
            return self._error(HTTPStatus.BAD_REQUEST, str(e))
        self._json(HTTPStatus.OK, {'id': upload.id, 'name': upload.name,
                                   'width': upload.width, 'height': upload.height})

    def _submit(self) -> None:
        raw = self._body(MAX_JSON_BYTES)
        if raw is None:
            return
        try:
            request = json.loads(raw.decode('utf-8'))
            if not isinstance(request, dict):
                raise ValueError('expected a JSON object')
        except ValueError as e:
            return self._error(HTTPStatus.BAD_REQUEST, f'bad request: {e}')
        engine, store = self.server.engine, self.server.store
        mode = request.get('mode')
        try:
            if mode not in ('restore', 'stylize'):
                raise InputError(f"mode must be 'restore' or 'stylize', got {mode!r}")
            photo = store.upload(str(request.get('photo', '')))
            if mode == 'restore':
                if engine.restorer is None:
                    raise InputError('restore is not available: the app was started '
                                     'without --sr-model')

                def run(job: Job, result: str) -> None:
                    job.height, job.width = engine.restore(photo.path, result,
                                                           _progress(job))
            else:
                run = self._stylize_run(request, photo)
            job = store.submit(mode, photo.name, run)
        except InputError as e:
            return self._error(HTTPStatus.BAD_REQUEST, str(e))
        except KeyError as e:   # an upload id that is unknown or gone
            return self._error(HTTPStatus.BAD_REQUEST, str(e.args[0]))
        except BusyError as e:
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(e))
        self._json(HTTPStatus.ACCEPTED, job.public())

    def _stylize_run(self, request: dict, photo):
        from ..datasets.lapstyle_dataset import read_rgb

        engine, store = self.server.engine, self.server.store
        if engine.stylizer is None:
            raise InputError('stylize is not available: the app was started without --lapstyle')
        upscale = bool(request.get('upscale'))
        if upscale and engine.upscaler is None:
            raise InputError('upscale is not available: the app was started without an SR '
                             'model')
        texture = request.get('texture')
        if texture:
            engine.texture(str(texture))   # checks the name
            style_path, label = None, str(texture)
        else:
            if not request.get('style'):
                raise InputError('choose a style: a bundled texture or an uploaded image')
            style = store.upload(str(request['style']))
            least = engine.info()['style_min_side']
            if min(style.height, style.width) < least:
                raise InputError(f"style image {style.name} is {style.width}x{style.height}; "
                                 f"the style model needs sides of at least {least} pixels")
            style_path, label = style.path, style.name

        def run(job: Job, result: str) -> None:
            style_rgb = engine.texture(texture) if style_path is None else read_rgb(style_path)
            engine.check_style(style_rgb, label)
            job.height, job.width = engine.stylize(photo.path, style_rgb, result, upscale,
                                                   _progress(job))
        return run


def _progress(job: Job):
    def update(fraction: float, stage: str) -> None:
        job.progress, job.stage = max(0.0, min(1.0, fraction)), stage
    return update


def make_server(engine: Engine, store: JobStore, host: str = '127.0.0.1', port: int = 8765,
                max_upload: int = 20 * 2 ** 20, max_connections: int = 64,
                quiet: bool = True) -> AppServer:
    """Bind the app's HTTP server (call ``serve_forever()`` on it)."""
    return AppServer((host, port), engine, store, max_upload, max_connections, quiet)
