"""Fixtures for the mock's own tests: a fresh app per test, keyed clients, spec-checked answers.

Every answer a test client gets is checked here, so that no test has to remember it:

- against the spec it belongs to (``openapi/v1beta.yaml`` under ``/v1beta``,
  ``openapi/mock-admin.yaml`` under ``/_mock``) with openapi-core: status, headers, body;
- against the rules that hold for every answer: never a 5xx, ``X-Request-Id`` everywhere and
  every 4xx a problem detail whose ``request_id`` equals it (R12), ``WWW-Authenticate`` on 401
  (R13), ``Retry-After`` on 429 (R7), ``Allow`` on 405.

A test that provokes answers outside the spec on purpose (an injected fault) is marked
``@pytest.mark.unchecked_answers``; a single call can be exempted with ``client.unchecked()``.
A test picks small limits with ``@pytest.mark.mock_config(invites_per_hour=3, ...)``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.test import TestResponse

from harness.rules import check
from harness.target import EMBEDDED_KEY_A, EMBEDDED_KEY_B
from judge import Answer, raise_first
from judge.auth import unauthenticated
from judge.instants import instant as judge_instant
from judge.limits import retry_after
from judge.problems import every_answer

# The runs these tests start inject faults on purpose: their failures must not land in the
# example database of the person running the tests (nor in a shared Redis one), or their next
# `make fuzz` would replay them. A test of the database names its own.
os.environ["FUZZ_DB"] = "none"

SPEC_DIR = Path(__file__).resolve().parent.parent / "openapi"
API_SPEC = SPEC_DIR / "v1beta.yaml"
ADMIN_SPEC = SPEC_DIR / "mock-admin.yaml"
API_PREFIX = "/v1beta"
ADMIN_PREFIX = "/_mock"

AVATAR_A = "avt_acme"
AVATAR_B = "avt_solo"
OWNER_A_EMAIL = "owner@acme.example"
OWNER_B_EMAIL = "coach@solo.example"
SHARED_EMAIL = "pat.shared@example.com"
# A well-formed id that no seed or test ever issues (R1: "never existed").
NEVER_ISSUED_ID = "usr_01JZZZZZZZZZZZZZZZZZZZZZZZ"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mock_config(**fields): MockConfig fields for this test's app"
    )
    config.addinivalue_line(
        "markers", "unchecked_answers: answers are not checked against the spec and R12"
    )


# --- Checking every answer ---------------------------------------------------------------


@functools.cache
def openapi_of(path: Path) -> OpenAPI | None:
    """The spec at path, ready for openapi-core, or None while it does not exist."""
    if not path.exists():
        return None
    # problem+json is JSON, but openapi-core 0.23 only knows application/json by default.
    config = Config(extra_media_type_deserializers={"application/problem+json": json_loads})
    return OpenAPI.from_file_path(str(path), config=config)


@functools.cache
def host_url_of(path: Path) -> str:
    """Scheme and host of the spec's first server, so that its paths match (openapi-core
    answers ServerNotFound when a local request's host differs from an absolute server URL)."""
    servers = spec_document(path).get("servers") if path.exists() else None
    url = servers[0]["url"] if servers else "/"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://localhost"


@functools.cache
def spec_document(path: Path = API_SPEC) -> dict[str, Any]:
    """The spec as plain data."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_against_spec(response: TestResponse) -> None:
    """Validate one answer against the spec of its path; paths outside every spec pass."""
    request = response.request
    path = request.path
    if path.startswith(API_PREFIX):
        spec_path = API_SPEC
    elif path.startswith(ADMIN_PREFIX):
        spec_path = ADMIN_SPEC
    else:
        return
    spec = openapi_of(spec_path)
    if spec is None:
        return
    openapi_request = MockRequest(
        host_url_of(spec_path), request.method.lower(), path, args=dict(request.args)
    )
    openapi_response = MockResponse(
        response.get_data(),
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.mimetype or "",
    )
    try:
        spec.validate_response(openapi_request, openapi_response)
    except (PathNotFound, OperationNotFound):
        return  # unknown paths and methods are answered outside the spec (404 / 405)
    except Exception as error:
        cause = error.__cause__ or error.__context__
        raise AssertionError(
            f"SPEC Conforms to the spec: {request.method} {request.full_path} answered "
            f"{response.status_code}, which the spec does not allow: {error!r} ({cause!r})\n"
            f"body: {response.get_data(as_text=True)[:2000]}"
        ) from error


def answer_of(response: TestResponse) -> Answer:
    """A test client's answer as the judge reads it."""
    request = response.request
    path = request.path.removeprefix(API_PREFIX)
    return Answer.of(response.status_code, response.headers.items(), response.get_data(),
                     method=request.method, path=path)


def check_every_answer_rules(response: TestResponse) -> None:
    """The rules that hold for every answer, whatever was asked (the judge's judgements)."""
    answer = answer_of(response)
    found = every_answer(answer) + retry_after(answer)
    if answer.status == 401:
        found += unauthenticated(answer, "a key the mock does not accept")
    raise_first(found)
    check(answer.status != 405 or answer.headers.get("Allow"), "SPEC",
          f"{answer.where}: 405 carries Allow")


