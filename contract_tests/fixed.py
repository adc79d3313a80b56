"""Fixed scenarios around the generated requests, for rules no single generated request shows.

Before: learn Avatar A; create the sentinel (never named by generated requests, so a change to
it shows, R13) and the ghost (removed at once: what writes name when they must find nobody);
plant canaries in Avatar B (R14); invite a person of B into A under another spelling of the
address (R2, R3); walk the list in small pages (R10); offer A one of B's cursors (R10). After:
remove that shared person from A and see that B keeps them (R6), then remove every member the
run created. Each surprise is recorded with `state.expect`, naming its rule. A read-only run
only reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from contract_tests.state import MAX_PAGES, PAGE_LIMIT, RunState
from harness.client import ApiClient, Exchange
from judge.members import differences, one_user_per_email, profile_differences

# An ordinary name that is not ASCII: every invite the suite sends itself carries one.
NAME = "Zoë Ångström-Nowak"
OTHER_NAME = "Someone Else Entirely"
REFUSALS = (403, 429)  # a full Avatar or a spent hourly budget may refuse any invite (R7)
NOT_DEFAULTS = {"is_admin": True, "is_coach": True, "license_expires_at": "2033-03-03T03:03:03Z"}


def before(state: RunState) -> None:
    b = state.b
    _tolerant(state, _learn_avatar_a)
    if not state.read_only:
        _tolerant(state, _sentinel_and_ghost)
    if b is None:
        reason = "no MAXGOOD_API_KEY_B: the cross-Avatar checks did not run"
        state.skipped["R14"] = reason
        state.skipped["R1"] = f"{reason} (members of another Avatar)"
        state.skipped["R3"] = f"{reason} (the same person is invited from Avatar B)"
        state.configured |= {"R14", "R1", "R3"}
    else:
        if state.read_only:
            state.skipped["R14"] = "read-only run: no canaries were planted in Avatar B"
            state.skipped["R3"] = "read-only run: nobody was invited"
            state.configured |= {"R14", "R3"}
        else:
            _tolerant(state, lambda s: _plant(s, b))
        _tolerant(state, lambda s: _foreign_cursor(s, b))
    _tolerant(state, _small_pages)


def after(state: RunState) -> None:
    """Check that B keeps the shared person (R6), then remove what the run created."""
    if state.read_only:
        return
    b = state.b
    try:
        if b is not None:
            _tolerant(state, lambda s: _shared_person_survives(s, b))
    finally:
        for user_id in sorted(state.created_a - set(state.removed_a)):
            state.a.request("DELETE", f"/users/{user_id}")
        if b is not None:
            for user_id in sorted(state.created_b):
                b.request("DELETE", f"/users/{user_id}")
            for user_id, original in state.restore_b:
                b.request("PUT", f"/users/{user_id}", json=original)


def _tolerant(state: RunState, scenario: Callable[[RunState], None]) -> None:
    """Run a scenario; an answer it cannot read is a finding, and the run goes on."""
    try:
        scenario(state)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        state.expect(False, "SPEC", f"an answer to the suite's own requests could not be read "
                       f"({type(error).__name__}: {error})")


def _learn_avatar_a(state: RunState) -> None:
    members = state.a.members(PAGE_LIMIT, max_pages=MAX_PAGES)
    state.readable_a = [m["user_id"] for m in members]
    if members:
        state.avatar_a = members[0]["membership"]["avatar_id"]
    first = state.a.request("GET", "/users", params={"limit": 1})
    if first.status == 200:
        state.cursor = first.body.get("next_cursor")


def _sentinel_and_ghost(state: RunState) -> None:
    sentinel = invite(state, state.a, notes="contract suite sentinel")
    if sentinel is not None:
        state.sentinel = sentinel["user_id"]
        state.record_invite(sentinel)
        state.sentinel_state = state.a.get(state.sentinel).body
        state.avatar_a = state.avatar_a or sentinel["membership"]["avatar_id"]
    else:
        state.skipped["R13"] = ("no sentinel member could be invited: requests without a valid "
                                  "key were checked for their answer, not for changing nothing")
    ghost = invite(state, state.a, notes="contract suite ghost")
    if ghost is not None:
        state.record_invite(ghost)
        removed = state.a.request("DELETE", f"/users/{ghost['user_id']}")
        if state.expect(removed.status == 204, "R6",
                          f"DELETE of a new member answered {removed.status}", removed):
            state.ghost = ghost["user_id"]
            state.record_removal(ghost["user_id"])


def invite(state: RunState, client: ApiClient, *, email: str | None = None,
           profile: dict[str, Any] | None = None, notes: str | None = None,
           structured_data: dict[str, Any] | None = None,
           flags: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Invite an ordinary new person; the member, or None when the invite was refused."""
    body = {
        "email": email or state.fresh_email(),
        "profile": profile or {"name": NAME},
        "membership": {"notes": notes, "structured_data": structured_data or {}, **(flags or {})},
    }
    if not state.may_invite():
        return None
    answer = client.request("POST", "/users", json=body)
    if answer.status == 201:
        state.count_invite()
    state.expect(answer.status in (201, *REFUSALS), "SPEC",
                   f"an ordinary invite answered {answer.status}: {answer.text[:300]}", answer)
    member = (_json(answer) or {}).get("member") if answer.status == 201 else None
    return member if isinstance(member, dict) and "user_id" in member else None


