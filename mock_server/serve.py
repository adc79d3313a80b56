"""Serving the mock on a real port: waitress, granian (one process, faster), or a test thread."""

from __future__ import annotations

import gc
import io
import json
import os
import re
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .config import MockConfig
from .core.errors import (
    ApiError,
    FieldError,
    InternalError,
    InvalidRequest,
    PayloadTooLarge,
    RequestTimeout,
)
from .http.app import REFUSAL

CONFIG_ENV = "MAXGOOD_MOCK_CONFIG"


@dataclass
class RunningServer:
    """A mock served from a background thread; `stop` closes it."""

    root_url: str
    base_url: str
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` on a free loopback port from a thread, for tests and the embedded target.

    Werkzeug's threaded server, because it stops cleanly (`shutdown`) where waitress's loop
    cannot be stopped from another thread; `maxgood-mock` serves with waitress or granian.
    """
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="maxgood-mock", daemon=True)
    thread.start()
    root = f"http://{host}:{server.server_port}"
    return RunningServer(root, root + "/v1beta", server, thread)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Tests send thousands of requests; the access log would drown their output."""


# Slow clients. A connection that sends its head or its body slowly must hold no thread: with
# granian's WSGI interface each request's body is read from the worker thread that runs the
# app, so eight clients that announce a body and never send it hold eight threads and the mock
# answers no one. Both servers here read the whole request before the app sees it, and only
# then give it a thread; and neither waits for a request for ever:
READ_TIMEOUT = 10  # s: granian, for the head and then for the body (408); waitress, of silence
MAX_CONNECTIONS = 1000  # waitress: open connections before it stops accepting
FRONT_MAX_BODY = 16 * 1024 * 1024  # larger bodies are refused unread (413; the API takes 64 KiB)


def serve_waitress(
    app: Flask, host: str, port: int, threads: int = 8, read_timeout: int = READ_TIMEOUT
) -> None:
    """Waitress buffers each request whole (head, then body) in its event loop before a thread
    runs the app, so slow clients hold a socket, never a thread; its own refusals (bad
    framing, oversized headers) are answered by the app as problem details (`ProblemChannel`)."""
    from waitress.server import create_server

    settle()
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="maxgood-mock",
        channel_timeout=read_timeout,
        cleanup_interval=max(1, read_timeout // 2),  # how often silent connections are closed
        connection_limit=MAX_CONNECTIONS,
        max_request_body_size=FRONT_MAX_BODY,
    )
    server.channel_class = _problem_channel()  # type: ignore[union-attr]
    server.run()


def _problem_channel() -> type:
    """Waitress's channel, its refusals answered by the app: waitress's own error page is
    text/plain, and for a header with CR or LF it echoes the header back, credential included."""
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser
    from waitress.task import WSGITask
    from waitress.utilities import BadRequest, find_double_newline

    class ProblemErrorTask(WSGITask):
        """The request waitress refused, handed to the app as a bare environ that carries only
        the refusal: nothing of what was received reaches the answer."""

        def get_environment(self) -> dict[str, Any]:
            error = self.request.error
            server = self.channel.server
            self.environ = {
                "REQUEST_METHOD": "GET",
                "SCRIPT_NAME": "",
                "PATH_INFO": "/",
                "QUERY_STRING": "",
                "CONTENT_LENGTH": "0",
                "REMOTE_ADDR": str(self.channel.addr[0]),
                "SERVER_NAME": server.server_name,
                "SERVER_PORT": str(server.effective_port),
                "SERVER_PROTOCOL": f"HTTP/{self.version}",
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(),
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": True,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
                REFUSAL: _server_refusal(error.code, error.reason),
            }
            return self.environ

        def execute(self) -> None:
            super().execute()
            self.set_close_on_finish()  # what follows on the connection cannot be trusted

    class BareLineFeedParser(HTTPRequestParser):
        """Waitress ends a head only at CRLF CRLF: a head ended by bare LFs would wait,
        unanswered, until the connection times out. Refuse it (400) instead."""

        def received(self, data: bytes) -> int:
            if self.body_rcv is None and not self.completed:
                head = self.header_plus + data
                if find_double_newline(head) < 0 and re.search(rb"\n\r?\n", head):
                    self.parse_header(b"GET / HTTP/1.0\r\n")
                    self.error = BadRequest("bare LF line endings")
                    self.completed = True
                    return len(data)
            return int(super().received(data))

    class ProblemChannel(HTTPChannel):
        parser_class = BareLineFeedParser
        error_task_class = ProblemErrorTask

    return ProblemChannel


def _server_refusal(status: int, reason: str) -> ApiError:
    """The ApiError for what an HTTP server refused on its own: a body over its size, or
    anything it could not read as HTTP (400; waitress's 501 for a transfer coding it does not
    know is the client's error too). Its 500 (the app broke the WSGI protocol) stays a 500."""
    if status == 413:
        return PayloadTooLarge(f"The body is over {FRONT_MAX_BODY} bytes.")
    if status == 500:
        return InternalError()
    detail = f"The request is not well-formed HTTP/1.1 ({reason.lower()})."
    return InvalidRequest(detail, [FieldError("", "not well-formed HTTP")])


def serve_granian(
    config: MockConfig, host: str, port: int, threads: int = 8, read_timeout: int = READ_TIMEOUT
) -> None:
    """Granian in ONE worker process, so the in-memory state stays shared, through its RSGI
    interface (`Front`), which reads each request whole before a thread runs the app."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    served = {"threads": threads, "read_timeout": read_timeout}
    os.environ[CONFIG_ENV] = json.dumps({**asdict(config), **served}, default=str)
    Granian(
        "mock_server.serve:app_from_env",
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        http=HTTPModes.http1,
        websockets=False,  # an upgrade request is one more request the API has no path for
        workers=1,
        factory=True,
        log_access=False,
        http1_settings=HTTP1Settings(header_read_timeout=read_timeout * 1000),
    ).serve()


def app_from_env() -> Front:
    """The app factory granian's worker calls, with the config the parent process set."""
    from . import create_app

    raw = json.loads(os.environ.get(CONFIG_ENV, "{}"))
    threads, read_timeout = raw.pop("threads", 8), raw.pop("read_timeout", READ_TIMEOUT)
    if "faults" in raw:
        raw["faults"] = tuple(raw["faults"])
    app = create_app(MockConfig(**raw))
    from .persist import save_at_exit

    save_at_exit(app)  # this worker holds the state: it saves it (--state) when stopped
    settle()
    return Front(app, threads, read_timeout)


class Front:
    """An RSGI application in front of the WSGI app: it reads the body on granian's event loop,
    where a slow one costs a suspended coroutine, within `read_timeout` and FRONT_MAX_BODY, and
    only then runs the app on one of `threads` threads. The threads matter for an app that
    waits (simulated latency), not for speed: the app holds the GIL while it works."""

    def __init__(self, app: Flask, threads: int, read_timeout: float = READ_TIMEOUT) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.app = app
        self.read_timeout = read_timeout
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="maxgood-mock")

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        import asyncio

        if scope.proto != "http":
            return
        environ = self.environ(scope)
        declared = environ.get("CONTENT_LENGTH")
        body, refusal = b"", None
        if declared or "HTTP_TRANSFER_ENCODING" in environ:
            try:
                async with asyncio.timeout(self.read_timeout):
                    body, refusal = await _read_body(proto, declared)
            except TimeoutError:
                refusal = RequestTimeout(self.read_timeout)
        if refusal is not None:
            environ[REFUSAL] = refusal
        elif declared is None:
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(self.pool, self.call, environ)
        if refusal is not None:
            headers.append(("connection", "close"))  # the rest of the request is not read
        proto.response_bytes(status, headers, content)

    def __rsgi_del__(self, loop: Any) -> None:
        self.pool.shutdown(wait=False)

    def call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run the WSGI app on this thread; its status, headers and whole body."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return started[0], list(started[1]), content

    @staticmethod
    def environ(scope: Any) -> dict[str, Any]:
        """PEP 3333's environ from granian's RSGI scope. Granian gives the path percent-decoded
        as UTF-8; WSGI wants its bytes as Latin-1 (werkzeug decodes them back)."""
        host, _, port = scope.server.rpartition(":")
        path = scope.path
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path.encode("utf-8", "surrogateescape").decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": host,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": scope.client.rpartition(":")[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        headers = scope.headers
        for name, _ in headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            if key not in environ:
                environ[key] = ",".join(headers.get_all(name))
        return environ


async def _read_body(proto: Any, declared: str | None) -> tuple[bytes, ApiError | None]:
    """The whole body, or what refuses it: over FRONT_MAX_BODY (left unread), or broken off."""
    too_large = PayloadTooLarge(f"The body is over {FRONT_MAX_BODY} bytes.")
    broken = InvalidRequest("The body did not arrive whole.", [FieldError("", "broken off")])
    # hyper has checked that a Content-Length is digits (and at most a u64)
    if declared is not None and (len(declared) > 18 or int(declared) > FRONT_MAX_BODY):
        return b"", too_large
    chunks: list[bytes] = []
    size = 0
    stream = proto.__aiter__()
    while True:
        try:
            chunk = await stream.__anext__()
        except StopAsyncIteration:
            return b"", broken
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > FRONT_MAX_BODY:
            return b"", too_large
    # Granian (2.8) answers both the end of a body and a body that broke off (a closed
    # connection, a malformed chunk) with an empty chunk; only after the end is the stream
    # gone. No app sees a body that did not arrive whole.
    try:
        await stream.__anext__()
    except StopAsyncIteration:
        body = b"".join(chunks)
        if declared is None or len(body) == int(declared):
            return body, None
    return b"", broken


def settle() -> None:
    """Keep what lives as long as the process (modules, the parsed spec, compiled schemas, the
    seed) out of every later garbage collection: a full collection walks all tracked objects,
    and with these tens of thousands in it one pauses every request in flight for tens of ms."""
    gc.collect()
    gc.freeze()
