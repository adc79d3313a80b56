"""R10 Pagination is exact: every active member once, in order; cursors bound to their Avatar."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Admin, Api, assert_refused, instant

MEMBERS_ADDED = 12


@pytest.fixture
def crowded_a(api_a: Api, admin: Admin) -> list[str]:
    """A with 12 more members: some joined in the same instant, some a minute apart."""
    return crowd(api_a, admin)


def crowd(api_a: Api, admin: Admin) -> list[str]:
    """Invite 12 more members into A; the ids of all of A's members, in list order."""
    for i in range(MEMBERS_ADDED):
        if i % 3 == 0:
            admin.advance(60)
        api_a.add_member(f"member{i:02}@example.com")
    return api_a.list_ids()


def order_key(member: dict[str, Any]) -> tuple[Any, str]:
    return instant(member["membership"]["joined_at"]), member["user_id"]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 13, 14, 25, 100])
def test_r10_following_next_cursor_yields_every_active_member_once_in_order(
    api_a: Api, crowded_a: list[str], limit: int
) -> None:
    # Given A with 14 active members
    assert len(crowded_a) == MEMBERS_ADDED + 2
    # When A walks every page from the first at this limit
    members: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api_a.list(limit=limit, cursor=cursor).json
        assert len(page["data"]) <= limit
        members += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Then every member appears exactly once, ordered by (joined_at, user_id)
    ids = [member["user_id"] for member in members]
    assert sorted(ids) == sorted(crowded_a)
    assert len(set(ids)) == len(ids)
    assert members == sorted(members, key=order_key)


def test_r10_the_default_limit_is_25(api_a: Api, admin: Admin) -> None:
    # Given A with 30 members
    for i in range(28):
        api_a.add_member(f"many{i:02}@example.com")
    # When A lists without a limit
    page = api_a.list().json
    # Then the first page has 25 and a cursor
    assert len(page["data"]) == 25
    assert page["next_cursor"] is not None
    assert len(api_a.list(cursor=page["next_cursor"]).json["data"]) == 5


@pytest.mark.mock_config(invites_per_hour=1000, safety_cap_per_hour=1000)
def test_r10_a_page_holds_at_most_100(api_a: Api) -> None:
    # Given A with 102 members
    for i in range(100):
        api_a.add_member(f"hundred{i:03}@example.com")
    # When A lists at the largest limit
    first = api_a.list(limit=100).json
    # Then one page of 100, then the rest
    assert len(first["data"]) == 100
    second = api_a.list(limit=100, cursor=first["next_cursor"]).json
    assert len(second["data"]) == 2
    assert second["next_cursor"] is None


def test_r10_the_last_page_has_a_null_cursor(api_a: Api, seed: Any) -> None:
    # Given A with its 2 seeded members
    # When A lists with room to spare, and exactly enough
    # Then the cursor is null
    assert api_a.list(limit=3).json["next_cursor"] is None
    assert api_a.list(limit=100).json["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "1e1", " 5"])
def test_r10_a_limit_outside_1_to_100_answers_400_pointing_at_limit(api_a: Api, limit: str) -> None:
    # Given A
    # When A lists with an invalid limit
    answer = api_a.call("GET", "/users", query={"limit": limit})
    # Then it answers 400 invalid_request with the pointer /limit
    errors = assert_refused(answer, 400, "invalid_request")["errors"]
    assert [error["pointer"] for error in errors] == ["/limit"]


def test_r10_a_cursor_of_another_avatar_answers_400_invalid_cursor(
    api_a: Api, api_b: Api, crowded_a: list[str]
) -> None:
    # Given a cursor each Avatar issued
    cursor_a = api_a.list(limit=1).json["next_cursor"]
    cursor_b = api_b.list(limit=1).json["next_cursor"]
    assert cursor_a and cursor_b
    # When each uses the other's cursor
    # Then both answer 400 invalid_cursor with the pointer /cursor
    for api, cursor in ((api_a, cursor_b), (api_b, cursor_a)):
        errors = assert_refused(api.list(limit=1, cursor=cursor), 400, "invalid_cursor")["errors"]
        assert [error["pointer"] for error in errors] == ["/cursor"]


def test_r10_a_cursor_belongs_to_the_avatar_not_to_the_key(
    api_a: Api, admin: Admin, crowded_a: list[str]
) -> None:
    # Given a cursor issued to A's seeded key, and a second key of A
    first = api_a.list(limit=4).json
    other_key = Api(api_a.client, admin.new_key("avt_acme")["api_key"])
    # When the second key follows it
    page = other_key.list(limit=4, cursor=first["next_cursor"])
    # Then it gets the next page
    assert page.status_code == 200
    assert [m["user_id"] for m in page.json["data"]] == crowded_a[4:8]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "%%%",
        "eyJ9",
        "eyJqIjoiMjAyNi0wMy0wMlQwOToxNTowMFoiLCJ1IjoidXNyXzAxIn0",  # the spec's example
        "null",
        "0",
        "x" * 512,
    ],
    ids=lambda c: repr(c)[:20],
)
def test_r10_a_cursor_this_avatar_did_not_issue_answers_400_invalid_cursor(
    api_a: Api, crowded_a: list[str], cursor: str
) -> None:
    # Given A
    # When A lists with an empty, malformed or made-up cursor
    answer = api_a.list(limit=2, cursor=cursor)
    # Then it answers 400 invalid_cursor with the pointer /cursor
    errors = assert_refused(answer, 400, "invalid_cursor")["errors"]
    assert [error["pointer"] for error in errors] == ["/cursor"]


