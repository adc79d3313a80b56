"""R11 Failures change nothing: every answer other than 2xx leaves the whole state as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from harness.target import EMBEDDED_KEY_A

from .conftest import NEVER_ISSUED_ID, Admin, Api

# Each case: (setup, then the refused request). Setup runs before the state is taken.
Setup = Callable[[Api, Api, Admin, Any], Any]
Refusal = Callable[[Api, Api, Admin, Any, Any], TestResponse]


def nothing(api_a: Api, api_b: Api, admin: Admin, seed: Any) -> None:
    return None


def a_member(api_a: Api, api_b: Api, admin: Admin, seed: Any) -> str:
    return api_a.add_member("member@example.com", notes="Before.", structured_data={"k": 1})[
        "user_id"
    ]


def b_full(api_a: Api, api_b: Api, admin: Admin, seed: Any) -> None:
    api_b.add_member("third@example.com")


def a_spent(api_a: Api, api_b: Api, admin: Admin, seed: Any) -> None:
    api_a.add_member("spent@example.com")


def platform_spent(api_a: Api, api_b: Api, admin: Admin, seed: Any) -> None:
    api_b.add_member("spent@example.com")


def a_revoked_key(api_a: Api, api_b: Api, admin: Admin, seed: Any) -> Api:
    created = admin.new_key("avt_acme")
    admin.revoke(created["credential_id"])
    return Api(api_a.client, created["api_key"])


SMALL = pytest.mark.mock_config(
    seat_limits={"essential": 3, "enterprise": 500}, invites_per_hour=1, safety_cap_per_hour=100
)
CAPPED = pytest.mark.mock_config(invites_per_hour=60, safety_cap_per_hour=1)

CASES: list[Any] = [
    # POST /users
    ("invite-unknown-field", nothing, lambda a, b, ad, s, x: a.invite("n@example.com", colour=1)),
    (
        "invite-is-owner",
        nothing,
        lambda a, b, ad, s, x: a.invite("n@example.com", membership={"is_owner": True}),
    ),
    (
        "invite-null-profile",
        nothing,
        lambda a, b, ad, s, x: a.call(
            "POST", "/users", json_body={"email": "n@example.com", "profile": None}
        ),
    ),
    (
        "invite-null-structured-data",
        nothing,
        lambda a, b, ad, s, x: a.invite("n@example.com", membership={"structured_data": None}),
    ),
    ("invite-bad-email", nothing, lambda a, b, ad, s, x: a.invite("not an email")),
    (
        "invite-long-name",
        nothing,
        lambda a, b, ad, s, x: a.invite("n@example.com", profile={"name": "n" * 201}),
    ),
    (
        "invite-existing-user-invalid",
        nothing,
        lambda a, b, ad, s, x: a.invite("coach@solo.example", membership={"notes": "x" * 2001}),
    ),
    (
        "invite-415",
        nothing,
        lambda a, b, ad, s, x: a.call(
            "POST", "/users", data='{"email": "n@example.com"}', content_type="text/plain"
        ),
    ),
    (
        "invite-413",
        nothing,
        lambda a, b, ad, s, x: a.invite("n@example.com", membership={"notes": "x" * 70_000}),
    ),
    ("invite-409", nothing, lambda a, b, ad, s, x: a.invite(s.owner_a["profile"]["email"])),
    pytest.param(
        "invite-403", b_full, lambda a, b, ad, s, x: b.invite("fourth@example.com"), marks=SMALL
    ),
    pytest.param(
        "invite-429-rate", a_spent, lambda a, b, ad, s, x: a.invite("n@example.com"), marks=SMALL
    ),
    pytest.param(
        "invite-429-cap",
        platform_spent,
        lambda a, b, ad, s, x: a.invite("n@example.com"),
        marks=CAPPED,
    ),
    (
        "invite-401",
        nothing,
        lambda a, b, ad, s, x: a.call(
            "POST", "/users", json_body={"email": "n@example.com"}, authorization=None
        ),
    ),
    ("invite-401-revoked", a_revoked_key, lambda a, b, ad, s, x: x.invite("n@example.com")),
    # PUT /users/{id}
    ("put-422", a_member, lambda a, b, ad, s, x: a.put(x, {"name": "N", "notes": "After."})),
    ("put-400-unknown", a_member, lambda a, b, ad, s, x: a.put(x, {"notes": "A", "colour": 1})),
    ("put-400-empty", a_member, lambda a, b, ad, s, x: a.put(x, {})),
    (
        "put-400-value",
        a_member,
        lambda a, b, ad, s, x: a.put(x, {"notes": "After.", "is_coach": "yes"}),
    ),
    (
        "put-415",
        a_member,
        lambda a, b, ad, s, x: a.call(
            "PUT", f"/users/{x}", data='{"notes": "After."}', content_type="text/plain"
        ),
    ),
    ("put-404", nothing, lambda a, b, ad, s, x: a.put(NEVER_ISSUED_ID, {"notes": "After."})),
    (
        "put-404-other-avatar",
        nothing,
        lambda a, b, ad, s, x: a.put(s.owner_b["user_id"], {"notes": "A"}),
    ),
    (
        "put-409-owner",
        nothing,
        lambda a, b, ad, s, x: a.put(s.owner_a["user_id"], {"is_admin": False, "notes": "A"}),
    ),
    (
        "put-401",
        a_member,
        lambda a, b, ad, s, x: a.call(
            "PUT", f"/users/{x}", json_body={"notes": "After."}, authorization="Bearer nope"
        ),
    ),
    # DELETE /users/{id}
    ("delete-404", nothing, lambda a, b, ad, s, x: a.delete(NEVER_ISSUED_ID)),
    ("delete-404-other-avatar", nothing, lambda a, b, ad, s, x: a.delete(s.owner_b["user_id"])),
    ("delete-409-owner", nothing, lambda a, b, ad, s, x: a.delete(s.owner_a["user_id"])),
    (
        "delete-401",
        a_member,
        lambda a, b, ad, s, x: a.call("DELETE", f"/users/{x}", authorization=None),
    ),
    (
        "delete-401-wrong-secret",
        a_member,
        lambda a, b, ad, s, x: a.call(
            "DELETE", f"/users/{x}", authorization="Bearer " + EMBEDDED_KEY_A[:-1] + "X"
        ),
    ),
    # GET
    ("list-400-cursor", nothing, lambda a, b, ad, s, x: a.list(cursor="garbage")),
    ("list-400-limit", nothing, lambda a, b, ad, s, x: a.list(limit=0)),
    ("get-404", nothing, lambda a, b, ad, s, x: a.get(NEVER_ISSUED_ID)),
    ("list-401", nothing, lambda a, b, ad, s, x: a.call("GET", "/users", authorization=None)),
    # Outside the operations
    ("unknown-path", nothing, lambda a, b, ad, s, x: a.call("POST", "/members", json_body={})),
    (
        "unknown-method",
        a_member,
        lambda a, b, ad, s, x: a.call("PATCH", f"/users/{x}", json_body={"notes": "A"}),
    ),
]


def _case_id(case: Any) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


def case(name: str) -> tuple[str, Setup, Refusal]:
    """One case of the table, by name."""
    (found,) = [c for c in CASES if _case_id(c) == name]
    return tuple(found.values if hasattr(found, "values") else found)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("name", "setup", "refused"),
    CASES,
    ids=[_case_id(case) for case in CASES],
)
def test_r11_a_refused_request_leaves_the_state_byte_identical(
    api_a: Api,
    api_b: Api,
    admin: Admin,
    seed: Any,
    name: str,
    setup: Setup,
    refused: Refusal,
) -> None:
    # Given some state
    made = setup(api_a, api_b, admin, seed)
    state = admin.state()
    # When a request is refused
    with api_a.client.unchecked():  # unknown paths and methods are outside the spec
        answer = refused(api_a, api_b, admin, seed, made)
    # Then it is a 4xx, and the exported state is byte for byte what it was
    assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.get_data()[:300])
    admin.assert_unchanged(state)


def test_r11_a_success_does_change_the_state(api_a: Api, admin: Admin) -> None:
    # Given the state (so that the R11 comparison is not blind)
    state = admin.state()
    # When an invite succeeds
    api_a.add_member("changes@example.com")
    # Then the exported state differs
    assert admin.state() != state


@pytest.mark.parametrize(
    "refused",
    [
        lambda api, owner_email: api.invite(owner_email),
        lambda api, owner_email: api.invite("not an email"),
    ],
    ids=["409", "400"],
)
def test_r11_a_refusal_after_the_hour_has_rolled_on_changes_nothing(
    api_a: Api, admin: Admin, seed: Any, refused: Callable[[Api, str], TestResponse]
) -> None:
    # Given an invite more than an hour old
    api_a.add_member("long.ago@example.com")
    admin.advance(3601)
    state = admin.state()
    # When an invite is refused
    answer = refused(api_a, seed.owner_a["profile"]["email"])
    # Then the state, the invite history included, is byte for byte what it was
    assert 400 <= answer.status_code < 500
    admin.assert_unchanged(state)
