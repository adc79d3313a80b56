"""R13 Authentication: a missing, malformed, unknown or revoked key answers 401 everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from harness.target import EMBEDDED_KEY_A

from .conftest import Admin, Api, assert_refused

CREDENTIAL, SECRET = EMBEDDED_KEY_A.split(".", 1)

# Authorization header values that do not authenticate (None: no header at all).
NOT_A_KEY = [
    None,
    "",
    "Bearer",
    "Bearer ",
    f"Basic {EMBEDDED_KEY_A}",
    EMBEDDED_KEY_A,  # no scheme
    "Bearer garbage",
    "Bearer mgak_",
    f"Bearer {CREDENTIAL}",  # no secret
    f"Bearer {CREDENTIAL}.",
    f"Bearer .{SECRET}",
    f"Bearer mgak_unknown000.{SECRET}",  # unknown credential
    f"Bearer {CREDENTIAL}.wrong-secret",  # known credential, wrong secret
    f"Bearer {CREDENTIAL}.{SECRET}x",
    f"Bearer {EMBEDDED_KEY_A} extra",
    f"Bearer {EMBEDDED_KEY_A.upper()}",
    "Bearer mgak_acmedemo01.acme-demo-secret-do-not-use-in-productio",
]


def operations(user_id: str) -> dict[str, Callable[[Api, str | None], TestResponse]]:
    """Each operation of the spec, sent with this Authorization header."""
    return {
        "listUsers": lambda api, auth: api.call("GET", "/users", authorization=auth),
        "inviteUser": lambda api, auth: api.call(
            "POST", "/users", json_body={"email": "new@example.com"}, authorization=auth
        ),
        "getUser": lambda api, auth: api.call("GET", f"/users/{user_id}", authorization=auth),
        "updateUser": lambda api, auth: api.call(
            "PUT", f"/users/{user_id}", json_body={"notes": "changed"}, authorization=auth
        ),
        "removeUser": lambda api, auth: api.call("DELETE", f"/users/{user_id}", authorization=auth),
    }


OPERATION_IDS = list(operations(""))


@pytest.mark.parametrize("authorization", NOT_A_KEY, ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("operation", OPERATION_IDS)
def test_r13_a_request_without_a_valid_key_answers_401_with_www_authenticate(
    api_a: Api, admin: Admin, seed: Any, operation: str, authorization: str | None
) -> None:
    # Given the shared user, a member of A (so that a 404 could not hide the 401)
    state = admin.state()
    # When an operation is sent with no key, a malformed one or an unknown one
    answer = operations(seed.shared_id)[operation](api_a, authorization)
    # Then it answers 401 unauthenticated with WWW-Authenticate: Bearer, and nothing changed
    assert_refused(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    admin.assert_unchanged(state)


@pytest.mark.parametrize("operation", OPERATION_IDS)
def test_r13_a_revoked_key_answers_401_at_once(
    api_a: Api, admin: Admin, seed: Any, operation: str
) -> None:
    # Given a second key of A, which works
    created = admin.new_key("avt_acme")
    second = Api(api_a.client, created["api_key"])
    assert second.list().status_code == 200
    # When it is revoked
    admin.revoke(created["credential_id"])
    state = admin.state()
    # Then the very next request with it answers 401, and nothing changed
    answer = operations(seed.shared_id)[operation](second, f"Bearer {created['api_key']}")
    assert_refused(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    admin.assert_unchanged(state)
    # And A's other key still works
    assert api_a.list().status_code == 200


def test_r13_the_401_does_not_depend_on_why(api_a: Api, seed: Any) -> None:
    # Given a missing key, an unknown one and a wrong secret
    # When each asks for the shared user
    answers = [
        api_a.call("GET", f"/users/{seed.shared_id}", authorization=auth)
        for auth in (None, "Bearer mgak_unknown000.secret", f"Bearer {CREDENTIAL}.wrong")
    ]
    # Then the answers cannot be told apart (a key's credential id is not confirmed)
    bodies = [{k: v for k, v in a.json.items() if k != "request_id"} for a in answers]
    assert bodies[0] == bodies[1] == bodies[2]


def test_r13_the_bearer_scheme_is_matched_ignoring_case(api_a: Api) -> None:
    # Given A's valid key
    # When it is sent with the scheme written in lower case (RFC 9110: case-insensitive)
    answer = api_a.call("GET", "/users", authorization=f"bearer {EMBEDDED_KEY_A}")
    # Then it authenticates
    assert answer.status_code == 200
