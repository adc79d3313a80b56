"""A browser can call the mock: preflights answered, origins allowed, the useful headers exposed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from werkzeug.test import TestResponse

from harness.target import EMBEDDED_KEY_A
from mock_server.cli import parse_args
from mock_server.http.cors import EXPOSED_HEADERS

from .conftest import ADMIN_SPEC, API_PREFIX, API_SPEC, Api, CheckedClient, make_app

APP_ORIGIN = "http://localhost:5173"
HTTP_METHODS = ("get", "post", "put", "delete")


def operations(spec_path: Any, prefix: str) -> list[tuple[str, str]]:
    """(METHOD, concrete path) of every operation a spec declares."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    found = []
    for path, item in spec["paths"].items():
        concrete = path.replace("{user_id}", "usr_01JD0000000000000000PAT000")
        concrete = concrete.replace("{avatar_id}", "avt_acme").replace("{credential_id}", "x")
        for method in HTTP_METHODS:
            if method in item:
                found.append((method.upper(), prefix + concrete))
    return found


EVERY_OPERATION = operations(API_SPEC, API_PREFIX) + operations(ADMIN_SPEC, "/_mock")


def preflight(client: CheckedClient, method: str, path: str, origin: str = APP_ORIGIN,
              headers: str = "authorization, content-type") -> TestResponse:
    return client.options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    })


def listed(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def test_the_spec_declares_operations_to_preflight() -> None:
    assert len(operations(API_SPEC, API_PREFIX)) == 5
    assert len(operations(ADMIN_SPEC, "/_mock")) >= 9


@pytest.mark.parametrize(("method", "path"), EVERY_OPERATION)
def test_a_preflight_of_every_operation_is_allowed(client: CheckedClient, method: str,
                                                   path: str) -> None:
    # When a browser asks whether it may send this request with a key and a JSON body
    answer = preflight(client, method, path)
    # Then the mock says yes, for any origin by default, with nothing changed
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert method in {m.upper() for m in listed(answer.headers["Access-Control-Allow-Methods"])}
    assert {"authorization", "content-type"} <= listed(
        answer.headers["Access-Control-Allow-Headers"])
    assert int(answer.headers["Access-Control-Max-Age"]) > 0
    assert answer.get_data() == b""


def test_an_answer_to_a_browser_exposes_the_contract_headers(api_a: Api) -> None:
    # When a browser invites someone
    answer = api_a.call("POST", "/users", json_body={"email": "browser@example.com"},
                        headers={"Origin": APP_ORIGIN})
    # Then the page may read the request id, the new member's Location and the limits (R7, R12)
    assert answer.status_code == 201
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    exposed = listed(answer.headers["Access-Control-Expose-Headers"])
    for header in ("X-Request-Id", "Location", "RateLimit-Limit", "RateLimit-Remaining",
                   "RateLimit-Reset", "Retry-After"):
        assert header.lower() in exposed
    assert exposed == {h.lower() for h in EXPOSED_HEADERS}


def test_a_refusal_reaches_the_browser_too(client: CheckedClient) -> None:
    # A 401 without CORS headers would show in the browser as a network error, not a 401
    answer = client.get(API_PREFIX + "/users", headers={"Origin": APP_ORIGIN})
    assert answer.status_code == 401
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "www-authenticate" in listed(answer.headers["Access-Control-Expose-Headers"])


def test_a_caller_that_is_not_a_browser_gets_no_cors_headers(api_a: Api) -> None:
    answer = api_a.list()
    assert answer.status_code == 200
    assert not [h for h, _ in answer.headers.items() if h.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("PATCH", API_PREFIX + "/users", 405),
     ("POST", API_PREFIX + "/users/usr_x", 405)],
)
def test_a_preflight_of_what_the_mock_does_not_serve_is_refused(
    client: CheckedClient, method: str, path: str, status: int
) -> None:
    # A preflight answered other than 2xx makes the browser refuse the request itself
    answer = preflight(client, method, path)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"


def test_configured_origins_are_the_only_ones_allowed() -> None:
    # Given a mock that allows two origins
    client = make_app(cors_origins=(APP_ORIGIN, "https://app.example")).test_client()
    # Then each is echoed back, and another origin gets no permission
    for origin in (APP_ORIGIN, "https://app.example"):
        answer = preflight(client, "GET", API_PREFIX + "/users", origin=origin)
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        assert answer.headers.get("Vary") == "Origin"
    other = preflight(client, "GET", API_PREFIX + "/users", origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other.headers
    got = client.get(API_PREFIX + "/users", headers={
        "Origin": "https://evil.example", "Authorization": f"Bearer {EMBEDDED_KEY_A}"})
    assert got.status_code == 200 and "Access-Control-Allow-Origin" not in got.headers


def test_without_cors_a_preflight_is_an_unknown_method() -> None:
    client = make_app(cors=False).test_client()
    answer = preflight(client, "GET", API_PREFIX + "/users")
    assert answer.status_code == 405
    assert "Access-Control-Allow-Origin" not in answer.headers
    got = client.get(API_PREFIX + "/users", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in got.headers


def test_the_command_line_sets_the_origins() -> None:
    assert parse_args([]).cors_origin == [] and not parse_args([]).no_cors
    args = parse_args(["--cors-origin", APP_ORIGIN, "--cors-origin", "https://app.example"])
    assert args.cors_origin == [APP_ORIGIN, "https://app.example"]
    assert parse_args(["--no-cors"]).no_cors
