"""Fixed scenarios around the generated requests, for rules no single generated request shows.

Before: learn Avatar A; create the sentinel (never named by generated requests, so a change to
it shows, R13) and the ghost (removed at once: what writes name when they must find nobody);
plant canaries in Avatar B (R14); invite a person of B into A under another spelling of the
address (R2, R3); walk the list in small pages (R10); offer A one of B's cursors (R10). After:
remove that shared person from A and see that B keeps them (R6), then remove every member the
run created. Each surprise is recorded with `session.expect`, naming its rule. A read-only run
only reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import requests

from contract_tests.checks import instant
from contract_tests.session import MAX_PAGES, PAGE_LIMIT, ApiClient, ContractSession

# An ordinary name that is not ASCII: every invite the suite sends itself carries one.
NAME = "Zoë Ångström-Nowak"
OTHER_NAME = "Someone Else Entirely"
PROFILE_FIELDS = ("email", "name", "role", "expertise", "locale")
REFUSALS = (403, 429)  # a full Avatar or a spent hourly budget may refuse any invite (R7)


def before(session: ContractSession) -> None:
    b = session.b
    _tolerant(session, _learn_avatar_a)
    if not session.read_only:
        _tolerant(session, _sentinel_and_ghost)
    if b is None:
        reason = "no MAXGOOD_API_KEY_B: the cross-Avatar checks did not run"
        session.skipped["R14"] = reason
        session.skipped["R1"] = f"{reason} (members of another Avatar)"
        session.skipped["R3"] = f"{reason} (the same person is invited from Avatar B)"
    else:
        if session.read_only:
            session.skipped["R14"] = "read-only run: no canaries were planted in Avatar B"
            session.skipped["R3"] = "read-only run: nobody was invited"
        else:
            _tolerant(session, lambda s: _plant(s, b))
        _tolerant(session, lambda s: _foreign_cursor(s, b))
    _tolerant(session, _small_pages)


def after(session: ContractSession) -> None:
    """Check that B keeps the shared person (R6), then remove what the run created."""
    if session.read_only:
        return
    b = session.b
    if b is not None:
        _tolerant(session, lambda s: _shared_person_survives(s, b))
    for user_id in sorted(session.created_a - set(session.removed_a)):
        session.a.send("DELETE", f"/users/{user_id}")
    if b is not None:
        for user_id in sorted(session.created_b):
            b.send("DELETE", f"/users/{user_id}")
        for user_id, original in session.restore_b:
            b.send("PUT", f"/users/{user_id}", json=original)


def _tolerant(session: ContractSession, scenario: Callable[[ContractSession], None]) -> None:
    """Run a scenario; an answer it cannot read is a finding, and the run goes on."""
    try:
        scenario(session)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        session.expect(False, "SPEC", f"an answer to the suite's own requests could not be read "
                       f"({type(error).__name__}: {error})")


def _learn_avatar_a(session: ContractSession) -> None:
    members = session.a.members()
    session.readable_a = [m["user_id"] for m in members]
    if members:
        session.avatar_a = members[0]["membership"]["avatar_id"]
    first = session.a.send("GET", "/users", params={"limit": 1})
    if first.status_code == 200:
        session.cursor = first.json().get("next_cursor")


def _sentinel_and_ghost(session: ContractSession) -> None:
    sentinel = invite(session, session.a, notes="contract suite sentinel")
    if sentinel is not None:
        session.sentinel = sentinel["user_id"]
        session.record_invite(sentinel)
        session.sentinel_state = session.a.send("GET", f"/users/{session.sentinel}").json()
        session.avatar_a = session.avatar_a or sentinel["membership"]["avatar_id"]
    else:
        session.skipped["R13"] = ("no sentinel member could be invited: requests without a valid "
                                  "key were checked for their answer, not for changing nothing")
    ghost = invite(session, session.a, notes="contract suite ghost")
    if ghost is not None:
        session.record_invite(ghost)
        removed = session.a.send("DELETE", f"/users/{ghost['user_id']}")
        if session.expect(removed.status_code == 204, "R6",
                          f"DELETE of a new member answered {removed.status_code}", removed):
            session.ghost = ghost["user_id"]
            session.record_removal(ghost["user_id"])


def invite(session: ContractSession, client: ApiClient, *, email: str | None = None,
           profile: dict[str, Any] | None = None, notes: str | None = None,
           structured_data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Invite an ordinary new person; the member, or None when the invite was refused."""
    body = {
        "email": email or session.fresh_email(),
        "profile": profile or {"name": NAME},
        "membership": {"notes": notes, "structured_data": structured_data or {}},
    }
    left = session.invites_left()
    if left is not None and left <= 0:
        return None
    answer = client.send("POST", "/users", json=body)
    if answer.status_code == 201:
        session.count_invite()
    session.expect(answer.status_code in (201, *REFUSALS), "SPEC",
                   f"an ordinary invite answered {answer.status_code}: {answer.text[:300]}", answer)
    member = (_json(answer) or {}).get("member") if answer.status_code == 201 else None
    return member if isinstance(member, dict) and "user_id" in member else None


