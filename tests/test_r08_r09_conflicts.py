"""R8 Already a member; R9 The owner is protected."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Admin, Api, assert_refused


@pytest.mark.parametrize("who", ["owner_a", "shared_in_a", "invited"])
def test_r8_inviting_an_active_member_answers_409_already_member(
    api_a: Api, seed: Any, who: str
) -> None:
    # Given an active member of A: its owner, the shared user, or one A just invited
    if who == "invited":
        member = api_a.add_member("fresh@example.com", notes="Kept.")
    else:
        member = getattr(seed, who)
    before = api_a.get(member["user_id"]).json
    # When A invites the same email again, with other fields
    answer = api_a.invite(
        member["profile"]["email"],
        profile={"name": "Other"},
        membership={"is_admin": False, "notes": "Replaced?"},
    )
    # Then it answers 409 already_member, and the membership is as it was
    assert_refused(answer, 409, "already_member")
    assert api_a.get(member["user_id"]).json == before


def test_r8_membership_elsewhere_is_no_conflict(api_b: Api, seed: Any) -> None:
    # Given A's owner, not a member of B
    # When B invites them
    result = api_b.invite_ok(seed.owner_a["profile"]["email"])
    # Then B gets a new membership of the existing user
    assert result["existing_user"] is True
    assert result["member"]["membership"]["is_owner"] is False


@pytest.mark.parametrize("avatar", ["a", "b"])
def test_r9_delete_of_the_owner_answers_409_owner_protected(
    api_a: Api, api_b: Api, admin: Admin, seed: Any, avatar: str
) -> None:
    # Given the owner of an Avatar
    api, owner = (api_a, seed.owner_a) if avatar == "a" else (api_b, seed.owner_b)
    state = admin.state()
    # When the Avatar's key removes them
    answer = api.delete(owner["user_id"])
    # Then it answers 409 owner_protected; the owner is still there; nothing changed
    assert_refused(answer, 409, "owner_protected")
    assert api.get(owner["user_id"]).json == owner
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    "body",
    [
        {"is_admin": False},
        {"is_admin": False, "notes": "Demoted?"},
        {"is_admin": False, "is_coach": True, "structured_data": {"x": 1}},
    ],
    ids=["alone", "with-notes", "with-more"],
)
def test_r9_put_that_sets_the_owners_is_admin_false_answers_409_owner_protected(
    api_a: Api, admin: Admin, seed: Any, body: dict[str, Any]
) -> None:
    # Given A's owner, an admin
    state = admin.state()
    # When A sets their is_admin to false (with or without other fields)
    answer = api_a.put(seed.owner_a["user_id"], body)
    # Then it answers 409 owner_protected, and nothing changed at all
    assert_refused(answer, 409, "owner_protected")
    assert api_a.get(seed.owner_a["user_id"]).json == seed.owner_a
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    "body",
    [
        {"is_admin": True},
        {"notes": "Founder."},
        {"is_coach": True, "structured_data": {"plan": "pro"}},
        {"license_expires_at": "2030-01-01T00:00:00Z"},
    ],
    ids=lambda b: ",".join(b),
)
def test_r9_other_updates_of_the_owner_are_allowed(
    api_a: Api, seed: Any, body: dict[str, Any]
) -> None:
    # Given A's owner
    # When A updates their membership without demoting them
    answer = api_a.put(seed.owner_a["user_id"], body)
    # Then it is applied, and they stay the owner and an admin
    assert answer.status_code == 200
    assert answer.json["membership"]["is_owner"] is True
    assert answer.json["membership"]["is_admin"] is True


def test_r9_the_owner_of_a_new_avatar_is_protected_too(api_a: Api, admin: Admin) -> None:
    # Given a new Avatar and its owner
    created = admin.new_avatar()
    other = Api(api_a.client, created["api_key"])
    (owner,) = other.list_all()
    assert owner["user_id"] == created["owner_user_id"]
    assert (owner["membership"]["is_owner"], owner["membership"]["is_admin"]) == (True, True)
    # When the new Avatar's key tries to remove or demote them
    # Then both answer 409 owner_protected
    assert_refused(other.delete(owner["user_id"]), 409, "owner_protected")
    assert_refused(other.put(owner["user_id"], {"is_admin": False}), 409, "owner_protected")


def test_r9_an_owner_elsewhere_is_an_ordinary_member_here(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given B's owner invited into A
    user_id = api_a.invite_ok(seed.owner_b["profile"]["email"])["member"]["user_id"]
    # When A demotes and removes them
    # Then both are allowed, and they remain B's owner
    assert api_a.put(user_id, {"is_admin": False}).status_code == 200
    assert api_a.delete(user_id).status_code == 204
    assert api_b.get(user_id).json["membership"]["is_owner"] is True


def test_r9_exactly_one_owner_per_avatar(api_a: Api, api_b: Api) -> None:
    # Given members invited with every flag they may set
    api_a.add_member("wannabe@example.com", is_admin=True, is_coach=True)
    # When each Avatar lists its members
    # Then each has exactly one owner
    for api in (api_a, api_b):
        owners = [m for m in api.list_all() if m["membership"]["is_owner"]]
        assert len(owners) == 1
