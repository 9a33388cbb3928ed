"""Who may talk to the web app: Host and Origin checks, and the headers of every answer.

* ``Host`` must name the listening address, ``localhost`` or a name given
  with ``--allowed-host`` (``*`` allows any, for a proxy that checks it):
  a page of another site that rebinds its DNS name to 127.0.0.1 is refused
  (DNS rebinding).
* A request that changes state (any method but GET/HEAD/OPTIONS) needs an
  ``Origin`` of this very site (its ``host:port`` equal to ``Host``) or, when
  the client sends no ``Origin``, the page's token in ``X-Ppgan-Token``: a
  form or script of another site cannot upload or start jobs.
* Only HTTP/1.0 and 1.1 are answered (505 otherwise).
* Every answer carries a ``Content-Security-Policy`` of ``'self'``,
  ``nosniff``, no referrer, and ``Cache-Control: no-store`` unless set.
"""
import hmac
import ipaddress
import json
from typing import Iterable, List, Optional
from urllib.parse import urlsplit

CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')
LOCAL_NAMES = ('localhost', '127.0.0.1', '::1')
TOKEN_HEADER = 'x-ppgan-token'
_HEADERS = [(b'content-security-policy', CSP.encode()), (b'x-content-type-options', b'nosniff'),
            (b'referrer-policy', b'no-referrer'), (b'x-frame-options', b'DENY')]


def host_name(value: str) -> str:
    """The name in a ``Host`` header or URL netloc, without port and brackets, lower case."""
    value = value.strip().lower()
    if value.startswith('['):
        return value[1:].split(']', 1)[0]
    if value.count(':') == 1:
        return value.split(':', 1)[0]
    return value


def allowed_hosts(listen_host: str, extra: Iterable[str] = ()) -> List[str]:
    """The ``Host`` names accepted for an app listening on ``listen_host``.

    ``localhost``/``127.0.0.1``/``::1`` and the listening address itself;
    an unspecified address (``0.0.0.0``, ``::``) adds nothing more (name the
    names the app is reached by with ``extra``, i.e. ``--allowed-host``).
    """
    names = list(LOCAL_NAMES)
    host = host_name(listen_host)
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    if not unspecified and host not in names:
        names.append(host)
    names += [host_name(e) if e != '*' else '*' for e in extra if e]
    return names


class Guard:
    """ASGI middleware applying the checks above to ``app``.

    Args:
        app: The ASGI application.
        hosts (list[str]): Accepted ``Host`` names (:func:`allowed_hosts`).
        token (str): The per-page token.
    """

    def __init__(self, app, hosts: List[str], token: str):
        self.app = app
        self.hosts = set(hosts)
        self.token = token

    def _refusal(self, scope) -> Optional[tuple]:
        headers = {}
        for key, value in scope.get('headers', ()):
            headers.setdefault(key.decode('latin-1').lower(), value.decode('latin-1'))
        if scope.get('http_version') not in ('1.0', '1.1'):
            return 505, f"HTTP/{scope.get('http_version')} is not supported; use HTTP/1.1"
        host = headers.get('host', '')
        if '*' not in self.hosts and host_name(host) not in self.hosts:
            return 400, (f"Host {host[:80]!r} is not an address of this app; open it at "
                         f"localhost, or start it with --allowed-host NAME")
        if scope['method'] in SAFE_METHODS:
            return None
        origin = headers.get('origin')
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme in ('http', 'https') and parts.netloc.lower() == host.lower():
                return None
            return 403, (f"Origin {origin[:80]!r} is not this app's page; requests that "
                         f"change something are accepted from the app's own page only")
        token = headers.get(TOKEN_HEADER, '')
        if token and hmac.compare_digest(token.encode(), self.token.encode()):
            return None
        return 403, ("no Origin header and no page token: requests that change something are "
                     "accepted from the app's own page only (or with its X-Ppgan-Token header)")

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message['type'] == 'http.response.start':
                headers = list(message.get('headers', []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                if b'cache-control' not in present:
                    headers.append((b'cache-control', b'no-store'))
                message = {**message, 'headers': headers}
            await send(message)

        refusal = self._refusal(scope)
        if refusal is None:
            return await self.app(scope, receive, send_with_headers)
        status, text = refusal
        body = json.dumps({'error': text}).encode()
        await send_with_headers({'type': 'http.response.start', 'status': status, 'headers': [
            (b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]})
        await send_with_headers({'type': 'http.response.body', 'body': body})
