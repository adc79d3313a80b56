"""R10: pages of the member list, and walks that follow next_cursor from the first page."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.instants import instant


def page(answer: Answer, limit: int, *, first: bool) -> list[Finding]:
    """A page of the list: 200 with {data, next_cursor} (SPEC on the first page; R10 on a page
    a cursor led to), and no more members than the limit asked (R10)."""
    body = answer.json
    rule = "SPEC" if first else "R10"
    if answer.status != 200:
        return [Finding(rule, f"{answer.where} during a walk at limit {limit}, not a page",
                        "status")]
    if not (isinstance(body, dict) and isinstance(body.get("data"), list)
            and "next_cursor" in body and (body["next_cursor"] is None
                                           or isinstance(body["next_cursor"], str))):
        return [Finding("SPEC", f"{answer.where}: a page is not {{data, next_cursor}}", "shape")]
    return finding_if(len(body["data"]) > limit, "R10", f"{answer.where}: a page of "
                      f"{len(body['data'])} members at limit {limit}", "size")


def walk(members: Sequence[Any], what: str) -> list[Finding]:
    """One walk of every page: no member twice, and in (joined_at, user_id) order, user ids
    compared code point by code point."""
    ids = [m.get("user_id") if isinstance(m, dict) else None for m in members]
    twice = sorted({u for u in ids if ids.count(u) > 1 and isinstance(u, str)})
    found = finding_if(twice, "R10", f"{what} lists {twice[:5]} more than once", "twice")
    keys = [(instant((m.get("membership") or {}).get("joined_at")), m.get("user_id"))
            for m in members if isinstance(m, dict)]
    for earlier, later in pairwise(keys):
        if None in (earlier[0], later[0]) or not isinstance(later[1], str) or not isinstance(
                earlier[1], str):
            continue  # the shape checks report a member without a date-time or an id
        if later < earlier:
            found.append(Finding("R10", f"{what} lists {later[1]} (joined {later[0]}) after "
                                        f"{earlier[1]} (joined {earlier[0]}); the order is "
                                        "(joined_at, user_id) ascending", "order"))
            break
    return found


def walks_agree(before: Sequence[str], walked: Sequence[str], after: Sequence[str],
                what: str) -> list[Finding]:
    """A walk between two others, with writes maybe in between: every member listed before
    and after (active throughout, as far as can be told) is in it, in the same order."""
    kept = set(before) & set(after)
    stayed = [u for u in before if u in kept]
    skipped = sorted(kept - set(walked))
    found = finding_if(skipped, "R10", f"{what} skips {skipped[:5]}, members listed before and "
                       "after it", "skipped")
    order = [u for u in walked if u in kept]
    return found + finding_if(not skipped and order != stayed, "R10", f"{what} lists the "
                              "members in another order than the walks around it", "order")
