"""R12 Errors are problem details; every answer carries X-Request-Id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from .conftest import ADMIN_PREFIX, NEVER_ISSUED_ID, Api

# (name, status, code, how to provoke it). Limits small enough to reach in a few calls.
ERRORS: list[tuple[str, int, str, Callable[[Api, Api, Any], TestResponse]]] = [
    ("invalid-body", 400, "invalid_request", lambda a, b, s: a.invite("not an email")),
    ("invalid-limit", 400, "invalid_request", lambda a, b, s: a.list(limit=0)),
    ("invalid-cursor", 400, "invalid_cursor", lambda a, b, s: a.list(cursor="nope")),
    (
        "unauthenticated",
        401,
        "unauthenticated",
        lambda a, b, s: a.call("GET", "/users", authorization=None),
    ),
    (
        "seat-limit",
        403,
        "seat_limit_reached",
        lambda a, b, s: (b.invite("3@example.com"), b.invite("4@example.com"))[1],
    ),
    ("user-not-found", 404, "user_not_found", lambda a, b, s: a.get(NEVER_ISSUED_ID)),
    ("no-such-path", 404, "not_found", lambda a, b, s: a.call("GET", "/nothing/here")),
    ("no-such-method", 405, "method_not_allowed", lambda a, b, s: a.call("PATCH", "/users")),
    (
        "already-member",
        409,
        "already_member",
        lambda a, b, s: a.invite(s.owner_a["profile"]["email"]),
    ),
    ("owner-protected", 409, "owner_protected", lambda a, b, s: a.delete(s.owner_a["user_id"])),
    (
        "payload-too-large",
        413,
        "payload_too_large",
        lambda a, b, s: a.invite("big@example.com", membership={"notes": "x" * 70_000}),
    ),
    (
        "unsupported-media-type",
        415,
        "unsupported_media_type",
        lambda a, b, s: a.call("POST", "/users", data="email=x", content_type="text/plain"),
    ),
    ("read-only-field", 422, "read_only_field", lambda a, b, s: a.put(s.shared_id, {"name": "N"})),
    (
        "invite-rate-limited",
        429,
        "invite_rate_limited",
        lambda a, b, s: [a.invite(f"r{i}@example.com") for i in range(3)][-1],
    ),
    (
        "invite-safety-cap",
        429,
        "invite_safety_cap_reached",
        lambda a, b, s: [
            a.invite("c1@example.com"),
            b.invite("c2@example.com"),
            b.invite("c3@example.com"),
        ][-1],
    ),
]


def error(name: str) -> tuple[int, str, Callable[[Api, Api, Any], TestResponse]]:
    """One row of the table, by name: status, code, how to provoke it."""
    (row,) = [row for row in ERRORS if row[0] == name]
    return row[1:]


SMALL_LIMITS = pytest.mark.mock_config(
    seat_limits={"essential": 3, "enterprise": 500}, invites_per_hour=2, safety_cap_per_hour=2
)


@SMALL_LIMITS
@pytest.mark.parametrize(
    ("status", "code", "provoke"),
    [error[1:] for error in ERRORS],
    ids=[error[0] for error in ERRORS],
)
def test_r12_every_error_is_a_problem_detail_with_code_and_request_id(
    api_a: Api,
    api_b: Api,
    seed: Any,
    status: int,
    code: str,
    provoke: Callable[[Api, Api, Any], TestResponse],
) -> None:
    # Given a request that must be refused this way
    # When it is answered
    with api_a.client.unchecked():  # 404 not_found and 405 are outside the spec's operations
        answer = provoke(api_a, api_b, seed)
    # Then the answer is application/problem+json with every RFC 9457 member and ours
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.json
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == answer.headers["X-Request-Id"]
    # And a 400 says where, a 422 which fields
    if status == 400:
        assert body["errors"] and all(set(e) >= {"pointer", "message"} for e in body["errors"])
    if status == 422:
        assert body["fields"] == ["name"]
    if status == 405:
        assert answer.headers["Allow"]


@SMALL_LIMITS
def test_r12_problems_of_one_code_share_type_and_title(api_a: Api, seed: Any) -> None:
    # Given two different misses
    # When each is answered
    first = api_a.get(NEVER_ISSUED_ID).json
    second = api_a.delete("usr_other").json
    # Then the problem type and title belong to the code, only request_id differs
    assert (first["type"], first["title"]) == (second["type"], second["title"])
    assert first["request_id"] != second["request_id"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b"{not json", ""),
        (b"[]", ""),
        (b'{"profile": {}}', ""),
        (b'{"email": 5}', "/email"),
        (
            b'{"email": "a@example.com", "profile": {"name": "' + b"n" * 201 + b'"}}',
            "/profile/name",
        ),
        (b'{"email": "a@example.com", "profile": {"nickname": "N"}}', "/profile/nickname"),
        (b'{"email": "a@example.com", "membership": {"is_owner": true}}', "/membership/is_owner"),
        (b'{"email": "a@example.com", "membership": {"notes": 1}}', "/membership/notes"),
        (
            b'{"email": "a@example.com", "membership": {"structured_data": null}}',
            "/membership/structured_data",
        ),
        (b'{"email": "a@example.com", "membership": null}', "/membership"),
        (b'{"email": "a@example.com", "profile": null}', "/profile"),
        (b'{"email": "a@example.com", "colour": "red"}', "/colour"),
    ],
    ids=lambda v: v.decode()[:40] if isinstance(v, bytes) else v,
)
def test_r12_a_400_points_into_the_body(api_a: Api, body: bytes, pointer: str) -> None:
    # Given an invite body that is wrong in one place
    # When A sends it
    answer = api_a.call("POST", "/users", data=body, content_type="application/json")
    # Then the 400 points at that place ("" for the whole body)
    assert answer.status_code == 400
    assert pointer in [error["pointer"] for error in answer.json["errors"]], answer.json


@pytest.mark.parametrize(
    ("query", "pointer", "code"),
    [
        ({"limit": "0"}, "/limit", "invalid_request"),
        ({"limit": "many"}, "/limit", "invalid_request"),
        ({"cursor": ""}, "/cursor", "invalid_cursor"),
        ({"cursor": "garbage"}, "/cursor", "invalid_cursor"),
    ],
)
def test_r12_a_400_names_query_parameters_by_pointer(
    api_a: Api, query: dict[str, str], pointer: str, code: str
) -> None:
    # Given a query that is wrong in one parameter
    # When A lists
    answer = api_a.call("GET", "/users", query=query)
    # Then the 400 names it as /limit or /cursor
    assert answer.status_code == 400
    assert answer.json["code"] == code
    assert [error["pointer"] for error in answer.json["errors"]] == [pointer]


def test_r12_every_answer_carries_x_request_id(api_a: Api) -> None:
    # Given a member of A
    client = api_a.client
    invited = api_a.invite("fresh@example.com")
    user_id = invited.json["member"]["user_id"]
    # When requests of every kind are answered: successes, 204, errors, unknown paths, admin
    with client.unchecked():  # unknown paths and methods are outside the spec
        unknown_path = api_a.call("GET", "/nowhere")
        unknown_method = api_a.call("PATCH", f"/users/{user_id}")
    answers = {
        "invite-201": invited,
        "list-200": api_a.list(),
        "get-200": api_a.get(user_id),
        "put-200": api_a.put(user_id, {"notes": "n"}),
        "delete-204": api_a.delete(user_id),
        "401": api_a.call("GET", "/users", authorization=None),
        "404-unknown-path": unknown_path,
        "405": unknown_method,
        "root-404": client.get("/"),
        "admin-reset-204": client.post(ADMIN_PREFIX + "/reset"),
        "admin-state-200": client.get(ADMIN_PREFIX + "/state"),
        "admin-faults-200": client.get(ADMIN_PREFIX + "/faults"),
        "admin-clock-200": client.post(ADMIN_PREFIX + "/clock/advance", json={"seconds": 1}),
        "admin-404": client.get(ADMIN_PREFIX + "/nothing"),
    }
    ids = {name: answer.headers.get("X-Request-Id") for name, answer in answers.items()}
    # Then each carries an X-Request-Id, a different one per request
    assert [name for name, value in ids.items() if not value] == []
    assert len(set(ids.values())) == len(ids)
