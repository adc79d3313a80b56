"""R14 Privacy across Avatars: nothing of another Avatar's memberships in any answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import TestResponse

from .conftest import AVATAR_A, AVATAR_B, NEVER_ISSUED_ID, Api


@pytest.fixture
def b_secrets(api_b: Api, seed: Any) -> list[str]:
    """Strings that only B's memberships hold: notes, structured data, its Avatar id."""
    return keep_private_notes_in_b(api_b, seed)


def keep_private_notes_in_b(api_b: Api, seed: Any) -> list[str]:
    """Give B's memberships private notes and data; the strings only B may see."""
    api_b.put(
        seed.owner_b["user_id"],
        {"notes": "Solo-private: owner note", "structured_data": {"solo_secret": "S-OWNER-77"}},
    )
    api_b.put(
        seed.shared_id,
        {"notes": "Solo-private: Pat note", "structured_data": {"solo_secret": "S-PAT-42"}},
    )
    return ["Solo-private", "S-OWNER-77", "S-PAT-42", "solo_secret", AVATAR_B]


def assert_private(answer: TestResponse, secrets: list[str]) -> None:
    text = answer.get_data(as_text=True) + json.dumps(dict(answer.headers))
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == [], f"R14: an answer to A shows B's {leaked}: {text[:500]}"


def test_r14_shared_users_get_through_a_shows_as_membership_only(
    api_a: Api, seed: Any, b_secrets: list[str]
) -> None:
    # Given the shared user, with different notes and data in A and B
    # When A reads them
    answer = api_a.get(seed.shared_id)
    # Then A sees its own membership, and nothing of B's
    assert answer.json == seed.shared_in_a
    assert answer.json["membership"]["avatar_id"] == AVATAR_A
    assert_private(answer, b_secrets)


def test_r14_no_answer_to_a_contains_anything_of_b(
    api_a: Api, seed: Any, b_secrets: list[str]
) -> None:
    # Given B's private notes and data on its owner and on the shared user
    # When A lists, reads, updates, invites B's owner and misses B-only users
    answers = [
        api_a.list(),
        api_a.list(limit=1),
        api_a.get(seed.shared_id),
        api_a.put(seed.shared_id, {"is_coach": True}),
        api_a.invite(seed.owner_b["profile"]["email"], profile={"name": "x"}),
        api_a.get(seed.owner_b["user_id"]),
        api_a.invite(seed.owner_b["profile"]["email"]),  # now 409
        api_a.get(NEVER_ISSUED_ID),
    ]
    # Then none of them holds anything of B's memberships
    for answer in answers:
        assert_private(answer, b_secrets)


def test_r14_inviting_bs_member_shows_only_the_new_membership(
    api_a: Api, seed: Any, b_secrets: list[str]
) -> None:
    # Given B's owner, an admin and coach in B with private notes
    # When A invites them without any membership fields
    answer = api_a.invite(seed.owner_b["profile"]["email"])
    # Then the member shown is the shared profile with A's fresh, default membership
    assert answer.status_code == 201
    membership = answer.json["member"]["membership"]
    assert membership["avatar_id"] == AVATAR_A
    assert (membership["is_owner"], membership["is_admin"], membership["is_coach"]) == (
        False,
        False,
        False,
    )
    assert (membership["notes"], membership["structured_data"]) == (None, {})
    assert_private(answer, b_secrets)


@pytest.mark.parametrize("operation", ["GET", "PUT", "DELETE"])
def test_r14_a_cannot_tell_whether_a_user_id_exists_outside_its_avatar(
    api_a: Api, seed: Any, operation: str
) -> None:
    # Given B's owner (exists, B only) and an id never issued
    def send(user_id: str) -> TestResponse:
        body = {"notes": "probe"} if operation == "PUT" else None
        if body is None:
            return api_a.call(operation, f"/users/{user_id}")
        return api_a.call(operation, f"/users/{user_id}", json_body=body)

    # When A sends the same operation to both
    known, unknown = send(seed.owner_b["user_id"]), send(NEVER_ISSUED_ID)
    # Then status, headers and body are the same but for the request id
    assert known.status_code == unknown.status_code == 404

    def shape(answer: TestResponse) -> tuple[Any, ...]:
        body = {k: v for k, v in answer.json.items() if k != "request_id"}
        headers = sorted(
            (k.lower(), v) for k, v in answer.headers.items() if k.lower() != "x-request-id"
        )
        return body, headers

    assert shape(known) == shape(unknown)


def test_r14_bs_view_of_the_shared_user_shows_nothing_of_a(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given A's notes and data on the shared user
    api_a.put(seed.shared_id, {"notes": "Acme-private", "structured_data": {"acme_k": "A-9"}})
    # When B lists and reads
    # Then nothing of A's membership shows
    for answer in (api_b.get(seed.shared_id), api_b.list()):
        assert_private(answer, ["Acme-private", "acme_k", "A-9", AVATAR_A])
