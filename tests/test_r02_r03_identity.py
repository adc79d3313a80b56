"""R2 Invite never overwrites identity; R3 One user per email."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .conftest import SHARED_EMAIL, Admin, Api, assert_refused, instant

ALICE = {
    "name": "Alice Martin",
    "role": "Head of People",
    "expertise": "Onboarding at scale",
    "locale": "en-IE",
}
ALICE_MEMBERSHIP = {
    "is_admin": True,
    "is_coach": True,
    "license_expires_at": "2027-06-30T12:00:00Z",
    "notes": "Came through the autumn cohort.",
    "structured_data": {"crm_id": "AL-1", "tags": ["pilot", "emea"]},
}


def test_r2_invite_of_new_email_creates_user_from_profile_sent(api_a: Api, admin: Admin) -> None:
    # Given an email no user has
    now = admin.advance(0)
    # When A invites it with a profile and a membership
    answer = api_a.invite("alice@example.com", profile=ALICE, membership=ALICE_MEMBERSHIP)
    # Then a new user is created from exactly what was sent
    assert answer.status_code == 201
    result = answer.json
    assert result["existing_user"] is False
    assert result["ignored_profile_fields"] == []
    member = result["member"]
    assert member["profile"] == {
        **ALICE,
        "email": "alice@example.com",
        "created_at": member["profile"]["created_at"],
    }
    assert abs(instant(member["profile"]["created_at"]) - now) < timedelta(seconds=5)
    membership = member["membership"]
    for name, value in ALICE_MEMBERSHIP.items():
        if name == "license_expires_at":
            assert instant(membership[name]) == instant(value)
        else:
            assert membership[name] == value
    assert membership["is_owner"] is False
    assert answer.headers["Location"] == f"/v1beta/users/{member['user_id']}"
    assert api_a.get(member["user_id"]).json == member


EDGE_PROFILES = {
    "longest": {"name": "Ø" * 200, "role": "角" * 100, "expertise": "e\u0301" * 250,
                "locale": "x" * 35},
    "nulls": {"name": None, "role": None, "expertise": None, "locale": None},
}
EDGE_MEMBERSHIPS = {
    "far-future": {"is_admin": True, "license_expires_at": "9999-12-31T23:59:59Z",
                   "notes": "🦄" * 2000},
    "far-past": {"is_coach": True, "license_expires_at": "0001-01-01T00:00:00Z",
                 "notes": None, "structured_data": {"ü": [None, True, 1.5, {"d": {}}]}},
}


@pytest.mark.parametrize("profile", EDGE_PROFILES)
@pytest.mark.parametrize("membership", EDGE_MEMBERSHIPS)
def test_r2_invite_of_new_email_keeps_every_edge_value_exactly(
    api_a: Api, profile: str, membership: str
) -> None:
    # Given values at the edges the spec allows: maximum lengths, non-ASCII, nulls, far dates
    sent_profile, sent_membership = EDGE_PROFILES[profile], EDGE_MEMBERSHIPS[membership]
    # When A invites a new email with them
    answer = api_a.invite("edge@example.com", profile=sent_profile, membership=sent_membership)
    # Then the user and membership hold exactly what was sent
    assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
    member = api_a.get(answer.json["member"]["user_id"]).json
    assert {k: member["profile"][k] for k in sent_profile} == sent_profile
    for name, value in sent_membership.items():
        got = member["membership"][name]
        assert (instant(got) == instant(value)) if name == "license_expires_at" else got == value


def test_r2_invite_of_new_email_without_profile_leaves_profile_fields_null(api_a: Api) -> None:
    # Given an email no user has
    # When A invites it with the email only
    result = api_a.invite_ok("sam.okafor@example.com")
    # Then the user exists with an empty profile and the membership defaults
    assert result["existing_user"] is False
    assert result["ignored_profile_fields"] == []
    profile = result["member"]["profile"]
    assert [profile[k] for k in ("name", "role", "expertise", "locale")] == [None] * 4
    membership = result["member"]["membership"]
    assert (membership["is_admin"], membership["is_coach"]) == (False, False)
    assert (membership["notes"], membership["license_expires_at"]) == (None, None)
    assert membership["structured_data"] == {}


def test_r2_invite_of_existing_email_leaves_profile_untouched(api_a: Api, api_b: Api) -> None:
    # Given Alice, created by A's invite
    alice = api_a.invite_ok("alice@example.com", profile=ALICE)["member"]
    # When B invites the same email with another profile
    other_profile = {"name": "A. Martin", "role": "CEO", "expertise": None, "locale": "fr-FR"}
    answer = api_b.invite("alice@example.com", profile=other_profile, membership={"notes": "B"})
    # Then B gets the existing user, profile as it was, the membership B sent
    assert answer.status_code == 201
    result = answer.json
    assert result["existing_user"] is True
    assert result["member"]["user_id"] == alice["user_id"]
    assert result["member"]["profile"] == alice["profile"]
    assert result["member"]["membership"]["notes"] == "B"
    assert api_a.get(alice["user_id"]).json["profile"] == alice["profile"]
    assert api_b.get(alice["user_id"]).json["profile"] == alice["profile"]


@pytest.mark.parametrize(
    ("profile_sent", "ignored"),
    [
        ({"name": "Someone Else"}, {"name"}),
        ({"name": ALICE["name"]}, {"name"}),  # equal to the stored value: still not applied
        ({"role": None}, {"role"}),  # null: still named
        ({"locale": "de-DE", "expertise": ALICE["expertise"]}, {"locale", "expertise"}),
        (dict.fromkeys(ALICE), set(ALICE)),
        ({**ALICE}, set(ALICE)),
        ({}, set()),
    ],
    ids=["other", "equal", "null", "two", "all-null", "all-equal", "empty"],
)
def test_r2_ignored_profile_fields_names_each_key_sent(
    api_a: Api, api_b: Api, profile_sent: dict[str, Any], ignored: set[str]
) -> None:
    # Given Alice, created by A's invite
    alice = api_a.invite_ok("alice@example.com", profile=ALICE)["member"]
    # When B invites her with this profile
    result = api_b.invite_ok("alice@example.com", profile=profile_sent)
    # Then every key sent is named, once, and the profile is unchanged
    assert result["existing_user"] is True
    assert sorted(result["ignored_profile_fields"]) == sorted(ignored)
    assert len(result["ignored_profile_fields"]) == len(set(result["ignored_profile_fields"]))
    assert result["member"]["profile"] == alice["profile"]


def test_r2_ignored_profile_fields_never_names_email(api_a: Api, seed: Any) -> None:
    # Given B's owner, a user A does not have
    # When A invites them with the email written differently and no profile
    result = api_a.invite_ok("  COACH@solo.example ")
    # Then the user exists, the email is not named, nothing is ignored
    assert result["existing_user"] is True
    assert result["member"]["user_id"] == seed.owner_b["user_id"]
    assert result["ignored_profile_fields"] == []


def test_r2_invite_of_existing_user_keeps_profile_for_every_avatar(
    api_a: Api, api_b: Api, seed: Any
) -> None:
    # Given B's owner and their profile as B sees it
    before = seed.owner_b["profile"]
    # When A invites them with a whole new profile
    result = api_a.invite_ok(
        "coach@solo.example",
        profile={"name": "Renamed", "role": "x", "expertise": "y", "locale": "zz"},
    )
    # Then neither Avatar sees a change
    assert result["member"]["profile"] == before
    assert api_b.get(seed.owner_b["user_id"]).json["profile"] == before


@pytest.mark.parametrize(
    "variant",
    [
        "ALICE@EXAMPLE.COM",
        "Alice@Example.com",
        "  alice@example.com",
        "alice@example.com   ",
        " \taLiCe@eXample.COM \n",
    ],
)
def test_r3_emails_match_after_trimming_and_ignoring_case(
    api_a: Api, api_b: Api, variant: str
) -> None:
    # Given alice@example.com, a member of A
    alice = api_a.invite_ok("alice@example.com", profile=ALICE)["member"]
    # When B invites a variant of the same email
    result = api_b.invite_ok(variant)
    # Then it is the same user, her email as first registered
    assert result["existing_user"] is True
    assert result["member"]["user_id"] == alice["user_id"]
    assert result["member"]["profile"]["email"] == "alice@example.com"
    # And A invites the variant of its own member: already a member (R8)
    assert_refused(api_a.invite(variant), 409, "already_member")


def test_r3_email_is_stored_with_the_case_it_was_first_registered_with(
    api_a: Api, api_b: Api
) -> None:
    # Given a user first registered as Alice.Martin@Example.COM
    first = api_a.invite_ok("Alice.Martin@Example.COM")["member"]
    assert first["profile"]["email"] == "Alice.Martin@Example.COM"
    # When B invites the lower-case form
    result = api_b.invite_ok("alice.martin@example.com")
    # Then the email keeps its first case, for both Avatars
    assert result["member"]["profile"]["email"] == "Alice.Martin@Example.COM"
    assert api_a.get(first["user_id"]).json["profile"]["email"] == "Alice.Martin@Example.COM"


def test_r3_a_new_email_is_stored_trimmed(api_a: Api) -> None:
    # Given an email sent with spaces around it
    # When A invites it
    result = api_a.invite_ok("  trimmed@example.com  ")
    # Then the stored email carries no spaces
    assert result["member"]["profile"]["email"] == "trimmed@example.com"


def test_r3_seeded_mixed_case_email_matches_lower_case(api_a: Api, api_b: Api, seed: Any) -> None:
    # Given the shared user, seeded as Pat.Shared@example.com, a member of A and B
    # When B invites the email in another case
    assert_refused(api_b.invite(SHARED_EMAIL.upper()), 409, "already_member")
    # And A removes them and invites them back in lower case
    assert api_a.delete(seed.shared_id).status_code == 204
    result = api_a.invite_ok(SHARED_EMAIL.lower())
    # Then it is the same user, with the email as seeded
    assert result["existing_user"] is True
    assert result["member"]["user_id"] == seed.shared_id
    assert result["member"]["profile"]["email"] == seed.shared_in_a["profile"]["email"]


def test_r3_one_user_per_email_across_many_avatars(api_a: Api, api_b: Api, admin: Admin) -> None:
    # Given a third Avatar
    third = Api(api_a.client, admin.new_avatar(owner_email="owner@third.example")["api_key"])
    # When all three invite case variants of one email
    ids = {
        api.invite_ok(email)["member"]["user_id"]
        for api, email in [
            (api_a, "Multi@Example.com"),
            (api_b, "multi@example.com"),
            (third, " MULTI@EXAMPLE.COM"),
        ]
    }
    # Then there is one user
    assert len(ids) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@example.com", "name": "Top-level name"},
        {"email": "x@example.com", "user_id": "usr_01JD3Q8Z5X9K2M4N6P8R0T2V4W"},
        {"email": "x@example.com", "profile": {"email": "other@example.com"}},
        {"email": "x@example.com", "profile": {"created_at": "2020-01-01T00:00:00Z"}},
        {"email": "x@example.com", "membership": {"is_owner": True}},
        {"email": "x@example.com", "membership": {"status": "active"}},
        {"email": "x@example.com", "membership": {"avatar_id": "avt_solo"}},
        {"email": "x@example.com", "membership": {"joined_at": "2020-01-01T00:00:00Z"}},
        {"email": "x@example.com", "profile": None},
        {"email": "x@example.com", "membership": None},
        {"email": "x@example.com", "membership": {"structured_data": None}},
        {"email": None},
        {"profile": {"name": "No email"}},
    ],
    ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items() if k != "email")[:40] or "email",
)
def test_r2_unknown_or_read_only_fields_anywhere_in_an_invite_answer_400_never_422(
    api_a: Api, body: dict[str, Any]
) -> None:
    # Given an invite body with a field the invite does not take, or a null object
    # When A sends it
    answer = api_a.call("POST", "/users", json_body=body)
    # Then it answers 400 invalid_request: the invite never answers 422
    assert_refused(answer, 400, "invalid_request")
