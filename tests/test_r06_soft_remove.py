"""R6 DELETE is a soft remove of this Avatar's membership only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .conftest import SHARED_EMAIL, Admin, Api, assert_refused, instant


def test_r6_delete_removes_only_this_avatars_membership(api_a: Api, api_b: Api, seed: Any) -> None:
    # Given the shared user, a member of A and B
    in_b_before = api_b.get(seed.shared_id).json
    # When A removes them
    answer = api_a.delete(seed.shared_id)
    # Then A answers 204 without a body, and B's view of the user is exactly as it was
    assert answer.status_code == 204
    assert answer.get_data() == b""
    assert api_b.get(seed.shared_id).json == in_b_before
    assert seed.shared_id in api_b.list_ids()


def test_r6_delete_leaves_every_field_of_the_other_avatars_membership(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given the shared user, whose membership in B holds a value other than the default in
    # every field (a change to a default would not show on a default)
    in_b_before = api_b.put(seed.shared_id, {
        "is_admin": True, "is_coach": True, "license_expires_at": "2031-01-31T12:00:00Z",
        "notes": "Kept by B.", "structured_data": {"kept": ["by", "B"]}}).json
    # When A removes them
    assert api_a.delete(seed.shared_id).status_code == 204
    # Then B's membership is exactly as it was, field by field
    assert api_b.get(seed.shared_id).json == in_b_before


def test_r6_removed_member_is_absent_from_the_list_and_get_answers_404(
    api_a: Api, seed: Any
) -> None:
    # Given the shared user, a member of A
    # When A removes them
    assert api_a.delete(seed.shared_id).status_code == 204
    # Then they are gone from A's list, and GET and PUT answer 404
    assert seed.shared_id not in api_a.list_ids()
    assert_refused(api_a.get(seed.shared_id), 404, "user_not_found")
    assert_refused(api_a.put(seed.shared_id, {"notes": "x"}), 404, "user_not_found")


def test_r6_second_delete_answers_404(api_a: Api, admin: Admin) -> None:
    # Given a member A has removed
    user_id = api_a.add_member("twice@example.com")["user_id"]
    assert api_a.delete(user_id).status_code == 204
    state = admin.state()
    # When A removes them again
    answer = api_a.delete(user_id)
    # Then it answers 404 user_not_found, and nothing changed
    assert_refused(answer, 404, "user_not_found")
    admin.assert_unchanged(state)


@pytest.mark.mock_config(seat_limits={"essential": 3, "enterprise": 500})
def test_r6_the_seat_is_free_again(api_b: Api) -> None:
    # Given B (essential, 3 seats) full: its owner, the shared user and one more
    third = api_b.add_member("third@example.com")["user_id"]
    assert_refused(api_b.invite("fourth@example.com"), 403, "seat_limit_reached")
    # When B removes one member
    assert api_b.delete(third).status_code == 204
    # Then one invite fits again, and no more
    assert api_b.invite("fourth@example.com").status_code == 201
    assert_refused(api_b.invite("fifth@example.com"), 403, "seat_limit_reached")


def test_r6_reinvite_makes_a_fresh_membership_from_the_new_invite(api_a: Api, admin: Admin) -> None:
    # Given a member with every membership field set, removed an hour later
    old = api_a.invite_ok(
        "back@example.com",
        profile={"name": "Bea Back", "role": None, "expertise": None, "locale": "nl-NL"},
        membership={
            "is_admin": True,
            "is_coach": True,
            "license_expires_at": "2027-01-01T00:00:00Z",
            "notes": "First stay.",
            "structured_data": {"stay": 1},
        },
    )["member"]
    admin.advance(3600)
    assert api_a.delete(old["user_id"]).status_code == 204
    now = admin.advance(60)
    # When A invites the same email again with other membership fields
    answer = api_a.invite("Back@Example.com", membership={"notes": "Second stay."})
    # Then it is the same user with a fresh membership: the new fields, defaults elsewhere
    assert answer.status_code == 201
    result = answer.json
    assert result["existing_user"] is True
    assert result["ignored_profile_fields"] == []
    member = result["member"]
    assert member["user_id"] == old["user_id"]
    assert member["profile"] == old["profile"]
    membership = member["membership"]
    assert membership["notes"] == "Second stay."
    assert (membership["is_admin"], membership["is_coach"]) == (False, False)
    assert membership["license_expires_at"] is None
    assert membership["structured_data"] == {}
    assert membership["status"] == "active"
    assert abs(instant(membership["joined_at"]) - now) < timedelta(seconds=5)
    assert instant(membership["joined_at"]) > instant(old["membership"]["joined_at"])
    assert api_a.list_ids().count(old["user_id"]) == 1


def test_r6_reinvite_still_ignores_the_profile(api_a: Api, seed: Any) -> None:
    # Given the shared user removed from A
    assert api_a.delete(seed.shared_id).status_code == 204
    # When A invites them again with a profile
    result = api_a.invite_ok(SHARED_EMAIL, profile={"name": "Pat Renamed"})
    # Then the profile is the stored one (R2) and the sent key is named
    assert result["existing_user"] is True
    assert result["ignored_profile_fields"] == ["name"]
    assert result["member"]["profile"] == seed.shared_in_a["profile"]


def test_r6_the_removed_membership_is_invisible_to_the_other_avatar_too(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given A removed the shared user
    assert api_a.delete(seed.shared_id).status_code == 204
    # When B reads and lists
    # Then B sees its own active membership, and nothing about the removal
    member = api_b.get(seed.shared_id).json
    assert member["membership"]["avatar_id"] == seed.shared_in_b["membership"]["avatar_id"]
    assert member["membership"]["status"] == "active"
    assert member == seed.shared_in_b
