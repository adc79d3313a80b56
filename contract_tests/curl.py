"""Reproductions: one request as a curl command, with the credentials redacted."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

# Headers curl sends anyway, or that only label the request for Schemathesis.
NOISE_HEADERS = {"user-agent", "accept-encoding", "accept", "connection", "content-length",
                 "x-schemathesis-testcaseid"}


def curl(method: str, url: str, headers: Mapping[str, Any], body: bytes | str | None) -> str:
    """A curl command for one request; `Authorization: Bearer <redacted>`."""
    parts = ["curl", "-X", method]
    for name, value in headers.items():
        value = value[0] if isinstance(value, list) else value
        if name.lower() in NOISE_HEADERS:
            continue
        if name.lower() == "authorization":
            value = f"{str(value).split(' ', 1)[0]} <redacted>"
        parts += ["-H", f"{name}: {value}"]
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        parts += ["--data-raw", body]
    parts.append(url)
    return shlex.join(parts)


def curl_of(request: Any) -> str:
    """The curl command of a sent `requests.PreparedRequest`."""
    return curl(request.method or "", request.url or "", request.headers, request.body)