def _plant(session: ContractSession, b: ApiClient) -> None:
    members_b = b.members()
    if members_b:
        session.avatar_b = members_b[0]["membership"]["avatar_id"]
    ids_a = set(session.readable_a)
    session.b_only = [m["user_id"] for m in members_b if m["user_id"] not in ids_a]
    only_b = invite(session, b, **session.canaries.membership)
    email = session.fresh_email()
    shared = invite(session, b, email=email, profile={"name": NAME, "role": "Coach"},
                    **session.canaries.membership)
    for member in (only_b, shared):
        if member is not None:
            session.created_b.add(member["user_id"])
            session.avatar_b = session.avatar_b or member["membership"]["avatar_id"]
    if only_b is not None:
        session.b_only.append(only_b["user_id"])
        session.b_only_ours.append(only_b["user_id"])
    if shared is not None:
        session.shared = shared
        _join_shared_person(session, shared, email)
    if session.target.is_embedded:
        _mark_seeded_shared_people(session, b, ids_a)
    if session.avatar_b is None or not (session.created_b or session.restore_b):
        session.skipped["R14"] = "no canaries could be planted in Avatar B (invites refused)"


def _join_shared_person(session: ContractSession, shared: dict[str, Any], email: str) -> None:
    """Invite B's new member into A by the same address in capitals and padded (R3), with
    another profile (R2): the same user joins, and their profile stays as it was."""
    sent_profile = {"name": OTHER_NAME, "locale": None}
    body = {"email": f"  {email.upper()} ", "profile": sent_profile,
            "membership": {"notes": "contract suite: shared with Avatar B"}}
    left = session.invites_left()
    if left is not None and left <= 0:
        return
    answer = session.a.send("POST", "/users", json=body)
    if answer.status_code == 201:
        session.count_invite()
    if answer.status_code in REFUSALS:
        return
    if not session.expect(answer.status_code == 201, "SPEC",
                          f"inviting an existing person answered {answer.status_code}", answer):
        return
    result = answer.json()
    member = result["member"]
    session.record_invite(member)
    session.readable_a.append(member["user_id"])
    if not session.expect(member["user_id"] == shared["user_id"], "R3",
                          f"inviting {body['email']!r} made user {member['user_id']}, but "
                          f"{email!r} is user {shared['user_id']}", answer):
        return
    session.expect(result["existing_user"] is True
                   and sorted(result["ignored_profile_fields"]) == sorted(sent_profile),
                   "R2", f"inviting an existing person answered existing_user "
                   f"{result['existing_user']!r}, ignored_profile_fields "
                   f"{result['ignored_profile_fields']!r}; want true and {sorted(sent_profile)}",
                   answer)
    changed = profile_changes(shared["profile"], member["profile"])
    session.expect(not changed, "R2", f"inviting an existing person changed their profile: "
                   f"{changed}", answer)


