"""`Prefer: code=NNN` answers the contract's own problem for that status, and changes nothing.

Every answer here is checked against the spec by the test client (conftest), headers included.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import NEVER_ISSUED_ID, SHARED_EMAIL, Admin, Api, assert_refused, make_app

PAT = "usr_01JD0000000000000000PAT000"
OWNER = "usr_01JD0000000000000000ACME00"
NEW = {"email": "asked.for@example.com"}

CASES = [
    # method, path, body, status, code
    ("POST", "/users", NEW, 400, "invalid_request"),
    ("POST", "/users", NEW, 403, "seat_limit_reached"),
    ("POST", "/users", NEW, 409, "already_member"),
    ("POST", "/users", NEW, 413, "payload_too_large"),
    ("POST", "/users", NEW, 415, "unsupported_media_type"),
    ("POST", "/users", NEW, 429, "invite_rate_limited"),
    ("GET", "/users", None, 400, "invalid_request"),
    ("GET", f"/users/{PAT}", None, 404, "user_not_found"),
    ("PUT", f"/users/{PAT}", {"notes": "x"}, 400, "invalid_request"),
    ("PUT", f"/users/{PAT}", {"notes": "x"}, 404, "user_not_found"),
    ("PUT", f"/users/{PAT}", {"notes": "x"}, 409, "owner_protected"),
    ("PUT", f"/users/{PAT}", {"notes": "x"}, 422, "read_only_field"),
    ("DELETE", f"/users/{PAT}", None, 404, "user_not_found"),
    ("DELETE", f"/users/{PAT}", None, 409, "owner_protected"),
]
CASES += [(m, p, b, 401, "unauthenticated") for m, p, b in  # each operation once
          dict.fromkeys((c[0], c[1], None if c[2] is None else tuple(c[2].items()))
                        for c in CASES)]


def body_of(body: Any) -> Any:
    return dict(body) if isinstance(body, tuple) else body


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), CASES,
                         ids=[f"{c[0]} {c[1][:6]} {c[3]}" for c in CASES])
def test_the_preferred_problem_is_answered_and_changes_nothing(
    api_a: Api, admin: Admin, method: str, path: str, body: Any, status: int, code: str
) -> None:
    # Given the state before
    before = admin.state()
    # When a client asks for a status
    kwargs = {} if body is None else {"json_body": body_of(body)}
    answer = api_a.call(method, path, headers={"Prefer": f"code={status}"}, **kwargs)
    # Then it gets the contract's own problem for it, spec-checked with its headers
    assert_refused(answer, status, code)
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    if status == 422:
        assert answer.json["fields"]
    # And nothing changed (R11)
    admin.assert_unchanged(before)


def test_a_preferred_429_carries_retry_after_and_an_empty_window(api_a: Api) -> None:
    answer = api_a.call("POST", "/users", json_body=NEW, headers={"Prefer": "code=429"})
    assert_refused(answer, 429, "invite_rate_limited")
    retry_after = int(answer.headers["Retry-After"])
    assert retry_after >= 1
    assert answer.headers["RateLimit-Limit"] == "60"
    assert answer.headers["RateLimit-Remaining"] == "0"
    assert answer.headers["RateLimit-Reset"] == str(retry_after)


def test_other_preferences_beside_the_code_are_read_past(api_a: Api) -> None:
    answer = api_a.call("DELETE", f"/users/{PAT}",
                        headers={"Prefer": 'respond-async, wait=5, code="409"'})
    assert_refused(answer, 409, "owner_protected")


def test_a_preferred_error_still_needs_a_valid_key(anon: Api) -> None:
    # R13 holds whatever is preferred
    answer = anon.call("POST", "/users", json_body=NEW, headers={"Prefer": "code=409"})
    assert_refused(answer, 401, "unauthenticated")


def test_a_preferred_success_is_the_usual_answer(api_a: Api) -> None:
    answer = api_a.call("POST", "/users", json_body=NEW, headers={"Prefer": "code=201"})
    assert answer.status_code == 201
    assert api_a.get(answer.json["member"]["user_id"]).status_code == 200


def test_a_status_the_operation_does_not_answer_is_refused(api_a: Api) -> None:
    with api_a.client.unchecked():  # GET /users/{id} declares no 400: asked for outside it
        answer = api_a.call("GET", f"/users/{OWNER}", headers={"Prefer": "code=429"})
    assert_refused(answer, 400, "invalid_request")
    assert "401, 404" in answer.json["detail"]
    assert answer.json["errors"][0]["pointer"] == "/headers/Prefer"


def test_without_the_admin_surface_prefer_is_ignored() -> None:
    # As on a real server, which knows no Prefer: code
    client = make_app(admin=False).test_client()
    api = Api(client, "mgak_acmedemo01.acme-demo-secret-do-not-use-in-production")
    answer = api.call("GET", f"/users/{NEVER_ISSUED_ID}", headers={"Prefer": "code=401"})
    assert_refused(answer, 404, "user_not_found")
    assert api.call("POST", "/users", json_body={"email": SHARED_EMAIL},
                    headers={"Prefer": "code=429"}).status_code == 409
