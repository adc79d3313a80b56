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
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request

from openapi import API_PREFIX

from ..core.errors import ServiceUnavailable

DROPPED = "connection_dropped"  # the journal's and the access log's code for a drop
OK, FAIL, DROP = "ok", "fail", "drop"


@dataclass(frozen=True)
class ChaosSettings:
    """What chaos does; all zero is off."""

    latency_ms: tuple[int, int] = (0, 0)
    error_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None  # None: one is picked at random, and shown by GET /_mock/chaos
    retry_after: int = 1

    def __post_init__(self) -> None:
        low, high = self.latency_ms
        if not 0 <= low <= high <= 60_000:
            raise ValueError("latency is MS or MIN-MAX milliseconds, from 0 to 60000")
        for name in ("error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} is a share from 0 to 1")
        if self.error_rate + self.drop_rate > 1.0:
            raise ValueError("error-rate and drop-rate add up to more than 1")
        if not 1 <= self.retry_after <= 3600:
            raise ValueError("retry-after is whole seconds from 1 to 3600")

    @classmethod
    def parse(cls, text: str) -> ChaosSettings:
        """`latency=50-200,error-rate=0.1,drop-rate=0.05,seed=7,retry-after=2`."""
        fields: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, equals, value = part.partition("=")
            name = name.strip().lower().replace("_", "-")
            try:
                if not equals:
                    raise ValueError
                if name == "latency":
                    low, _, high = value.removesuffix("ms").partition("-")
                    fields["latency_ms"] = (int(low), int(high or low))
                elif name in ("error-rate", "drop-rate"):
                    fields[name.replace("-", "_")] = float(value)
                elif name in ("seed", "retry-after"):
                    fields[name.replace("-", "_")] = int(value)
                else:
                    raise KeyError(name)
            except KeyError:
                raise ValueError(f"unknown chaos setting {name!r} (latency, error-rate, "
                                 "drop-rate, seed, retry-after)") from None
            except ValueError:
                raise ValueError(f"chaos setting {part!r} is not NAME=NUMBER") from None
        return cls(**fields)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ChaosSettings:
        latency = body.get("latency_ms") or {}
        return cls(
            latency_ms=(int(latency.get("min", 0)), int(latency.get("max", latency.get("min", 0)))),
            error_rate=float(body.get("error_rate", 0.0)),
            drop_rate=float(body.get("drop_rate", 0.0)),
            seed=body.get("seed"),
            retry_after=int(body.get("retry_after", 1)),
        )

    @property
    def active(self) -> bool:
        return self.latency_ms[1] > 0 or self.error_rate > 0 or self.drop_rate > 0


@dataclass(frozen=True)
class Draw:
    delay_s: float
    outcome: str


class Chaos:
    """The settings and their seeded sequence of draws, behind one lock."""

    def __init__(self, settings: ChaosSettings) -> None:
        self.lock = threading.Lock()
        self.configure(settings)

    def configure(self, settings: ChaosSettings) -> None:
        """New settings, and the sequence starts again from their seed."""
        with self.lock:
            self.settings = settings
            self.seed = settings.seed if settings.seed is not None else random.randrange(2**32)
            self.random = random.Random(self.seed)
            self.draws = 0

    def draw(self) -> Draw:
        with self.lock:
            s = self.settings
            # Always two numbers per request, whatever the settings, so the sequence replays.
            delay = self.random.uniform(*s.latency_ms) / 1000
            roll = self.random.random()
            self.draws += 1
        outcome = DROP if roll < s.drop_rate else FAIL if roll < s.drop_rate + s.error_rate else OK
        return Draw(delay, outcome)

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            s = self.settings
            return {
                "latency_ms": {"min": s.latency_ms[0], "max": s.latency_ms[1]},
                "error_rate": s.error_rate,
                "drop_rate": s.drop_rate,
                "seed": self.seed,
                "retry_after": s.retry_after,
                "active": s.active,
                "draws": self.draws,
            }


def init_app(app: Flask) -> None:
    app.before_request(disturb)


def disturb() -> Response | None:
    """Delay, fail or drop an API request as drawn; None lets it through."""
    from .state import get_state  # state holds a Chaos: imported here, not at the top

    chaos = get_state().chaos
    if not chaos.settings.active or not request.path.startswith(API_PREFIX):
        return None
    if request.method == "OPTIONS":
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