def _mark_seeded_shared_people(session: ContractSession, b: ApiClient, ids_a: set[str]) -> None:
    """Plant canaries in B's memberships of people A also sees; only on the embedded mock,
    because on a real server the suite writes only to members it created."""
    for member in b.members():
        user_id = member["user_id"]
        if user_id not in ids_a:
            continue
        original = {k: member["membership"][k] for k in ("notes", "structured_data")}
        if b.send("PUT", f"/users/{user_id}", json=session.canaries.membership).ok:
            session.restore_b.append((user_id, original))


def _foreign_cursor(session: ContractSession, b: ApiClient) -> None:
    """A cursor issued to Avatar B answers 400 invalid_cursor to key A (R10)."""
    page = b.send("GET", "/users", params={"limit": 1})
    cursor = page.json().get("next_cursor") if page.status_code == 200 else None
    if not cursor:
        return
    answer = session.a.send("GET", "/users", params={"cursor": cursor})
    code = (_json(answer) or {}).get("code")
    session.expect(answer.status_code == 400 and code == "invalid_cursor", "R10",
                   f"a cursor of Avatar B given to key A answered {answer.status_code} "
                   f"{code!r}; want 400 invalid_cursor", answer)


def _small_pages(session: ContractSession) -> None:
    """Walking the list in small pages yields the same members, in order, as one big page."""
    whole = [m["user_id"] for m in session.a.members()]
    limit = min(PAGE_LIMIT, max(1, math.ceil(len(whole) / 5)))
    if len(whole) >= MAX_PAGES * limit:
        return  # too many members to walk within MAX_PAGES; the generated requests still page
    pages = list(session.a.pages(limit))
    walked = [m["user_id"] for page in pages if page.status_code == 200
              for m in page.json()["data"]]
    session.expect(walked == whole, "R10",
                   f"pages of {limit} yielded {len(walked)} members, {len(set(walked))} distinct, "
                   f"where one page of {PAGE_LIMIT} holds {len(whole)}; missing "
                   f"{sorted(set(whole) - set(walked))[:5]}", pages[-1] if pages else None)


def _shared_person_survives(session: ContractSession, b: ApiClient) -> None:
    """Removing the shared person from A leaves them, and B's membership, as they were (R6)."""
    shared = session.shared
    if shared is None or shared["user_id"] not in session.created_a:
        return
    user_id = shared["user_id"]
    baseline = b.send("GET", f"/users/{user_id}")
    if user_id not in session.removed_a and baseline.status_code == 200:
        removed = session.a.send("DELETE", f"/users/{user_id}")
        if not session.expect(removed.status_code == 204, "R6", f"DELETE of a member answered "
                              f"{removed.status_code}", removed):
            return
        session.record_removal(user_id)
    seen = b.send("GET", f"/users/{user_id}")
    if not session.expect(seen.status_code == 200, "R6", f"after key A removed {user_id}, key B, "
                          f"whose member they are, gets {seen.status_code}", seen):
        return
    member: dict[str, Any] = seen.json()
    kept = {k: member["membership"].get(k) for k in ("notes", "structured_data")}
    session.expect(kept == session.canaries.membership, "R6",
                   f"after key A removed {user_id}, their membership in B became {kept}", seen)
    before = baseline.json() if baseline.status_code == 200 else shared
    changed = profile_changes(before["profile"], member["profile"])
    session.expect(not changed, "R6", f"after key A removed {user_id}, their profile changed: "
                   f"{changed}", seen)


def profile_changes(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """The profile fields that differ, date-times compared as instants."""
    changed = {k: (before.get(k), now.get(k)) for k in PROFILE_FIELDS
               if before.get(k) != now.get(k)}
    if instant(before.get("created_at")) != instant(now.get("created_at")):
        changed["created_at"] = (before.get("created_at"), now.get("created_at"))
    return changed


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None
