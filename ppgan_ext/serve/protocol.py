"""uvicorn's HTTP/1.1 protocol (h11) with the limits a local app needs against slow clients.

uvicorn closes idle keep-alive connections and bounds a request's header
size; this subclass adds, through uvicorn's ``http=`` protocol-class option:

* a request-header deadline: a client has ``header_timeout`` seconds from
  connecting (or from the end of its previous answer) to send a whole
  request line and headers; one that trickles them byte by byte is answered
  408 and closed (one that sends nothing is closed), so it holds its
  connection for at most that long;
* a connection cap: beyond ``max_connections`` open connections, a new one
  is answered 503 with a JSON ``busy`` message and closed;
* JSON instead of uvicorn's plain-text 400 for requests that h11 cannot
  parse (a bad request line, a non-numeric ``Content-Length``, headers over
  the size limit, an unknown HTTP version).
"""
import json
from typing import Type

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def raw_json_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer with a JSON ``{"error": message}`` body and ``Connection: close``."""
    body = json.dumps({'error': message}).encode()
    return (f'HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n'
            f'content-length: {len(body)}\r\nconnection: close\r\n'
            f'cache-control: no-store\r\n\r\n').encode() + body


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline, a connection cap and JSON errors."""

    header_timeout: float = 10.0
    max_connections: int = 1000

    def connection_made(self, transport) -> None:  # noqa: D401  (asyncio's name)
        super().connection_made(transport)
        self._header_timer = None
        if len(self.connections) > self.max_connections:
            self._refuse(503, 'Service Unavailable',
                         f'busy: more than {self.max_connections} connections at once; try '
                         f'again in a moment')
            return
        self._arm_header_timer()

    def _refuse(self, status: int, reason: str, message: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(raw_json_response(status, reason, message))
            self.transport.close()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if getattr(self, '_header_timer', None) is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self.conn.trailing_data[0]:   # part of a request arrived: say why it ends
            self._refuse(408, 'Request Timeout',
                         f'the request headers did not arrive within {self.header_timeout:g} s')
        else:                            # nothing sent: close quietly
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_header_timer()   # a whole request line and headers arrived

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()     # the next request on this connection

    def connection_lost(self, exc) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._cancel_header_timer()
        self._refuse(400, 'Bad Request',
                     'bad request: the request line or headers are malformed or too large '
                     '(e.g. a Content-Length that is not a number)')


def limited_protocol(header_timeout: float, max_connections: int) -> Type[LimitedH11Protocol]:
    """A :class:`LimitedH11Protocol` subclass with these limits (for ``uvicorn.Config(http=)``)."""
    if header_timeout <= 0 or max_connections < 1:
        raise ValueError(f"header timeout must be > 0 and connections >= 1, got "
                         f"{header_timeout}, {max_connections}")
    return type('LimitedH11Protocol', (LimitedH11Protocol,),
                {'header_timeout': float(header_timeout), 'max_connections': int(max_connections)})