def _plant(state: RunState, b: ApiClient) -> None:
    members_b = b.members(PAGE_LIMIT, max_pages=MAX_PAGES)
    if members_b:
        state.avatar_b = members_b[0]["membership"]["avatar_id"]
    ids_a = set(state.readable_a)
    state.b_only = [m["user_id"] for m in members_b if m["user_id"] not in ids_a]
    only_b = invite(state, b, **state.canaries.membership)
    email = state.fresh_email()
    # Every field of B's membership away from its default: a DELETE in A that writes a default
    # into it shows (R6), as a change to a default could not.
    shared = invite(state, b, email=email, profile={"name": NAME, "role": "Coach"},
                    flags=NOT_DEFAULTS, **state.canaries.membership)
    for member in (only_b, shared):
        if member is not None:
            state.created_b.add(member["user_id"])
            state.avatar_b = state.avatar_b or member["membership"]["avatar_id"]
    if only_b is not None:
        state.b_only.append(only_b["user_id"])
        state.b_only_ours.append(only_b["user_id"])
    if shared is not None:
        state.shared = shared
        _join_shared_person(state, shared, email)
    if state.target.is_embedded:
        _mark_seeded_shared_people(state, b, ids_a)
    if state.avatar_b is None or not (state.created_b or state.restore_b):
        state.skipped["R14"] = "no canaries could be planted in Avatar B (invites refused)"


def _join_shared_person(state: RunState, shared: dict[str, Any], email: str) -> None:
    """Invite B's new member into A by the same address in capitals and padded (R3), with
    another profile (R2): the same user joins, and their profile stays as it was."""
    sent_profile = {"name": OTHER_NAME, "locale": None}
    body = {"email": f"  {email.upper()} ", "profile": sent_profile,
            "membership": {"notes": "contract suite: shared with Avatar B"}}
    if not state.may_invite():
        return
    answer = state.a.request("POST", "/users", json=body)
    if answer.status == 201:
        state.count_invite()
    if answer.status in REFUSALS:
        return
    if not state.expect(answer.status == 201, "SPEC",
                          f"inviting an existing person answered {answer.status}", answer):
        return
    result = answer.body
    member = result["member"]
    state.record_invite(member)
    state.readable_a.append(member["user_id"])
    wrong = one_user_per_email(member, shared["user_id"], body["email"],
                               "inviting Avatar B's new member into Avatar A")
    if not state.expect(not wrong, "R3", "; ".join(f.message for f in wrong), answer):
        return
    state.expect(result["existing_user"] is True
                   and sorted(result["ignored_profile_fields"]) == sorted(sent_profile),
                   "R2", f"inviting an existing person answered existing_user "
                   f"{result['existing_user']!r}, ignored_profile_fields "
                   f"{result['ignored_profile_fields']!r}; want true and {sorted(sent_profile)}",
                   answer)
    changed = profile_changes(shared["profile"], member["profile"])
    state.expect(not changed, "R2", f"inviting an existing person changed their profile: "
                   f"{changed}", answer)


