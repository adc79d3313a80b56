"""Serialising answers: JSON, problem+json, and reading JSON bodies safely."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response, g, request

from ..core.errors import ApiError, PayloadTooLarge, UnsupportedMediaType
from ..problems import PROBLEM_JSON
from ..validation import parse_json
from .state import get_state


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status=status, headers=headers, mimetype="application/json")


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON. orjson is several times faster than json on a page of members (the
    largest cost of GET /users); json takes over for what orjson refuses: integers beyond 64
    bits (structured_data may hold them) and nesting deeper than 254 levels."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def problem_response(error: ApiError) -> Response:
    problems = get_state().problems
    g.problem_code = error.code  # for the access log and the journal
    text = json.dumps(problems.body(error, g.request_id), ensure_ascii=False)
    return Response(
        text, status=error.status, headers=problems.headers(error), content_type=PROBLEM_JSON
    )


def json_body() -> Any:
    """The request's JSON body; raises 415, 413 or 400 as problem details, never a 5xx."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    limit = get_state().config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"The body is over {limit} bytes.")
    # A chunked body has no Content-Length: read one byte past the limit, so that a longer
    # body is refused instead of being cut at the limit and parsed (a valid JSON document
    # followed by padding would otherwise be accepted).
    request.max_content_length = limit + 1
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise PayloadTooLarge(f"The body is over {limit} bytes.")
    return parse_json(raw)
