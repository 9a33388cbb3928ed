"""Start and stop the web app: socket, work folder, uvicorn, signals, clean-up.

The order makes a failed start leave nothing behind: the port is bound
first (a busy port is one line, before any folder is touched), then the
work folder is locked (:class:`ppgan_ext.apps.work_dir.WorkDir`: a folder
in use by another app is one line and nothing in it is deleted), then the
job store empties its ``uploads/`` and ``results/``. SIGTERM and SIGINT
both stop the server gracefully (open answers get a few seconds), stop the
running job at its next step, and remove the default temporary work folder;
Paddle's C++ signal handlers are turned off so that neither prints a fatal
error block.
"""
import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional

import uvicorn

from ..apps.jobs import JobStore
from ..apps.photo_models import PhotoModelOptions, PhotoModels
from ..apps.work_dir import WorkDir

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class ServerSettings:
    """How ``paddlegan serve`` runs (the command's flags).

    Attributes:
        host (str): Address to listen on. Default: '127.0.0.1'.
        port (int): Port (0: any free one). Default: 8765.
        work_dir (str, optional): Work folder (default: a new temporary
            folder, removed on exit).
        allowed_hosts (list[str]): More ``Host`` names to accept.
        max_upload (int): Largest upload in bytes. Default: 20 MiB.
        max_pixels (int): Largest image in pixels.
        max_queue (int): Jobs waiting or running at once. Default: 8.
        header_timeout (float): Seconds to send a request's headers. Default: 10.
        body_timeout (float): Longest pause while sending a body. Default: 10.
        max_connections (int): Open connections at once. Default: 1000.
        shutdown_timeout (float): Seconds open answers get on shutdown. Default: 5.
        verbose (bool): Log every request. Default: False.
    """
    host: str = '127.0.0.1'
    port: int = 8765
    work_dir: Optional[str] = None
    allowed_hosts: List[str] = field(default_factory=list)
    max_upload: int = 20 * 2 ** 20
    max_pixels: int = 2048 * 2048
    max_queue: int = 8
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 1000
    shutdown_timeout: float = 5.0
    verbose: bool = False


class _Stop(Exception):
    """SIGTERM/SIGINT before the server loop runs."""


def browser_address(host: str, port: int) -> str:
    """An address a browser on this computer opens for an app listening on ``host``."""
    name = host
    try:
        ip = ipaddress.ip_address(host.strip('[]'))
        if ip.is_unspecified:      # 0.0.0.0 / ::: every address, loopback among them
            name = '127.0.0.1' if ip.version == 4 else '::1'
    except ValueError:
        pass
    return f"http://{'[' + name + ']' if ':' in name else name}:{port}/"


def bind(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket; ValueError naming ``--host``/``--port`` when it cannot listen."""
    try:
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        return socket.create_server((host.strip('[]'), port), family=family, backlog=backlog,
                                    reuse_port=False)
    except (OSError, OverflowError) as e:
        raise ValueError(f"--host {host} --port {port}: cannot listen "
                         f"({getattr(e, 'strerror', None) or e})") from None


def build_server(models: PhotoModels, store: JobStore, settings: ServerSettings,
                 token: Optional[str] = None) -> uvicorn.Server:
    """The uvicorn server of the app (run it with ``server.run(sockets=[bind(...)])``).

    Args:
        models (PhotoModels): Loaded models.
        store (JobStore): Uploads and jobs (in a locked work folder).
        settings (ServerSettings): Limits and addresses.
        token (str, optional): The per-page token (default: a new random one).
    """
    from .guard import Guard, allowed_hosts
    from .protocol import limited_protocol
    from .server import ServeOptions, create_app

    token = token or secrets.token_urlsafe(24)
    app = create_app(models, store, ServeOptions(
        max_upload=settings.max_upload, body_timeout=settings.body_timeout, token=token))
    app = Guard(app, allowed_hosts(settings.host, settings.allowed_hosts), token)
    config = uvicorn.Config(
        app, http=limited_protocol(settings.header_timeout, settings.max_connections),
        lifespan='off', log_config=None, access_log=settings.verbose,
        log_level='info' if settings.verbose else 'warning', server_header=False,
        timeout_keep_alive=5, timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
        h11_max_incomplete_event_size=16 * 1024, backlog=1024)
    if settings.verbose:
        logging.basicConfig(level=logging.INFO, format='%(message)s')
    return _Server(config)


def _quiet_paddle_signals() -> None:
    """Turn Paddle's C++ fatal-signal handlers off (they print a block on SIGTERM)."""
    import paddle

    paddle.disable_signal_handler()


def _raise_stop(signum, frame):
    raise _Stop()


def serve(model_options: PhotoModelOptions, settings: ServerSettings) -> int:
    """Run the web app until SIGTERM or SIGINT; 0 after a clean stop.

    Raises:
        ValueError / FileNotFoundError: bad flags, a model that does not
            load, a port that is taken, a work folder in use (one line each;
            nothing is left behind).
    """
    _quiet_paddle_signals()
    previous = {s: signal.signal(s, _raise_stop) for s in HANDLED_SIGNALS}
    work = store = None
    sock = None
    started = False
    try:
        models = PhotoModels(model_options)
        _quiet_paddle_signals()   # loading a predictor may install them again
        for s in HANDLED_SIGNALS:
            signal.signal(s, _raise_stop)
        sock = bind(settings.host, settings.port)
        temporary = settings.work_dir is None
        work = WorkDir(tempfile.mkdtemp(prefix='ppgan-ext-serve-') if temporary
                       else settings.work_dir)
        work.claim()
        work.created = work.created or temporary
        store = JobStore(work.path, settings.max_pixels, settings.max_queue)
        server = build_server(models, store, settings)
        port = sock.getsockname()[1]
        print(f'serving on {browser_address(settings.host, port)} (work folder {work.path}); '
              f'Ctrl+C stops', flush=True)
        if host_is_public(settings.host):
            print(f'warning: --host {settings.host}: the app is reachable from other computers '
                  f'(no TLS, no accounts: see docs/serve.md)', file=sys.stderr, flush=True)
        for s in HANDLED_SIGNALS:
            signal.signal(s, server.handle_exit)
        started = True
        server.run(sockets=[sock])
    except _Stop:
        pass
    finally:
        for s in HANDLED_SIGNALS:
            signal.signal(s, signal.SIG_IGN)   # a second signal must not cut the clean-up short
        if sock is not None:
            sock.close()
        stopped = store.close() if store is not None else True
        if work is not None:
            # the temporary folder always goes; a --work-dir made by a failed start too
            work.release(remove=work.created and (temporary or not started))
        for s, handler in previous.items():
            signal.signal(s, handler)
        if not stopped:   # a model step still running: leave without waiting for it
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0


def host_is_public(host: str) -> bool:
    """True unless ``host`` is a loopback address or ``localhost``."""
    if host.lower() == 'localhost':
        return False
    try:
        return not ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return True


class _Server(uvicorn.Server):
    """uvicorn's server with our signal handling (uvicorn's re-raises the signal on exit)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield

    def run(self, sockets=None):
        return asyncio.run(self.serve(sockets=sockets))
