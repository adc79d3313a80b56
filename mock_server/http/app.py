"""The app factory: blueprints, the request id, and the one place errors become HTTP."""

from __future__ import annotations

import hmac
import json
import logging
import secrets

from flask import Flask, Response, g, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_accept_header

from openapi import API_PREFIX, API_SPEC_PATH, load_api_spec

from ..config import MockConfig
from ..core.errors import (
    ApiError,
    FieldError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    UriTooLong,
)
from ..core.store import Store
from . import admin, api, chaos, cors, docs, journal, prefer
from .responses import problem_response
from .state import EXTENSION, MockState, get_state

log = logging.getLogger(__name__)

# What the HTTP server in front found wrong before the app could look (mock_server.serve):
# an ApiError, raised here so that it is answered like every other refusal.
REFUSAL = "maxgood.refusal"
ADMIN_TOKEN_HEADER = "X-Admin-Token"
MAX_TARGET_BYTES = 8 * 1024
ANSWER_TYPES = ("application/json", "application/problem+json")


def create_app(config: MockConfig | None = None, store: Store | None = None) -> Flask:
    """A mock of the v1beta API over its own in-memory state (the seed unless `store`)."""
    config = config or MockConfig()
    app = Flask(__name__)
    # `/v1beta//users` is no path of the API: a 404 problem, not werkzeug's HTML 308 redirect.
    app.url_map.merge_slashes = False
    app.extensions[EXTENSION] = MockState(config, store)
    app.register_blueprint(api.bp)
    app.register_blueprint(docs.bp)
    if config.admin:
        app.register_blueprint(admin.bp)
    app.add_url_rule("/openapi.yaml", "spec_yaml", _spec_yaml, provide_automatic_options=False)
    app.add_url_rule("/openapi.json", "spec_json", _spec_json, provide_automatic_options=False)
    app.before_request(_assign_request_id)
    # after_request hooks run last-registered first: the journal sees the answer as sent
    journal.init_app(app, config, app.extensions[EXTENSION].journal)
    app.before_request(_refuse_at_the_door)
    app.after_request(_stamp_headers)
    cors.init_app(app, config)
    chaos.init_app(app)  # a flaky network comes before everything the API does
    if config.admin:
        prefer.init_app(app)  # Prefer: code=NNN, a development aid like /_mock
    app.register_error_handler(ApiError, problem_response)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
    return app


def _assign_request_id() -> None:
    g.request_id = "req_" + secrets.token_hex(12)


def _refuse_at_the_door() -> None:
    """Refusals that come before any route: what the server in front found, a request target
    over 8 KiB (414), an Accept the API cannot satisfy (406), the admin surface without its
    token when one is set (401)."""
    environ = request.environ
    if REFUSAL in environ:
        raise environ[REFUSAL]
    # The target as sent where the server passes it on (RAW_URI), else as decoded (shorter).
    decoded = len(environ.get("PATH_INFO", "")) + 1 + len(environ.get("QUERY_STRING", ""))
    if max(len(environ.get("RAW_URI") or ""), decoded) > MAX_TARGET_BYTES:
        raise UriTooLong(MAX_TARGET_BYTES)
    path = request.path
    if path.startswith(API_PREFIX + "/"):
        if not _acceptable(request.headers.get("Accept", "")):
            raise NotAcceptable()
    elif path.startswith("/_mock"):
        token = get_state().config.admin_token
        # A CORS preflight carries no credential by design, and answering one reveals nothing.
        if token and request.method != "OPTIONS":
            sent = request.headers.get(ADMIN_TOKEN_HEADER, "")
            if not hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode()):
                raise Unauthenticated(f"The admin surface needs the {ADMIN_TOKEN_HEADER} header.")


def _acceptable(accept: str) -> bool:
    """Whether an Accept admits JSON or problem+json. None (or an empty one) admits anything.
    Werkzeug weighs q-values and wildcards, but compares media types as written, where HTTP
    ignores their case, and with their parameters (`application/json; charset=utf-8` would
    not match): only the type and q are kept."""
    if not accept.strip():
        return True
    ranges = []
    for item in accept.lower().split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        ranges.append(";".join([media, *(p for p in parameters if p.startswith("q="))]))
    return parse_accept_header(",".join(ranges), MIMEAccept).best_match(ANSWER_TYPES) is not None


def _stamp_headers(response: Response) -> Response:
    """R12: every answer carries X-Request-Id; R7: every invite answer carries RateLimit-*;
    a 204 has no body, so no Content-Type either."""
    response.headers["X-Request-Id"] = g.get("request_id") or "req_unassigned"
    if response.status_code == 204:
        del response.headers["Content-Type"]
    avatar_id = g.get("rate_limited_avatar")
    if avatar_id is not None:
        window = get_state().service.rate_limit(avatar_id)
        response.headers["RateLimit-Limit"] = str(window.limit)
        response.headers["RateLimit-Remaining"] = str(window.remaining)
        response.headers["RateLimit-Reset"] = str(window.reset)
    return response


def _http_exception(exc: HTTPException) -> Response:
    """Werkzeug's own refusals (routing, size) as problem details, never HTML."""
    error: ApiError
    if exc.code == 404:
        error = NotFound("There is no such path.")
    elif exc.code == 405:
        error = MethodNotAllowed(sorted(getattr(exc, "valid_methods", None) or []))
    elif exc.code == 413:
        error = PayloadTooLarge(f"The body is over {get_state().config.max_body_bytes} bytes.")
    else:
        detail = exc.description or "Bad request."
        error = InvalidRequest(detail, [FieldError("", detail)])
    return problem_response(error)


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return problem_response(InternalError())


def _spec_yaml() -> Response:
    """The spec, served verbatim."""
    return Response(API_SPEC_PATH.read_bytes(), mimetype="application/yaml")


def _spec_json() -> Response:
    return Response(json.dumps(load_api_spec(), ensure_ascii=False), mimetype="application/json")
