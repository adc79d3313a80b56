"""CORS, so that a web app under development can call the mock from a browser (flask-cors).

Every route is declared without automatic OPTIONS (an unknown method answers 405 with Allow),
so a preflight is answered here: 204 for a path and method the mock serves, with the
`Access-Control-*` headers flask-cors computes; anything else falls through to the usual
404 / 405 problem, which a browser then refuses.
"""

from __future__ import annotations

from collections.abc import Callable

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
    already = list(app.after_request_funcs.get(None, []))
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
    # flask-cors looks at every answer; one to a caller that sent no Origin (not a browser)
    # gets no CORS header anyway, so skip the look: GET /users stays as fast as without CORS.
    funcs = app.after_request_funcs[None]
    for index, func in enumerate(funcs):
        if func not in already:
            funcs[index] = _for_browsers_only(func)


def _for_browsers_only(after: Callable[[Response], Response]) -> Callable[[Response], Response]:
    def after_browser_request(response: Response) -> Response:
        return after(response) if "HTTP_ORIGIN" in request.environ else response

    return after_browser_request


def answer_preflight() -> Response | None:
    """204 for a preflight of a method this path serves; None lets routing answer the rest."""
    if request.method != "OPTIONS":
        return None
    asked = request.environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if not asked or "HTTP_ORIGIN" not in request.environ:
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(method=asked.upper())
    except HTTPException:
        return None
    return Response(status=204)