class CheckedClient(FlaskClient):
    """A Flask test client that checks every answer it gets (see the module docstring)."""

    def __init__(self, *args: Any, checked: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked = checked

    @contextlib.contextmanager
    def unchecked(self) -> Iterator[None]:
        """Exempt the answers inside the block, for requests outside the spec on purpose."""
        previous, self.checked = self.checked, False
        try:
            yield
        finally:
            self.checked = previous

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        if self.checked:
            check_every_answer_rules(response)
            check_against_spec(response)
        return response


# --- The app, its clients and helpers ---------------------------------------------------


def make_app(**fields: Any) -> Flask:
    """A fresh mock on the default seed, with these MockConfig fields."""
    from mock_server import create_app
    from mock_server.config import MockConfig

    app = create_app(MockConfig(**fields))
    app.test_client_class = CheckedClient
    return app


@pytest.fixture
def mock_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """MockConfig fields: the defaults, or those of the test's mock_config marker."""
    fields: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("mock_config"))):
        fields.update(marker.kwargs)
    return fields


@pytest.fixture
def app(mock_config: dict[str, Any]) -> Flask:
    return make_app(**mock_config)


@pytest.fixture(autouse=True)
def _answers_checked(request: pytest.FixtureRequest) -> bool:
    """Whether this test's answers are checked: always, unless marked unchecked_answers."""
    return request.node.get_closest_marker("unchecked_answers") is None


@pytest.fixture
def client(app: Flask, _answers_checked: bool) -> CheckedClient:
    return app.test_client(checked=_answers_checked)  # type: ignore[return-value]


_UNSET: Any = object()


