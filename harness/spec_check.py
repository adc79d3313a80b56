"""Judging a recorded answer against the spec (status, required headers, body schema)."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness.client import Exchange
from openapi import API_PREFIX, API_SPEC_PATH, load_api_spec


@functools.cache
def _openapi() -> Any:
    # Imported here: openapi-core takes seconds to import, and a run that stops at its
    # preflight (a wrong URL or key) should say so at once.
    from openapi_core import Config, OpenAPI
    from openapi_core.deserializing.media_types.util import json_loads

    # problem+json is JSON, but openapi-core only deserializes application/json by default.
    config = Config(extra_media_type_deserializers={"application/problem+json": json_loads})
    return OpenAPI.from_file_path(str(API_SPEC_PATH), config=config)


@functools.cache
def _spec_host() -> str:
    """Scheme and host of the spec's first server: openapi-core matches paths under it."""
    parts = urlsplit(load_api_spec()["servers"][0]["url"])
    return f"{parts.scheme}://{parts.netloc}"


def spec_problem(exchange: Exchange, base_url: str) -> str | None:
    """Why the answer breaks the spec, or None when it conforms (or the path is not the API's)."""
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
    from openapi_core.testing import MockRequest, MockResponse

    if exchange.status >= 500:
        return f"answered {exchange.status}: the API never answers a 5xx to any input"
    parts = urlsplit(exchange.url)
    base_path = urlsplit(base_url).path.rstrip("/")
    if not parts.path.startswith(base_path):
        return None
    path = API_PREFIX + parts.path[len(base_path):]
    request = MockRequest(_spec_host(), exchange.method.lower(), path,
                          args=dict(parse_qsl(parts.query, keep_blank_values=True)))
    content_type = exchange.headers.get("Content-Type", "") or ""
    response = MockResponse(
        exchange.text.encode("utf-8"),
        status_code=exchange.status,
        headers=dict(exchange.headers),
        content_type=content_type.split(";")[0].strip(),
    )
    try:
        _openapi().validate_response(request, response)
    except (PathNotFound, OperationNotFound):
        return None  # not an operation of the spec: nothing to judge here
    except Exception as error:  # openapi-core raises one class per kind of mismatch
        return _describe(error)
    return None


def _describe(error: Exception) -> str:
    """The schema errors with their JSON paths, else the exception's own words."""
    cause = error.__cause__ or error.__context__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        found = sorted({
            "/" + "/".join(str(p) for p in e.absolute_path) + f": {e.message}"
            for e in schema_errors
        })
        return f"{type(error).__name__}: " + "; ".join(found)[:600]
    detail = f"{error}" + (f" ({cause})" if cause and str(cause) not in str(error) else "")
    return " ".join(detail.split())[:600]
