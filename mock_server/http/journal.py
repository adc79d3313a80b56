"""What the mock received: one access-log line per request, and a bounded journal of recent
requests and answers for GET /_mock/requests.

Keys are never written out whole: `mgak_<credential_id>.<secret>` keeps its credential id, which
names the key, and loses its secret, wherever it appears (header, query, body).
"""

from __future__ import annotations

import fnmatch
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, Response, g, request

from ..config import MockConfig

SECRET = re.compile(r"(mgak_[^.\s\"'&,;]*)\.[^\s\"'&,;]+")
REDACTED = "***"
SECRET_HEADERS = frozenset({"authorization", "x-admin-token", "cookie", "proxy-authorization"})
BODY_LIMIT = 8 * 1024  # bytes of each body the journal keeps
# The admin surface and the docs are not what an integrator's client sent: not journaled.
UNJOURNALED = ("/_mock", "/docs", "/static", "/openapi.")


def redact(text: str) -> str:
    """Every API key in `text` with its secret replaced."""
    return SECRET.sub(rf"\1.{REDACTED}", text)


def redact_header(name: str, value: str) -> str:
    if name.lower() in SECRET_HEADERS:
        redacted = redact(value)
        return redacted if redacted != value else REDACTED
    return redact(value)


@dataclass
class Entry:
    """One request and its answer, as the journal keeps them (bodies cut at BODY_LIMIT)."""

    seq: int
    at: float
    method: str
    path: str
    query: str
    status: int
    code: str | None
    request_id: str
    duration_ms: float
    request_headers: dict[str, str]  # the WSGI environ's HTTP_* keys, as received
    request_body: bytes
    response_headers: list[tuple[str, str]]
    response_body: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "method": self.method,
            "path": self.path,
            "query": redact(self.query),
            "status": self.status,
            "code": self.code,
            "request_id": self.request_id,
            "duration_ms": round(self.duration_ms, 3),
            "request": {
                "headers": {_header_name(k): redact_header(_header_name(k), v)
                            for k, v in self.request_headers.items()},
                **_body(self.request_body),
            },
            "response": {
                "headers": {k: redact_header(k, v) for k, v in self.response_headers},
                **_body(self.response_body),
            },
        }

    def matches(self, method: str | None, path: str | None, status: str | None) -> bool:
        if method and self.method != method.upper():
            return False
        if path and not fnmatch.fnmatchcase(self.path, path):
            return False
        if status:
            wanted = status.lower()
            if wanted.endswith("xx"):
                return str(self.status)[0] == wanted[0]
            return str(self.status) == wanted
        return True


@dataclass
class Journal:
    """The last `size` entries, oldest first; `total` counts every entry since the last clear."""

    size: int
    entries: deque[Entry] = field(init=False)
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.entries = deque(maxlen=max(self.size, 0))

    def next_seq(self) -> int:
        with self.lock:
            self.total += 1
            return self.total

    def add(self, entry: Entry) -> None:
        with self.lock:
            self.entries.append(entry)

    def select(self, method: str | None = None, path: str | None = None,
               status: str | None = None, limit: int | None = None) -> list[Entry]:
        with self.lock:
            found = [e for e in self.entries if e.matches(method, path, status)]
        return found[-limit:] if limit else found

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.total = 0


def init_app(app: Flask, config: MockConfig, journal: Journal) -> None:
    """Time every request; after it, journal it and write its access-log line."""
    app.before_request(_start_clock)

    def observe(response: Response) -> Response:
        # This runs on every answer: read the request and g once each, not through the proxies.
        sent = request._get_current_object()  # type: ignore[attr-defined]
        seen = g._get_current_object()  # type: ignore[attr-defined]
        started = getattr(seen, "started", None)
        elapsed_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        code = getattr(seen, "problem_code", None)
        request_id = getattr(seen, "request_id", None) or "-"
        if config.access_log:
            write_access_line(response.status_code, code, request_id, elapsed_ms)
        path = sent.path
        if journal.size and path != "/" and not path.startswith(UNJOURNALED):
            journal.add(_entry(sent, journal.next_seq(), response, code, request_id, elapsed_ms))
        return response

    app.after_request(observe)


def _start_clock() -> None:
    g.started = time.perf_counter()


def write_access_line(status: int, code: str | None, request_id: str, elapsed_ms: float) -> None:
    """`12:00:01.234 POST /v1beta/users 409 already_member req_... 1.8ms key=mgak_id.***`"""
    target = request.full_path if request.query_string else request.path
    key = request.headers.get("Authorization", "")
    who = f" key={redact(key.removeprefix('Bearer ').strip())}" if key else ""
    now = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
    line = (f"{now} {request.method} {redact(target)} {status} {code or '-'} {request_id} "
            f"{elapsed_ms:.1f}ms{who}")
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _entry(sent: Request, seq: int, response: Response, code: str | None, request_id: str,
           elapsed_ms: float) -> Entry:
    body = getattr(sent, "_cached_data", b"") or b""  # only a body the view read
    answered = b"" if response.is_streamed else response.get_data()
    return Entry(
        seq=seq,
        at=time.time(),
        method=sent.method,
        path=sent.path,
        query=sent.query_string.decode("latin-1"),
        status=response.status_code,
        code=code,
        request_id=request_id,
        duration_ms=elapsed_ms,
        request_headers={k: v for k, v in sent.environ.items() if k in _HEADER_KEYS
                         or k.startswith("HTTP_")},
        request_body=bytes(body[: BODY_LIMIT + 1]),
        response_headers=response.headers.to_wsgi_list(),
        response_body=bytes(answered[: BODY_LIMIT + 1]),
    )


_HEADER_KEYS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def _header_name(key: str) -> str:
    """HTTP_X_REQUEST_ID -> X-Request-Id: how the header is written on the wire."""
    return "-".join(part.capitalize() for part in key.removeprefix("HTTP_").split("_"))


def _body(raw: bytes) -> dict[str, Any]:
    truncated = len(raw) > BODY_LIMIT
    text = raw[:BODY_LIMIT].decode("utf-8", "replace")
    return {"body": redact(text), "body_truncated": truncated}