def _mark_seeded_shared_people(state: RunState, b: ApiClient, ids_a: set[str]) -> None:
    """Plant canaries in B's memberships of people A also sees; only on the embedded mock,
    because on a real server the suite writes only to members it created."""
    for member in b.members(PAGE_LIMIT, max_pages=MAX_PAGES):
        user_id = member["user_id"]
        if user_id not in ids_a:
            continue
        original = {k: member["membership"][k] for k in ("notes", "structured_data")}
        if b.request("PUT", f"/users/{user_id}", json=state.canaries.membership).ok:
            state.restore_b.append((user_id, original))


def _foreign_cursor(state: RunState, b: ApiClient) -> None:
    """A cursor issued to Avatar B answers 400 invalid_cursor to key A (R10)."""
    page = b.request("GET", "/users", params={"limit": 1})
    cursor = page.body.get("next_cursor") if page.status == 200 else None
    if not cursor:
        return
    answer = state.a.request("GET", "/users", params={"cursor": cursor})
    code = (_json(answer) or {}).get("code")
    state.expect(answer.status == 400 and code == "invalid_cursor", "R10",
                   f"a cursor of Avatar B given to key A answered {answer.status} "
                   f"{code!r}; want 400 invalid_cursor", answer)


def _small_pages(state: RunState) -> None:
    """Walking the list in small pages yields the same members, in order, as one big page."""
    whole = [m["user_id"] for m in state.a.members(PAGE_LIMIT, max_pages=MAX_PAGES)]
    limit = min(PAGE_LIMIT, max(1, math.ceil(len(whole) / 5)))
    if len(whole) >= MAX_PAGES * limit:
        return  # too many members to walk within MAX_PAGES; the generated requests still page
    pages = list(state.a.pages(limit, max_pages=MAX_PAGES))
    walked = [m["user_id"] for page in pages if page.status == 200
              for m in page.body["data"]]
    state.expect(walked == whole, "R10",
                   f"pages of {limit} yielded {len(walked)} members, {len(set(walked))} distinct, "
                   f"where one page of {PAGE_LIMIT} holds {len(whole)}; missing "
                   f"{sorted(set(whole) - set(walked))[:5]}", pages[-1] if pages else None)


def _shared_person_survives(state: RunState, b: ApiClient) -> None:
    """Removing the shared person from A leaves them, and B's membership, as they were (R6)."""
    shared = state.shared
    if shared is None or shared["user_id"] not in state.created_a:
        return
    user_id = shared["user_id"]
    baseline = b.request("GET", f"/users/{user_id}")
    if user_id not in state.removed_a and baseline.status == 200:
        removed = state.a.request("DELETE", f"/users/{user_id}")
        if not state.expect(removed.status == 204, "R6", f"DELETE of a member answered "
                              f"{removed.status}", removed):
            return
        state.record_removal(user_id)
    seen = b.request("GET", f"/users/{user_id}")
    if not state.expect(seen.status == 200, "R6", f"after key A removed {user_id}, key B, "
                          f"whose member they are, gets {seen.status}", seen):
        return
    member: dict[str, Any] = seen.body
    kept = {k: member["membership"].get(k) for k in ("notes", "structured_data")}
    state.expect(kept == state.canaries.membership, "R6",
                   f"after key A removed {user_id}, their membership in B became {kept}", seen)
    before = baseline.body if baseline.status == 200 else shared
    # Against B's membership as planted: nothing the run sent since was meant to change it,
    # though a generated DELETE may have removed the person from A before this one.
    moved = list(differences(shared["membership"], member["membership"]))
    state.expect(not moved, "R6", f"after key A removed {user_id}, their membership in B "
                 f"changed: {'; '.join(moved[:6])}", seen)
    changed = profile_changes(before["profile"], member["profile"])
    state.expect(not changed, "R6", f"after key A removed {user_id}, their profile changed: "
                   f"{changed}", seen)


def profile_changes(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """The profile fields that differ (the judge's comparison: date-times as instants)."""
    return profile_differences(before, {"profile": now})


def _json(answer: Exchange) -> Any:
    return answer.body if isinstance(answer.body, dict) else None
