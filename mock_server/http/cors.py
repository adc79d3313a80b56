"""CORS, so that a web app under development can call the mock from a browser (flask-cors).

Every route is declared without automatic OPTIONS (an unknown method answers 405 with Allow),
so a preflight is answered here: 204 for a path and method the mock serves, with the
`Access-Control-*` headers flask-cors computes; anything else falls through to the usual
404 / 405 problem, which a browser then refuses.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_cors import CORS
from werkzeug.exceptions import HTTPException

from ..config import ANY_ORIGIN, MockConfig

# What a browser may read from an answer besides the CORS-safelisted headers (R7, R12).
EXPOSED_HEADERS = (
    "X-Request-Id",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "WWW-Authenticate",
    "Allow",
)
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE")
MAX_AGE_SECONDS = 600


def init_app(app: Flask, config: MockConfig) -> None:
    """Answer preflights and add CORS headers for the configured origins (off with --no-cors)."""
    if not config.cors:
        return
    CORS(
        app,
        origins=list(config.cors_origins),
        methods=list(METHODS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_headers="*",  # flask-cors echoes what the preflight asks for, Authorization too
        max_age=MAX_AGE_SECONDS,
        send_wildcard=ANY_ORIGIN in config.cors_origins,  # "*", not the echoed origin
        always_send=False,  # no CORS headers on answers to callers that are not browsers
        automatic_options=False,
    )
    app.before_request(answer_preflight)


def answer_preflight() -> Response | None:
    """204 for a preflight of a method this path serves; None lets routing answer the rest."""
    asked = request.headers.get("Access-Control-Request-Method")
    if request.method != "OPTIONS" or not asked or "Origin" not in request.headers:
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(method=asked.upper())
    except HTTPException:
        return None
    return Response(status=204)
