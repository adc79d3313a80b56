"""Chaos: latency and a share of failures on the API, so a client's timeouts and retries can be
exercised. Seeded: the same settings give the same sequence of delays and failures, request
after request, so a failing run replays. It changes no state: a failure is drawn before the
view runs.

Each API request draws one delay (uniform within `latency_ms`) and one outcome: a dropped
connection (`drop_rate`), a 503 `service_unavailable` with Retry-After (`error_rate`), or the
usual answer. The admin surface, the docs and CORS preflights are never disturbed.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from flask import Flask, Response, g, request

from openapi import API_PREFIX

from ..core.chaos import DROP, FAIL
from ..core.errors import ServiceUnavailable
from .state import get_state

DROPPED = "connection_dropped"  # the journal's and the access log's code for a drop


def init_app(app: Flask) -> None:
    app.before_request(disturb)


def disturb() -> Response | None:
    """Delay, fail or drop an API request as drawn; None lets it through."""
    chaos = get_state().chaos
    if not chaos.active or request.method == "OPTIONS" or not request.path.startswith(API_PREFIX):
        return None
    drawn = chaos.draw()
    if drawn.delay_s:
        time.sleep(drawn.delay_s)
    if drawn.outcome == FAIL:
        raise ServiceUnavailable(chaos.settings.retry_after)
    if drawn.outcome == DROP:
        if not drop_connection(request.environ):
            raise ServiceUnavailable(chaos.settings.retry_after)  # no connection to reach
        g.problem_code = DROPPED
        return Response(status=503)  # never sent: the connection is already closed
    return None


def can_drop(environ: dict[str, Any]) -> bool:
    """Whether this server lets the app reach the client's connection (granian does not)."""
    return "werkzeug.socket" in environ or bool(environ.get("REMOTE_PORT"))


def drop_connection(environ: dict[str, Any]) -> bool:
    """Close the client's connection before any byte of the answer: the client sees the
    connection end (RemoteDisconnected / ECONNRESET), as when a proxy or network drops it."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        return _shut(sock)
    # waitress: find the connection among this process's sockets by the client's address
    want = (environ.get("REMOTE_ADDR"), int(environ.get("REMOTE_PORT") or 0))
    for name in os.listdir("/proc/self/fd"):
        try:
            candidate = socket.socket(fileno=int(name))
        except OSError:
            continue
        try:
            if candidate.getpeername()[:2] == want:
                return _shut(candidate)
        except OSError:
            continue
        finally:
            candidate.detach()  # the server owns this descriptor: never close it here
    return False


def _shut(sock: socket.socket) -> bool:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True
