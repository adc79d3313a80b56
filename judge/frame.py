"""R1/R6/R14: what one Avatar's key does to a person leaves their memberships elsewhere alone.

The frame check: a person's membership in another Avatar, read with that Avatar's key before
and after a step through this one, is exactly as it was; and no answer to this Avatar shows
what the other keeps on the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.members import part, same, short, unchanged


def rule_of_step(method: str) -> str:
    """The rule a change elsewhere breaks: R6 after a DELETE (a soft remove touches only this
    Avatar), R1 after any other request (a key changes only its own Avatar)."""
    return "R6" if method.upper() == "DELETE" else "R1"


def membership_elsewhere_kept(before: Mapping[str, Any], after: Answer, step: str,
                              what: str) -> list[Finding]:
    """The person's member resource in another Avatar (`before`), read again with that Avatar's
    key (`after`) after `step` (a method) through this one: still there, exactly as it was."""
    rule = rule_of_step(step)
    if after.status != 200:
        return [Finding(rule, f"{what}: after {step} through another Avatar, {after.where}; "
                              "the membership here must stay", "elsewhere gone")]
    return unchanged(before, after.json, rule, f"{what}: after {step} through another Avatar")


def shows_only_its_own(member: Any, avatar_id: str | None, own: Mapping[str, Any],
                       foreign: Iterable[tuple[str, Any]], what: str) -> list[Finding]:
    """R1: the membership shown is the key's Avatar's; R14: none of what another Avatar keeps
    on the person (`foreign`: membership field, value) shows, unless this Avatar keeps the same
    value (`own`)."""
    shown = part(member, "membership")
    leaked = sorted({name for name, value in foreign
                     if value not in (None, {}) and name in shown and same(shown[name], value)
                     and not (name in own and same(own[name], value))})
    found = finding_if(leaked, "R14", f"{what}: shows the other Avatar's {leaked}: "
                       f"{short(shown, 300)}", "foreign values")
    found += finding_if(avatar_id is not None and shown.get("avatar_id") != avatar_id, "R1",
                        f"{what}: membership.avatar_id {shown.get('avatar_id')!r}, not the key's "
                        f"Avatar {avatar_id!r}", "avatar_id")
    return found
