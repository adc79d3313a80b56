"""R7 Invite limits: seats per Avatar type, invites per Avatar per rolling hour, a safety cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from .conftest import Admin, Api, assert_refused

RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def rate_headers(answer: TestResponse) -> dict[str, int]:
    """The RateLimit-* headers as whole numbers; each must be there."""
    values = {}
    for name in RATE_HEADERS:
        raw = answer.headers.get(name)
        assert raw is not None and raw.isdigit(), f"R7: {name} is {raw!r} on {answer.status}"
        values[name] = int(raw)
    assert 0 <= values["RateLimit-Reset"] <= 3600
    return values


def retry_after(answer: TestResponse) -> int:
    raw = answer.headers.get("Retry-After", "")
    assert raw.isdigit() and int(raw) >= 1, f"R7: Retry-After is {raw!r}"
    return int(raw)


def invite_many(api: Api, prefix: str, count: int) -> list[str]:
    return [api.add_member(f"{prefix}{i}@example.com")["user_id"] for i in range(count)]


# --- Seat limit -------------------------------------------------------------------------


@pytest.mark.mock_config(seat_limits={"essential": 4, "enterprise": 6})
def test_r7_active_members_never_exceed_the_avatar_types_seat_limit(
    api_a: Api, api_b: Api, admin: Admin
) -> None:
    # Given B (essential, 4 seats, 2 seeded members) and A (enterprise, 6 seats, 2 seeded)
    invite_many(api_b, "solo", 2)
    invite_many(api_a, "acme", 4)
    state = admin.state()
    # When each invites one more
    # Then each answers 403 seat_limit_reached, and nothing changed
    assert_refused(api_b.invite("one.more@example.com"), 403, "seat_limit_reached")
    assert_refused(api_a.invite("one.more@example.com"), 403, "seat_limit_reached")
    admin.assert_unchanged(state)
    assert len(api_b.list_ids()) == 4
    assert len(api_a.list_ids()) == 6


@pytest.mark.mock_config(seat_limits={"essential": 3, "enterprise": 500})
def test_r7_seat_limit_counts_each_avatar_alone(api_a: Api, api_b: Api, admin: Admin) -> None:
    # Given B full (3 of 3) and a new essential Avatar with its owner only
    invite_many(api_b, "solo", 1)
    other = Api(api_a.client, admin.new_avatar(type="essential")["api_key"])
    # When the new Avatar and A invite
    # Then both succeed: B's seats are B's alone
    assert other.invite("new.one@example.com").status_code == 201
    assert api_a.invite("new.one@example.com").status_code == 201
    assert_refused(api_b.invite("new.one@example.com"), 403, "seat_limit_reached")


@pytest.mark.mock_config(seat_limits={"essential": 3, "enterprise": 500})
def test_r7_seat_limit_refuses_an_existing_user_too(api_b: Api, api_a: Api) -> None:
    # Given B full and a user who exists in A only
    invite_many(api_b, "solo", 1)
    api_a.add_member("elsewhere@example.com")
    # When B invites that user
    # Then the seat limit still applies
    assert_refused(api_b.invite("elsewhere@example.com"), 403, "seat_limit_reached")


# --- Per-Avatar rolling hour ------------------------------------------------------------


@pytest.mark.mock_config(invites_per_hour=3)
def test_r7_invites_beyond_the_hourly_limit_answer_429_invite_rate_limited(
    api_a: Api, api_b: Api, admin: Admin
) -> None:
    # Given A has sent 3 invites, its hourly limit
    invite_many(api_a, "acme", 3)
    state = admin.state()
    # When A invites once more
    answer = api_a.invite("one.more@example.com")
    # Then 429 invite_rate_limited with Retry-After, and nothing changed
    assert_refused(answer, 429, "invite_rate_limited")
    assert 1 <= retry_after(answer) <= 3600
    admin.assert_unchanged(state)
    # And B, another Avatar, may still invite
    assert api_b.invite("one.more@example.com").status_code == 201


@pytest.mark.mock_config(invites_per_hour=2)
def test_r7_the_hourly_limit_is_a_rolling_hour_of_the_virtual_clock(
    api_a: Api, admin: Admin
) -> None:
    # Given one invite at t0 and one at t0 + 30 min, A's limit of 2
    api_a.add_member("first@example.com")
    admin.advance(1800)
    api_a.add_member("second@example.com")
    # When A invites again at t0 + 30 min
    refused = api_a.invite("third@example.com")
    # Then it must wait until the first invite is an hour old
    assert_refused(refused, 429, "invite_rate_limited")
    wait = retry_after(refused)
    assert 1790 <= wait <= 1800
    # When A waits a little less than that
    admin.advance(wait - 10)
    # Then it is still refused
    assert_refused(api_a.invite("third@example.com"), 429, "invite_rate_limited")
    # When A waits the rest of Retry-After
    admin.advance(10)
    # Then one invite fits (the first fell out of the window), but not two
    assert api_a.invite("third@example.com").status_code == 201
    assert_refused(api_a.invite("fourth@example.com"), 429, "invite_rate_limited")


@pytest.mark.mock_config(invites_per_hour=2)
def test_r7_only_invites_that_succeed_count(api_a: Api) -> None:
    # Given one successful invite, A's limit being 2
    member = api_a.add_member("counted@example.com")
    # When A's invites are refused for other reasons, several times
    for _ in range(3):
        assert_refused(api_a.invite(member["profile"]["email"]), 409, "already_member")
        assert_refused(api_a.invite("not-an-email"), 400, "invalid_request")
        assert_refused(
            api_a.invite("x@example.com", membership={"is_owner": True}), 400, "invalid_request"
        )
    # Then the second successful invite still fits, and the third does not
    assert api_a.invite("second@example.com").status_code == 201
    assert_refused(api_a.invite("third@example.com"), 429, "invite_rate_limited")


@pytest.mark.mock_config(invites_per_hour=3)
def test_r7_removing_members_gives_back_no_invites(api_a: Api) -> None:
    # Given A sent its 3 invites and removed those members again
    for user_id in invite_many(api_a, "churn", 3):
        assert api_a.delete(user_id).status_code == 204
    # When A invites once more
    # Then the hour's invites are spent
    assert_refused(api_a.invite("again@example.com"), 429, "invite_rate_limited")


# --- Platform safety cap ----------------------------------------------------------------


@pytest.mark.mock_config(invites_per_hour=60, safety_cap_per_hour=3)
def test_r7_the_safety_cap_counts_invites_across_avatars(
    api_a: Api, api_b: Api, admin: Admin
) -> None:
    # Given 3 invites across A and B, the platform's cap
    invite_many(api_a, "acme", 2)
    invite_many(api_b, "solo", 1)
    other = Api(api_a.client, admin.new_avatar()["api_key"])
    state = admin.state()
    # When any Avatar invites
    answers = [api.invite("capped@example.com") for api in (api_a, api_b, other)]
    # Then each answers 429 invite_safety_cap_reached with Retry-After, nothing changed
    for answer in answers:
        assert_refused(answer, 429, "invite_safety_cap_reached")
        assert 1 <= retry_after(answer) <= 3600
    admin.assert_unchanged(state)
    # And the per-Avatar headers still tell A's own hour: 2 of 60 spent
    assert rate_headers(answers[0])["RateLimit-Remaining"] == 58
    # When the hour has rolled on
    admin.advance(max(retry_after(answer) for answer in answers))
    # Then invites go through again
    assert api_b.invite("capped@example.com").status_code == 201


# --- Headers ----------------------------------------------------------------------------


@pytest.mark.mock_config(invites_per_hour=4)
def test_r7_ratelimit_headers_count_down_the_avatars_hour(api_a: Api, api_b: Api) -> None:
    # Given A, with 4 invites an hour, none spent
    # When A invites four times, then once more
    answers = [api_a.invite(f"count{i}@example.com") for i in range(5)]
    # Then Limit stays 4, Remaining counts 3, 2, 1, 0, 0
    assert [a.status_code for a in answers] == [201, 201, 201, 201, 429]
    headers = [rate_headers(a) for a in answers]
    assert [h["RateLimit-Limit"] for h in headers] == [4] * 5
    assert [h["RateLimit-Remaining"] for h in headers] == [3, 2, 1, 0, 0]
    # And the refusal's Reset tells the same wait as Retry-After
    assert abs(headers[-1]["RateLimit-Reset"] - retry_after(answers[-1])) <= 1
    # And B's hour is its own
    assert rate_headers(api_b.invite("b@example.com"))["RateLimit-Remaining"] == 3


def _created(api_a: Api, api_b: Api, seed: Any) -> TestResponse:
    return api_a.invite("fresh@example.com")


def _invalid(api_a: Api, api_b: Api, seed: Any) -> TestResponse:
    return api_a.invite("fresh@example.com", membership={"notes": 1})


def _already_member(api_a: Api, api_b: Api, seed: Any) -> TestResponse:
    return api_a.invite(seed.owner_a["profile"]["email"])


def _seat_limit(api_a: Api, api_b: Api, seed: Any) -> TestResponse:
    api_b.add_member("third@example.com")
    return api_b.invite("fourth@example.com")


def _rate_limited(api_a: Api, api_b: Api, seed: Any) -> TestResponse:
    invite_many(api_b, "spent", 1)  # B: 1 of its 2 per hour; the cap is not reached
    api_a.add_member("a1@example.com")
    api_a.add_member("a2@example.com")
    return api_a.invite("a3@example.com")


def _safety_capped(api_a: Api, api_b: Api, seed: Any) -> TestResponse:
    api_a.add_member("a1@example.com")
    api_b.add_member("b1@example.com")
    api_a.add_member("a2@example.com")
    return api_b.invite("b2@example.com")


@pytest.mark.mock_config(
    seat_limits={"essential": 3, "enterprise": 500}, invites_per_hour=2, safety_cap_per_hour=3
)
@pytest.mark.parametrize(
    ("provoke", "status"),
    [
        (_created, 201),
        (_invalid, 400),
        (_already_member, 409),
        (_seat_limit, 403),
        (_rate_limited, 429),
        (_safety_capped, 429),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)).strip("_"),
)
def test_r7_every_invite_answer_after_authentication_carries_ratelimit_headers(
    api_a: Api, api_b: Api, seed: Any, provoke: Callable[..., TestResponse], status: int
) -> None:
    # Given an invite that ends in this outcome
    # When it is answered
    answer = provoke(api_a, api_b, seed)
    # Then it carries the three RateLimit-* headers as whole numbers
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert rate_headers(answer)["RateLimit-Limit"] == 2


# --- Order of checks for POST /users ----------------------------------------------------


@pytest.mark.mock_config(invites_per_hour=1, safety_cap_per_hour=100)
@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"json_body": {"email": "x@example.com"}, "authorization": None}, 401, "unauthenticated"),
        (
            {"data": "email=x@example.com", "content_type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        ({"data": "{", "content_type": "application/json"}, 400, "invalid_request"),
        ({"json_body": {"email": "x@example.com", "colour": 1}}, 400, "invalid_request"),
        ({"json_body": {"email": "x@example.com", "pad": "p" * 70_000}}, 413, "payload_too_large"),
        ({"json_body": {"email": "x@example.com"}}, 429, "invite_rate_limited"),
    ],
    ids=["401", "415", "400-json", "400-schema", "413", "429"],
)
def test_r7_order_of_checks_authentication_and_body_come_before_the_rate_limit(
    api_a: Api, admin: Admin, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    # Given A has spent its hour
    api_a.add_member("spent@example.com")
    state = admin.state()
    # When A sends an invite that is also wrong in an earlier way
    answer = api_a.call("POST", "/users", **request_kwargs)
    # Then the earlier check answers, and nothing changed
    assert_refused(answer, status, code)
    admin.assert_unchanged(state)


@pytest.mark.mock_config(invites_per_hour=2, safety_cap_per_hour=2)
def test_r7_order_of_checks_rate_limit_before_safety_cap(api_a: Api, api_b: Api) -> None:
    # Given A spent its hour, which also spent the platform's cap
    invite_many(api_a, "acme", 2)
    # When A and B invite
    # Then A hears about its own limit first, B about the cap
    assert_refused(api_a.invite("more@example.com"), 429, "invite_rate_limited")
    assert_refused(api_b.invite("more@example.com"), 429, "invite_safety_cap_reached")


@pytest.mark.mock_config(invites_per_hour=1, safety_cap_per_hour=100)
def test_r7_order_of_checks_rate_limit_before_already_member(api_a: Api, seed: Any) -> None:
    # Given A spent its hour
    api_a.add_member("spent@example.com")
    # When A invites someone already a member
    # Then the rate limit answers
    assert_refused(api_a.invite(seed.owner_a["profile"]["email"]), 429, "invite_rate_limited")


@pytest.mark.mock_config(invites_per_hour=60, safety_cap_per_hour=1)
def test_r7_order_of_checks_safety_cap_before_already_member(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given B spent the platform's cap
    api_b.add_member("spent@example.com")
    # When A invites someone already a member
    # Then the cap answers
    answer = api_a.invite(seed.owner_a["profile"]["email"])
    assert_refused(answer, 429, "invite_safety_cap_reached")


@pytest.mark.mock_config(seat_limits={"essential": 2, "enterprise": 500})
def test_r7_order_of_checks_already_member_before_seat_limit(api_b: Api, seed: Any) -> None:
    # Given B full (its owner and the shared user, 2 of 2)
    # When B invites one of them again
    # Then already_member answers, not the seat limit
    assert_refused(api_b.invite(seed.owner_b["profile"]["email"]), 409, "already_member")
    assert_refused(api_b.invite("newcomer@example.com"), 403, "seat_limit_reached")


@pytest.mark.mock_config(
    seat_limits={"essential": 2, "enterprise": 500}, invites_per_hour=1, safety_cap_per_hour=100
)
def test_r7_order_of_checks_rate_limit_before_seat_limit(api_b: Api, admin: Admin) -> None:
    # Given B full and out of invites (an invite, then a removal to make room, then full again)
    user_id = api_b.list_ids()[-1]
    assert api_b.delete(user_id).status_code == 204
    api_b.add_member("spent@example.com")
    # When B invites a newcomer
    # Then the rate limit answers first
    assert_refused(api_b.invite("newcomer@example.com"), 429, "invite_rate_limited")
