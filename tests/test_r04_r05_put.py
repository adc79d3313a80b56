"""R4 PUT is membership-only; R5 PUT is partial."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from judge.instants import is_utc

from .conftest import Admin, Api, assert_refused, instant

FULL_MEMBERSHIP = {
    "is_admin": False,
    "is_coach": True,
    "license_expires_at": "2027-03-31T23:59:59Z",
    "notes": "Spring cohort.",
    "structured_data": {"crm_id": "0031x", "cohort": {"name": "spring", "year": 2026}},
}

PROFILE_FIELDS = {
    "email": "new.address@example.com",
    "name": "New Name",
    "role": "New role",
    "expertise": "New expertise",
    "locale": "de-DE",
    "profile": {"name": "New Name"},
}
READ_ONLY_FIELDS = {
    "user_id": "usr_01JD3Q8Z5X9K2M4N6P8R0T2V4W",
    "avatar_id": "avt_solo",
    "status": "removed",
    "is_owner": True,
    "joined_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "created_at": "2020-01-01T00:00:00Z",
}
PROTECTED_FIELDS = {**PROFILE_FIELDS, **READ_ONLY_FIELDS}


@pytest.fixture
def member(api_a: Api) -> dict[str, Any]:
    """A member of A with every membership field set."""
    return full_member(api_a)


def full_member(api_a: Api) -> dict[str, Any]:
    """Invite a member of A with every membership field set."""
    return api_a.invite_ok(
        "member@example.com",
        profile={"name": "Mo Member", "role": "Analyst", "expertise": None, "locale": "en-GB"},
        membership=FULL_MEMBERSHIP,
    )["member"]


# --- R4 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("with_membership_field", [False, True], ids=["alone", "with-notes"])
@pytest.mark.parametrize(("field", "value"), PROTECTED_FIELDS.items())
def test_r4_profile_or_read_only_field_answers_422_naming_it(
    api_a: Api,
    admin: Admin,
    member: dict[str, Any],
    field: str,
    value: Any,
    with_membership_field: bool,
) -> None:
    # Given a member of A
    state = admin.state()
    body = {field: value, **({"notes": "changed"} if with_membership_field else {})}
    # When A sends a PUT carrying a profile or read-only field
    answer = api_a.put(member["user_id"], body)
    # Then it answers 422 read_only_field naming exactly that field, and nothing changed
    assert assert_refused(answer, 422, "read_only_field")["fields"] == [field]
    admin.assert_unchanged(state)
    assert api_a.get(member["user_id"]).json == member


def test_r4_every_protected_field_sent_is_named(
    api_a: Api, admin: Admin, member: dict[str, Any]
) -> None:
    # Given a member of A
    state = admin.state()
    # When A sends every profile and read-only field at once, with a membership field
    answer = api_a.put(member["user_id"], {**PROTECTED_FIELDS, "is_coach": False})
    # Then all of them are named, and nothing changed
    fields = assert_refused(answer, 422, "read_only_field")["fields"]
    assert sorted(fields) == sorted(PROTECTED_FIELDS)
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "colour": "red"},
        {"colour": "red", "is_owner": False, "notes": "n"},
        {"profile": {"locale": "fr"}, "membership": {"notes": "n"}},
    ],
)
def test_r4_protected_and_unknown_fields_together_answer_422(
    api_a: Api, admin: Admin, member: dict[str, Any], body: dict[str, Any]
) -> None:
    # Given a member of A
    state = admin.state()
    # When the PUT carries a protected field and an unknown one
    answer = api_a.put(member["user_id"], body)
    # Then 422 wins, naming the protected fields only, and nothing changed
    fields = assert_refused(answer, 422, "read_only_field")["fields"]
    assert set(fields) == set(body) & set(PROTECTED_FIELDS)
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"colour": "red"}, "/colour"),
        ({"is_coach": True, "extra": 1}, "/extra"),
        ({"membership": {"notes": "nested"}}, "/membership"),
        ({"Notes": "wrong case"}, "/Notes"),
    ],
)
def test_r4_any_other_unknown_field_answers_400(
    api_a: Api, admin: Admin, member: dict[str, Any], body: dict[str, Any], pointer: str
) -> None:
    # Given a member of A
    state = admin.state()
    # When the PUT carries a field that is neither membership nor protected
    answer = api_a.put(member["user_id"], body)
    # Then it answers 400 invalid_request pointing at it, and nothing changed
    errors = assert_refused(answer, 400, "invalid_request")["errors"]
    assert pointer in [error["pointer"] for error in errors]
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, ""),
        ([], ""),
        ([{"notes": "x"}], ""),
        ("notes", ""),
        (None, ""),
        (7, ""),
        ({"is_admin": "yes"}, "/is_admin"),
        ({"is_coach": None}, "/is_coach"),
        ({"notes": "x" * 2001}, "/notes"),
        ({"notes": 5}, "/notes"),
        ({"license_expires_at": "tomorrow"}, "/license_expires_at"),
        ({"license_expires_at": "2027-02-30T00:00:00Z"}, "/license_expires_at"),
        ({"structured_data": None}, "/structured_data"),
        ({"structured_data": ["a"]}, "/structured_data"),
        ({"structured_data": "{}"}, "/structured_data"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_r4_invalid_put_body_answers_400_and_changes_nothing(
    api_a: Api, admin: Admin, member: dict[str, Any], body: Any, pointer: str
) -> None:
    # Given a member of A
    state = admin.state()
    # When A sends an empty, ill-typed or out-of-range body
    answer = api_a.put(member["user_id"], body)
    # Then it answers 400 invalid_request pointing at the culprit, and nothing changed
    errors = assert_refused(answer, 400, "invalid_request")["errors"]
    assert pointer in [error["pointer"] for error in errors], errors
    admin.assert_unchanged(state)


def test_r4_notes_of_exactly_2000_characters_are_accepted(
    api_a: Api, member: dict[str, Any]
) -> None:
    # Given a member of A
    # When A sets notes at their longest
    answer = api_a.put(member["user_id"], {"notes": "n" * 2000})
    # Then they are stored
    assert answer.status_code == 200
    assert answer.json["membership"]["notes"] == "n" * 2000


# --- R5 ---------------------------------------------------------------------------------

MEMBERSHIP_CHANGES = [
    {"is_admin": True},
    {"is_coach": False},
    {"license_expires_at": "2028-01-01T00:00:00Z"},
    {"notes": "Autumn cohort."},
    {"structured_data": {"crm_id": "0099z"}},
    {"is_admin": True, "notes": None},
]


@pytest.mark.parametrize("change", MEMBERSHIP_CHANGES, ids=lambda c: ",".join(c))
def test_r5_only_the_fields_sent_change(
    api_a: Api, member: dict[str, Any], change: dict[str, Any]
) -> None:
    # Given a member of A with every membership field set
    # When A sends some of the fields
    answer = api_a.put(member["user_id"], change)
    # Then exactly those changed; the profile and every other field are as they were
    assert answer.status_code == 200
    after = answer.json
    assert after["profile"] == member["profile"]
    assert after["user_id"] == member["user_id"]
    for name, value in member["membership"].items():
        if name == "updated_at":
            continue
        expected, shown = change.get(name, value), after["membership"][name]
        if name == "license_expires_at" and None not in (expected, shown):
            expected, shown = instant(expected), instant(shown)
        assert shown == expected, name
    assert api_a.get(member["user_id"]).json == after


def test_r5_structured_data_is_replaced_whole_not_merged(
    api_a: Api, member: dict[str, Any]
) -> None:
    # Given a member whose structured_data has crm_id and a nested cohort
    # When A sends structured_data with another nested cohort only
    answer = api_a.put(member["user_id"], {"structured_data": {"cohort": {"term": "autumn"}}})
    # Then the stored object is exactly the one sent, at every level
    assert answer.json["membership"]["structured_data"] == {"cohort": {"term": "autumn"}}
    assert api_a.get(member["user_id"]).json["membership"]["structured_data"] == {
        "cohort": {"term": "autumn"}
    }


def test_r5_empty_structured_data_clears_it(api_a: Api, member: dict[str, Any]) -> None:
    # Given a member with structured_data
    # When A sends an empty object
    answer = api_a.put(member["user_id"], {"structured_data": {}})
    # Then it is empty (not null)
    assert answer.json["membership"]["structured_data"] == {}


@pytest.mark.parametrize("field", ["notes", "license_expires_at"])
def test_r5_null_clears_notes_and_license_expiry(
    api_a: Api, member: dict[str, Any], field: str
) -> None:
    # Given a member with notes and a license expiry
    assert member["membership"][field] is not None
    # When A sends the field as null
    answer = api_a.put(member["user_id"], {field: None})
    # Then it is cleared, and the other one kept
    assert answer.status_code == 200
    assert answer.json["membership"][field] is None
    other = {"notes", "license_expires_at"} - {field}
    assert all(answer.json["membership"][name] is not None for name in other)


def test_r5_updated_at_moves_forward_and_joined_at_stays(
    api_a: Api, admin: Admin, member: dict[str, Any]
) -> None:
    # Given a member, and a minute gone by
    now = admin.advance(60)
    # When A updates the membership
    after = api_a.put(member["user_id"], {"is_coach": False}).json["membership"]
    # Then updated_at is now, later than before, and joined_at did not move
    assert instant(after["updated_at"]) > instant(member["membership"]["updated_at"])
    assert abs(instant(after["updated_at"]) - now) < timedelta(seconds=5)
    assert instant(after["joined_at"]) == instant(member["membership"]["joined_at"])
    assert is_utc(after["updated_at"])


def test_r5_updated_at_never_moves_back_on_quick_updates(
    api_a: Api, member: dict[str, Any]
) -> None:
    # Given a member
    stamps = [instant(member["membership"]["updated_at"])]
    # When A updates it several times in a row
    for i in range(5):
        stamps.append(
            instant(
                api_a.put(member["user_id"], {"notes": str(i)}).json["membership"]["updated_at"]
            )
        )
    # Then updated_at never goes back
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("sent", "utc"),
    [
        ("2027-03-31T20:00:00-04:00", "2027-04-01T00:00:00+00:00"),
        ("2027-04-01T05:30:00+05:30", "2027-04-01T00:00:00+00:00"),
        ("2027-04-01T00:00:00+00:00", "2027-04-01T00:00:00+00:00"),
        ("2027-04-01T00:00:00Z", "2027-04-01T00:00:00+00:00"),
        ("2027-03-31T23:59:59.250-01:00", "2027-04-01T00:59:59.250+00:00"),
    ],
)
def test_r5_date_times_with_any_offset_keep_the_instant_and_answer_in_utc(
    api_a: Api, member: dict[str, Any], sent: str, utc: str
) -> None:
    # Given a member of A
    # When A sends a license expiry with an offset
    answer = api_a.put(member["user_id"], {"license_expires_at": sent})
    # Then the same instant is answered, written in UTC, by PUT and by GET
    for shown in (answer, api_a.get(member["user_id"])):
        value = shown.json["membership"]["license_expires_at"]
        assert instant(value) == instant(utc)
        assert is_utc(value), value


def test_r5_invite_date_time_with_offset_is_answered_in_utc(api_a: Api) -> None:
    # Given an invite whose license expiry carries an offset
    # When A sends it
    member = api_a.add_member("offset@example.com", license_expires_at="2027-01-01T09:00:00+09:00")
    # Then the instant is kept and answered in UTC
    value = member["membership"]["license_expires_at"]
    assert instant(value) == instant("2027-01-01T00:00:00Z")
    assert is_utc(value)
