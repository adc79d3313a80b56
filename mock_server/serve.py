"""Serving the mock on a real port: waitress, granian (one process, faster), or a test thread."""

from __future__ import annotations

import gc
import json
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .config import MockConfig

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


def serve_waitress(app: Flask, host: str, port: int, threads: int = 8) -> None:
    from waitress import serve

    settle()
    serve(app, host=host, port=port, threads=threads, ident="maxgood-mock")


def serve_granian(config: MockConfig, host: str, port: int, threads: int = 4) -> None:
    """Granian's WSGI interface in ONE worker process, so the in-memory state stays shared."""
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[CONFIG_ENV] = json.dumps(asdict(config), default=str)
    Granian(
        "mock_server.serve:app_from_env",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=threads,
        factory=True,
        log_access=False,
    ).serve()


def app_from_env() -> Flask:
    """The app factory granian's worker calls, with the config the parent process set."""
    from . import create_app

    raw = json.loads(os.environ.get(CONFIG_ENV, "{}"))
    if "faults" in raw:
        raw["faults"] = tuple(raw["faults"])
    app = create_app(MockConfig(**raw))
    from .persist import save_at_exit

    save_at_exit(app)  # this worker holds the state: it saves it (--state) when stopped
    settle()
    return app


def settle() -> None:
    """Keep what lives as long as the process (modules, the parsed spec, compiled schemas, the
    seed) out of every later garbage collection: a full collection walks all tracked objects,
    and with these tens of thousands in it one pauses every request in flight for tens of ms."""
    gc.collect()
    gc.freeze()