@dataclass
class Api:
    """The v1beta API through one key (or none)."""

    client: CheckedClient
    key: str | None

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _UNSET,
        data: bytes | str | None = None,
        content_type: str | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        authorization: str | None = _UNSET,
    ) -> TestResponse:
        """Any request under /v1beta; authorization overrides the key's Bearer header."""
        sent = dict(headers or {})
        if authorization is _UNSET:
            if self.key is not None:
                sent["Authorization"] = f"Bearer {self.key}"
        elif authorization is not None:
            sent["Authorization"] = authorization
        if json_body is not _UNSET:
            data = json.dumps(json_body)
            content_type = content_type or "application/json"
        return self.client.open(
            API_PREFIX + path,
            method=method,
            data=data,
            content_type=content_type,
            query_string=query,
            headers=sent,
        )

    def list(self, limit: int | str | None = None, cursor: str | None = None) -> TestResponse:
        query = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        return self.call("GET", "/users", query=query)

    def list_all(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every member, walking next_cursor from the first page (R10)."""
        members: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):
            page = self.list(limit=limit, cursor=cursor)
            assert page.status_code == 200, page.get_data(as_text=True)
            members += page.json["data"]
            cursor = page.json["next_cursor"]
            if cursor is None:
                return members
        raise AssertionError("R10 Pagination is exact: the walk never ends")

    def list_ids(self) -> list[str]:
        return [member["user_id"] for member in self.list_all(limit=100)]

    def invite(
        self,
        email: str,
        profile: dict[str, Any] | None = None,
        membership: dict[str, Any] | None = None,
        **extra: Any,
    ) -> TestResponse:
        body: dict[str, Any] = {"email": email, **extra}
        if profile is not None:
            body["profile"] = profile
        if membership is not None:
            body["membership"] = membership
        return self.call("POST", "/users", json_body=body)

    def invite_ok(self, email: str, **kwargs: Any) -> dict[str, Any]:
        """Invite and insist on 201; the invite result."""
        answer = self.invite(email, **kwargs)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        return answer.json

    def add_member(self, email: str, **membership: Any) -> dict[str, Any]:
        """Invite a member with these membership fields; the member."""
        return self.invite_ok(email, membership=membership or None)["member"]

    def get(self, user_id: str) -> TestResponse:
        return self.call("GET", f"/users/{user_id}")

    def put(self, user_id: str, body: Any) -> TestResponse:
        return self.call("PUT", f"/users/{user_id}", json_body=body)

    def delete(self, user_id: str) -> TestResponse:
        return self.call("DELETE", f"/users/{user_id}")


@dataclass
class Admin:
    """The mock's admin surface under /_mock."""

    client: CheckedClient

    def _ok(self, response: TestResponse, status: int) -> TestResponse:
        assert response.status_code == status, (
            f"{response.request.method} {response.request.path}: "
            f"{response.status_code} {response.get_data(as_text=True)}"
        )
        return response

    def reset(self) -> None:
        self._ok(self.client.post(ADMIN_PREFIX + "/reset"), 204)

    def state(self) -> bytes:
        """The whole state, exactly as exported (R11 compares these bytes)."""
        return self._ok(self.client.get(ADMIN_PREFIX + "/state"), 200).get_data()

    def assert_unchanged(self, before: bytes) -> None:
        """R11: the exported state is byte-identical to before; else name what moved."""
        after = self.state()
        if after == before:
            return
        moved = sorted(json_differences(json.loads(before), json.loads(after)))
        raise AssertionError(f"R11 Failures change nothing: the state changed at {moved[:10]}")

    def put_state(self, state: bytes) -> TestResponse:
        return self.client.put(ADMIN_PREFIX + "/state", data=state, content_type="application/json")

    def new_avatar(
        self,
        type: str = "essential",
        name: str = "Northwind Mentoring",
        owner_email: str = "owner@northwind.example",
        owner_name: str = "Nia North",
    ) -> dict[str, Any]:
        body = {"type": type, "name": name, "owner_email": owner_email, "owner_name": owner_name}
        return self._ok(self.client.post(ADMIN_PREFIX + "/avatars", json=body), 201).json

    def new_key(self, avatar_id: str) -> dict[str, Any]:
        return self._ok(self.client.post(f"{ADMIN_PREFIX}/avatars/{avatar_id}/keys"), 201).json

    def revoke(self, credential_id: str) -> None:
        self._ok(self.client.delete(f"{ADMIN_PREFIX}/keys/{credential_id}"), 204)

    def new_platform_user(self, email: str, name: str | None = None) -> str:
        body = {"email": email, "name": name, "role": None, "expertise": None, "locale": None}
        return self._ok(self.client.post(ADMIN_PREFIX + "/users", json=body), 201).json["user_id"]

    def advance(self, seconds: float) -> datetime:
        """Move the virtual clock; the new now."""
        answer = self._ok(
            self.client.post(ADMIN_PREFIX + "/clock/advance", json={"seconds": seconds}), 200
        )
        return instant(answer.json["now"])

    def faults(self) -> list[dict[str, Any]]:
        return self._ok(self.client.get(ADMIN_PREFIX + "/faults"), 200).json["faults"]

    def set_faults(self, names: list[str]) -> list[dict[str, Any]]:
        answer = self.client.put(ADMIN_PREFIX + "/faults", json={"active": names})
        return self._ok(answer, 200).json["faults"]


@pytest.fixture
def api_a(client: CheckedClient) -> Api:
    """Avatar A (avt_acme, enterprise) through its seeded key."""
    return Api(client, EMBEDDED_KEY_A)


@pytest.fixture
def api_b(client: CheckedClient) -> Api:
    """Avatar B (avt_solo, essential) through its seeded key."""
    return Api(client, EMBEDDED_KEY_B)


@pytest.fixture
def anon(client: CheckedClient) -> Api:
    """The API without any Authorization header."""
    return Api(client, None)


@pytest.fixture
def admin(client: CheckedClient) -> Admin:
    return Admin(client)


def by_email(members: list[dict[str, Any]], email: str) -> dict[str, Any]:
    """The one member with this email, matched ignoring case (R3)."""
    (member,) = [m for m in members if m["profile"]["email"].lower() == email.lower()]
    return member


@pytest.fixture
def seed(api_a: Api, api_b: Api) -> SimpleNamespace:
    """The seeded members as each Avatar sees them."""
    return read_seed(api_a, api_b)


def read_seed(api_a: Api, api_b: Api) -> SimpleNamespace:
    """The seeded members as each Avatar sees them."""
    members_a = api_a.list_all(limit=100)
    members_b = api_b.list_all(limit=100)
    return SimpleNamespace(
        members_a=members_a,
        members_b=members_b,
        owner_a=by_email(members_a, OWNER_A_EMAIL),
        owner_b=by_email(members_b, OWNER_B_EMAIL),
        shared_in_a=by_email(members_a, SHARED_EMAIL),
        shared_in_b=by_email(members_b, SHARED_EMAIL),
        shared_id=by_email(members_a, SHARED_EMAIL)["user_id"],
    )


def json_differences(before: Any, after: Any, path: str = "") -> Iterator[str]:
    """JSON Pointers where two JSON values differ (or their keys come in another order)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before.keys() | after.keys():
            if key not in before or key not in after:
                yield f"{path}/{key} ({'added' if key in after else 'removed'})"
            else:
                yield from json_differences(before[key], after[key], f"{path}/{key}")
        if list(before) != list(after) and before.keys() == after.keys():
            yield f"{path} (key order)"
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from json_differences(old, new, f"{path}/{index}")
    elif before != after or type(before) is not type(after):
        yield f"{path}: {json.dumps(before)[:80]} -> {json.dumps(after)[:80]}"


def instant(value: str) -> datetime:
    """An RFC 3339 date-time as an aware datetime (the judge's parser), so instants compare."""
    parsed = judge_instant(value)
    assert parsed is not None, f"{value!r} is not an RFC 3339 date-time with an offset"
    return parsed


def problem(response: TestResponse) -> dict[str, Any]:
    """The problem detail of an error answer."""
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.json


def assert_refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Insist on one refusal, by status and code; its problem detail."""
    assert (response.status_code, response.json and response.json.get("code")) == (
        status,
        code,
    ), response.get_data(as_text=True)
    return problem(response)
