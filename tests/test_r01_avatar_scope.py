"""R1 Avatar scope: a key sees and changes only its own Avatar's active members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import AVATAR_A, NEVER_ISSUED_ID, Admin, Api, assert_refused


def never_existed(api_a: Api, api_b: Api, admin: Admin) -> str:
    return NEVER_ISSUED_ID


def member_of_another_avatar_only(api_a: Api, api_b: Api, admin: Admin) -> str:
    return api_b.add_member("only.in.solo@example.com", notes="Solo's")["user_id"]


def platform_user_of_no_avatar(api_a: Api, api_b: Api, admin: Admin) -> str:
    return admin.new_platform_user("nobody.yet@example.com", name="Nobody Yet")


def removed_here(api_a: Api, api_b: Api, admin: Admin) -> str:
    user_id = api_a.add_member("gone@example.com")["user_id"]
    assert api_a.delete(user_id).status_code == 204
    return user_id


ABSENT_HERE: list[Callable[[Api, Api, Admin], str]] = [
    never_existed,
    member_of_another_avatar_only,
    platform_user_of_no_avatar,
    removed_here,
]

OPERATIONS: dict[str, Callable[[Api, str], Any]] = {
    "GET": lambda api, user_id: api.get(user_id),
    "PUT": lambda api, user_id: api.put(user_id, {"notes": "written through A"}),
    "DELETE": lambda api, user_id: api.delete(user_id),
}


def comparable(answer: Any) -> tuple[int, dict[str, Any], set[str]]:
    """What must not differ between two 404s: status, body but its request_id, header names."""
    body = {k: v for k, v in answer.json.items() if k != "request_id"}
    return answer.status_code, body, {name.lower() for name, _ in answer.headers.items()}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("absent", ABSENT_HERE, ids=lambda f: f.__name__)
def test_r1_user_without_active_membership_here_answers_404_user_not_found(
    api_a: Api, api_b: Api, admin: Admin, operation: str, absent: Callable[..., str]
) -> None:
    # Given a user id with no active membership in A
    user_id = absent(api_a, api_b, admin)
    state = admin.state()
    # When A reads, updates or removes it
    answer = OPERATIONS[operation](api_a, user_id)
    # Then A gets 404 user_not_found, and nothing changed (R11)
    assert_refused(answer, 404, "user_not_found")
    admin.assert_unchanged(state)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_r1_the_404_is_the_same_whatever_the_reason(
    api_a: Api, api_b: Api, admin: Admin, operation: str
) -> None:
    # Given one user id per reason for being absent from A
    user_ids = {absent.__name__: absent(api_a, api_b, admin) for absent in ABSENT_HERE}
    # When A sends the same operation to each
    answers = {reason: OPERATIONS[operation](api_a, uid) for reason, uid in user_ids.items()}
    # Then the answers cannot be told apart (only request ids differ)
    first = comparable(answers["never_existed"])
    for reason, answer in answers.items():
        assert comparable(answer) == first, reason


def test_r1_list_holds_only_the_keys_active_members(api_a: Api, api_b: Api) -> None:
    # Given members of B only, a member removed from A and members of A
    solo_only = api_b.add_member("solo.only@example.com")["user_id"]
    removed = api_a.add_member("removed.from.acme@example.com")["user_id"]
    kept = api_a.add_member("kept.in.acme@example.com")["user_id"]
    assert api_a.delete(removed).status_code == 204
    # When A lists its members
    members = api_a.list_all(limit=100)
    # Then only A's active members are there, each with A's membership
    user_ids = {member["user_id"] for member in members}
    assert kept in user_ids
    assert solo_only not in user_ids
    assert removed not in user_ids
    for member in members:
        assert member["membership"]["avatar_id"] == AVATAR_A
        assert member["membership"]["status"] == "active"


def test_r1_get_of_own_member_shows_this_avatars_membership(api_a: Api) -> None:
    # Given a member of A
    member = api_a.add_member("reader@example.com", is_coach=True, notes="Acme notes")
    # When A reads it
    answer = api_a.get(member["user_id"])
    # Then it is the member as invited, in A
    assert answer.status_code == 200
    assert answer.json == member
    assert answer.json["membership"]["avatar_id"] == AVATAR_A


def test_r1_a_write_through_one_key_never_touches_another_avatars_membership(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given the shared user, a member of A and B
    before_in_b = api_b.get(seed.shared_id).json
    # When A updates and then removes its membership
    assert api_a.put(seed.shared_id, {"notes": "A only", "structured_data": {}}).status_code == 200
    assert api_a.delete(seed.shared_id).status_code == 204
    # Then B's membership is exactly as it was
    assert api_b.get(seed.shared_id).json == before_in_b
