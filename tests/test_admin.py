"""The mock's admin surface under /_mock: each call of the architecture note does its job."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from harness.target import EMBEDDED_KEY_A
from mock_server.faults import CATALOGUE

from .conftest import ADMIN_PREFIX, AVATAR_A, Admin, Api, assert_refused, instant, make_app


def test_reset_goes_back_to_the_seed_the_clock_and_the_faults(api_a: Api, admin: Admin) -> None:
    # Given a changed state, a moved clock and a fault switched on
    seeded = admin.state()
    real = admin.advance(0)
    api_a.add_member("changed@example.com")
    admin.new_avatar()
    admin.advance(7200)
    admin.set_faults([next(iter(CATALOGUE))])
    # When the mock is reset
    admin.reset()
    # Then state, clock and faults are as at start
    assert json.loads(admin.state()) == json.loads(seeded)
    assert admin.advance(0) - real < timedelta(hours=1)
    assert [f["name"] for f in admin.faults() if f["active"]] == []


@pytest.mark.mock_config(faults=("wrong_field_type",))
@pytest.mark.unchecked_answers  # the configured fault answers outside the spec on purpose
def test_reset_restores_the_faults_configured_at_start(admin: Admin) -> None:
    # Given a mock started with one fault, then switched to none
    admin.set_faults([])
    # When it is reset
    admin.reset()
    # Then the configured fault is on again
    assert [f["name"] for f in admin.faults() if f["active"]] == ["wrong_field_type"]


def test_reset_sets_the_clock_offset_back_to_zero(admin: Admin) -> None:
    # Given a clock moved a day ahead
    real = admin.advance(0)
    admin.advance(86_400)
    # When the mock is reset
    admin.reset()
    # Then the clock is back to real time
    assert admin.advance(0) - real < timedelta(hours=1)


def test_state_export_is_stable_when_nothing_happens(api_a: Api, admin: Admin) -> None:
    # Given the seeded mock
    # When the state is exported twice, with reads in between
    first = admin.state()
    api_a.list()
    api_a.get("usr_nobody")
    # Then the exports are byte-identical (the basis of every R11 check)
    assert admin.state() == first


def test_state_import_restores_an_export(api_a: Api, admin: Admin) -> None:
    # Given an export taken with one extra member, then more changes
    kept = api_a.add_member("kept@example.com")
    exported = admin.state()
    api_a.delete(kept["user_id"])
    api_a.add_member("later@example.com")
    # When the export is imported
    answer = admin.put_state(exported)
    # Then the mock holds exactly that state, and the API reflects it
    assert answer.status_code == 200
    assert json.loads(admin.state()) == json.loads(exported)
    assert api_a.get(kept["user_id"]).json == kept
    assert "later@example.com" not in [m["profile"]["email"] for m in api_a.list_all()]


def test_state_import_of_an_invalid_state_answers_400_and_changes_nothing(
    admin: Admin,
) -> None:
    # Given the seeded state
    state = admin.state()
    # When something that is not a state is imported
    answer = admin.put_state(b'{"avatars": "none"}')
    # Then it answers 400, and nothing changed
    assert answer.status_code == 400
    admin.assert_unchanged(state)


def test_create_avatar_gives_an_avatar_its_owner_and_a_working_key(
    api_a: Api, admin: Admin
) -> None:
    # Given the seeded mock
    # When an Avatar is created
    created = admin.new_avatar(
        type="essential", name="Northwind", owner_email="nia@northwind.example", owner_name="Nia"
    )
    # Then its key lists exactly its owner, who is the owner and an admin
    other = Api(api_a.client, created["api_key"])
    (owner,) = other.list_all()
    assert owner["user_id"] == created["owner_user_id"]
    assert owner["membership"]["avatar_id"] == created["avatar_id"]
    assert (owner["membership"]["is_owner"], owner["membership"]["is_admin"]) == (True, True)
    assert owner["profile"]["email"] == "nia@northwind.example"
    assert owner["profile"]["name"] == "Nia"


def test_create_avatar_with_an_existing_users_email_makes_them_owner(
    api_a: Api, admin: Admin, seed: Any
) -> None:
    # Given the shared user
    # When an Avatar is created with their email as the owner's
    created = admin.new_avatar(owner_email=seed.shared_in_a["profile"]["email"].upper())
    # Then they are its owner, as the same user (R3)
    assert created["owner_user_id"] == seed.shared_id


@pytest.mark.mock_config(seat_limits={"essential": 2, "enterprise": 3})
@pytest.mark.parametrize(("avatar_type", "seats"), [("essential", 2), ("enterprise", 3)])
def test_create_avatar_type_sets_the_seat_limit(
    api_a: Api, admin: Admin, avatar_type: str, seats: int
) -> None:
    # Given a new Avatar of this type, with its owner
    other = Api(api_a.client, admin.new_avatar(type=avatar_type)["api_key"])
    # When it invites until refused
    answers = [other.invite(f"seat{i}@example.com") for i in range(seats)]
    # Then the type's seat limit holds (R7)
    assert [a.status_code for a in answers] == [201] * (seats - 1) + [403]


@pytest.mark.parametrize(
    "body",
    [{}, {"type": "premium", "name": "X", "owner_email": "o@example.com"}, {"type": "essential"}],
)
def test_create_avatar_with_an_invalid_body_answers_400(admin: Admin, body: dict[str, Any]) -> None:
    # Given the seeded state
    state = admin.state()
    # When an invalid Avatar is asked for
    answer = admin.client.post(ADMIN_PREFIX + "/avatars", json=body)
    # Then 400, and nothing changed
    assert answer.status_code == 400
    admin.assert_unchanged(state)


def test_issue_key_gives_a_second_working_key(api_a: Api, admin: Admin) -> None:
    # Given A
    # When a key is issued for A
    issued = admin.new_key(AVATAR_A)
    # Then it is mgak_<credential_id>.<secret> and acts for A
    assert issued["api_key"].startswith(f"mgak_{issued['credential_id']}.")
    second = Api(api_a.client, issued["api_key"])
    assert second.list().json == api_a.list().json


def test_issue_key_for_an_unknown_avatar_answers_404(admin: Admin) -> None:
    # Given no Avatar avt_nowhere
    # When a key is asked for it
    answer = admin.client.post(ADMIN_PREFIX + "/avatars/avt_nowhere/keys")
    # Then 404
    assert answer.status_code == 404


def test_revoke_key_makes_it_answer_401_at_once(api_a: Api, admin: Admin) -> None:
    # Given a second key of A
    issued = admin.new_key(AVATAR_A)
    second = Api(api_a.client, issued["api_key"])
    assert second.list().status_code == 200
    # When it is revoked
    admin.revoke(issued["credential_id"])
    # Then it answers 401 at once (R13), and the other key of A still works
    assert_refused(second.list(), 401, "unauthenticated")
    assert api_a.list().status_code == 200


def test_revoke_of_an_unknown_key_answers_404(admin: Admin) -> None:
    # Given no key nowhere01
    # When it is revoked
    answer = admin.client.delete(ADMIN_PREFIX + "/keys/nowhere01")
    # Then 404
    assert answer.status_code == 404


def test_create_platform_user_makes_a_user_of_no_avatar(api_a: Api, admin: Admin) -> None:
    # Given a platform user created through the admin surface
    user_id = admin.new_platform_user("jordan@example.com", name="Jordan Existing")
    # When A reads them, then invites them
    # Then they are not A's member (R1), and the invite finds the existing user (R2)
    assert_refused(api_a.get(user_id), 404, "user_not_found")
    result = api_a.invite_ok("JORDAN@example.com", profile={"name": "Someone"})
    assert result["existing_user"] is True
    assert result["member"]["user_id"] == user_id
    assert result["member"]["profile"]["name"] == "Jordan Existing"
    assert result["ignored_profile_fields"] == ["name"]


def test_create_platform_user_with_a_taken_email_answers_409(admin: Admin, seed: Any) -> None:
    # Given the shared user
    state = admin.state()
    # When a platform user is created with their email
    answer = admin.client.post(
        ADMIN_PREFIX + "/users", json={"email": seed.shared_in_a["profile"]["email"]}
    )
    # Then it is refused, and nothing changed
    assert answer.status_code in (400, 409)
    admin.assert_unchanged(state)


def test_clock_advance_moves_the_virtual_clock(api_a: Api, admin: Admin) -> None:
    # Given the clock now
    before = admin.advance(0)
    # When it is moved a day ahead
    after = admin.advance(86_400)
    # Then now is a day later, and new memberships join at the moved time
    assert timedelta(days=1) <= after - before < timedelta(days=1, minutes=1)
    joined = instant(api_a.add_member("tomorrow@example.com")["membership"]["joined_at"])
    assert abs(joined - after) < timedelta(seconds=5)


@pytest.mark.parametrize("seconds", [-1, "ten", None])
def test_clock_advance_refuses_going_back_or_nonsense(admin: Admin, seconds: Any) -> None:
    # Given the clock
    state = admin.state()
    # When it is asked to move by a negative or non-numeric amount
    answer = admin.client.post(ADMIN_PREFIX + "/clock/advance", json={"seconds": seconds})
    # Then 400, and nothing changed
    assert answer.status_code == 400
    admin.assert_unchanged(state)


def test_faults_lists_the_whole_catalogue(admin: Admin) -> None:
    # Given the catalogue
    # When the faults are listed
    listed = admin.faults()
    # Then each fault is there with its rule and description, all off
    assert {f["name"]: f["rule"] for f in listed} == {n: f.rule for n, f in CATALOGUE.items()}
    assert all(f["description"] and f["active"] is False for f in listed)


@pytest.mark.unchecked_answers  # switched-on faults answer outside the spec on purpose
def test_faults_switch_turns_the_named_faults_on_and_every_other_off(admin: Admin) -> None:
    # Given two faults of the catalogue
    first, second = list(CATALOGUE)[:2]
    # When both are switched on, then only the second
    admin.set_faults([first, second])
    listed = admin.set_faults([second])
    # Then only the second is active, in the answer and in a fresh listing
    assert [f["name"] for f in listed if f["active"]] == [second]
    assert [f["name"] for f in admin.faults() if f["active"]] == [second]


def test_faults_switch_with_an_unknown_name_answers_400_and_changes_nothing(
    admin: Admin,
) -> None:
    # Given no fault on
    # When an unknown fault is switched on with a known one
    answer = admin.client.put(
        ADMIN_PREFIX + "/faults", json={"active": [next(iter(CATALOGUE)), "no_such_fault"]}
    )
    # Then 400, and every fault is still off
    assert answer.status_code == 400
    assert [f["name"] for f in admin.faults() if f["active"]] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/reset"),
        ("GET", "/state"),
        ("PUT", "/state"),
        ("POST", "/avatars"),
        ("POST", f"/avatars/{AVATAR_A}/keys"),
        ("DELETE", "/keys/acmedemo01"),
        ("POST", "/users"),
        ("POST", "/clock/advance"),
        ("GET", "/faults"),
        ("PUT", "/faults"),
    ],
)
def test_admin_false_hides_the_admin_surface(method: str, path: str) -> None:
    # Given a mock started with admin=False
    # (unchecked: without the admin surface its spec does not apply to /_mock)
    client = make_app(admin=False).test_client(checked=False)
    # When any admin call is made
    answer = client.open(ADMIN_PREFIX + path, method=method, json={})
    # Then it answers 404 not_found as an unknown path, and the API still works
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "not_found"
    assert answer.json["request_id"] == answer.headers["X-Request-Id"]
    assert Api(client, EMBEDDED_KEY_A).list().status_code == 200