def test_r10_a_tampered_cursor_answers_400_invalid_cursor(api_a: Api, crowded_a: list[str]) -> None:
    # Given a cursor A issued
    cursor = api_a.list(limit=2).json["next_cursor"]
    # When A sends it with one character in the middle changed, or cut short
    middle = len(cursor) // 2
    swapped = "A" if cursor[middle] != "A" else "B"
    for forged in (cursor[:middle] + swapped + cursor[middle + 1 :], cursor[:middle]):
        # Then it is not a cursor of A
        assert_refused(api_a.list(limit=2, cursor=forged), 400, "invalid_cursor")


def test_r10_writes_between_pages_never_duplicate_or_skip_members_who_stayed(
    api_a: Api, admin: Admin, crowded_a: list[str]
) -> None:
    # Given A with 14 members, walked 3 at a time
    seen: list[str] = []
    removed: set[str] = set()
    page = api_a.list(limit=3).json
    step = 0
    while True:
        seen += [member["user_id"] for member in page["data"]]
        if page["next_cursor"] is None:
            break
        # When, between pages, members join, leave (seen or not) and change
        step += 1
        admin.advance(1)
        api_a.add_member(f"joiner{step}@example.com")
        unseen = [uid for uid in crowded_a if uid not in seen and uid not in removed]
        last_seen = seen[-1]
        for victim in [last_seen, *unseen[-1:]]:
            if victim not in removed and victim != crowded_a[0]:  # the owner stays
                assert api_a.delete(victim).status_code == 204
                removed.add(victim)
        if len(unseen) > 2:
            assert api_a.put(unseen[0], {"notes": f"changed at step {step}"}).status_code == 200
        page = api_a.list(limit=3, cursor=page["next_cursor"]).json
    # Then no member appeared twice, and every member active throughout appeared
    assert len(seen) == len(set(seen))
    stayed = [uid for uid in crowded_a if uid not in removed]
    assert [uid for uid in stayed if uid not in seen] == []


def test_r10_removing_the_member_a_cursor_points_after_skips_nobody(
    api_a: Api, crowded_a: list[str]
) -> None:
    # Given the first page of 4
    first = api_a.list(limit=4).json
    page_ids = [member["user_id"] for member in first["data"]]
    # When A removes the last and another member of that page
    for victim in (page_ids[-1], page_ids[1]):
        assert api_a.delete(victim).status_code == 204
    # Then the next page starts right after where the first ended
    second = api_a.list(limit=4, cursor=first["next_cursor"]).json
    assert [member["user_id"] for member in second["data"]] == crowded_a[4:8]


def test_r10_list_is_ordered_by_joined_at_then_user_id(api_a: Api, crowded_a: list[str]) -> None:
    # Given members who joined at various instants, several at the same one
    # When A lists them on one page
    members = api_a.list(limit=100).json["data"]
    # Then they are ordered by joined_at and, within one instant, by user_id
    assert members == sorted(members, key=order_key)
