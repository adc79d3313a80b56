"""R2-R5: a member as answered, compared with what was sent or what it was before.

One comparison of JSON values: objects ignore key order, true is not 1, and date-times are
compared as instants (a value the client sent may be kept at less precision: to the second).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.instants import date_time, instant, not_before
from judge.problems import refusal
from judge.spec import (
    DATE_TIME_FIELDS,
    MEMBER_FIELDS,
    MEMBERSHIP_DEFAULTS,
    MEMBERSHIP_FIELDS,
    PROFILE_FIELDS,
    PROFILE_INPUT_FIELDS,
    READ_ONLY_FIELDS,
    WRITABLE_FIELDS,
)

# A value sent and answered back may lose what the server does not keep (CONTRACT.md).
KEPT_WITHIN = timedelta(seconds=1)
_NO_VALUE = object()


def differences(before: Any, after: Any, path: str = "", *,
                within: timedelta = timedelta(0)) -> Iterator[str]:
    """JSON Pointers (with the two values) where `after` differs from `before`."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            where = f"{path}/{key}"
            if key not in after:
                yield f"{where}: {short(before[key])} -> (absent)"
            elif key not in before:
                yield f"{where}: (absent) -> {short(after[key])}"
            else:
                yield from differences(before[key], after[key], where, within=within)
        return
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            yield f"{path or '/'}: {len(before)} items -> {len(after)} items"
            return
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from differences(old, new, f"{path}/{index}", within=within)
        return
    if not _scalar_equal(before, after, within):
        yield f"{path or '/'}: {short(before)} -> {short(after)}"


def same(before: Any, after: Any, *, within: timedelta = timedelta(0)) -> bool:
    """Equal as JSON: date-times as instants, objects ignoring key order, true is not 1."""
    return next(differences(before, after, within=within), None) is None


def kept(sent: Any, answered: Any) -> bool:
    """Whether an answered value is the one sent (date-times to the second)."""
    return same(sent, answered, within=KEPT_WITHIN)


def _scalar_equal(before: Any, after: Any, within: timedelta) -> bool:
    if isinstance(before, bool) or isinstance(after, bool):
        return type(before) is type(after) and before == after
    if isinstance(before, int | float) and isinstance(after, int | float):
        return before == after
    if isinstance(before, str) and isinstance(after, str):
        if before == after:
            return True
        old, new = instant(before), instant(after)
        return old is not None and new is not None and abs(old - new) <= within
    return type(before) is type(after) and before == after


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def part(member: Any, name: str) -> dict[str, Any]:
    """A member's `profile` or `membership` object ({} when it has none)."""
    value = member.get(name) if isinstance(member, dict) else None
    return value if isinstance(value, dict) else {}


# -- shape ---------------------------------------------------------------------------------------


def member_shape(member: Any, what: str) -> list[Finding]:
    """SPEC: a Member has every field, of its type, date-times in UTC, status active."""
    if not isinstance(member, dict):
        return [Finding("SPEC", f"{what}: a member is not an object: {short(member)}", "shape")]
    found = [Finding("SPEC", f"{what}: the member has no {name}", "shape")
             for name in MEMBER_FIELDS if name not in member]
    if not isinstance(member.get("user_id"), str) or not member.get("user_id"):
        found.append(Finding("SPEC", f"{what}: user_id is {member.get('user_id')!r}", "shape"))
    profile, membership = member.get("profile"), member.get("membership")
    if not isinstance(profile, dict) or not isinstance(membership, dict):
        return [*found, Finding("SPEC", f"{what}: profile and membership must be objects",
                                "shape")]
    found += [Finding("SPEC", f"{what}: profile.{k} is missing", "shape")
              for k in PROFILE_FIELDS if k not in profile]
    found += [Finding("SPEC", f"{what}: membership.{k} is missing", "shape")
              for k in MEMBERSHIP_FIELDS if k not in membership]
    if found:
        return found
    for name in PROFILE_INPUT_FIELDS:
        found += finding_if(profile[name] is not None and not isinstance(profile[name], str),
                            "SPEC", f"{what}: profile.{name} is {profile[name]!r}, not a string "
                            "or null", "shape")
    found += finding_if(not isinstance(profile["email"], str), "SPEC",
                        f"{what}: profile.email is {profile['email']!r}", "shape")
    for name in ("is_owner", "is_admin", "is_coach"):
        found += finding_if(not isinstance(membership[name], bool), "SPEC",
                            f"{what}: membership.{name} is {membership[name]!r}, not a boolean",
                            "shape")
    found += finding_if(membership["notes"] is not None
                        and not isinstance(membership["notes"], str), "SPEC",
                        f"{what}: membership.notes is {membership['notes']!r}", "shape")
    found += finding_if(not isinstance(membership["structured_data"], dict), "SPEC",
                        f"{what}: membership.structured_data is "
                        f"{short(membership['structured_data'])}", "shape")
    found += finding_if(membership["status"] != "active", "SPEC",
                        f"{what}: membership.status is {membership['status']!r}, not 'active'",
                        "shape")
    for section, values in (("profile", profile), ("membership", membership)):
        for name in sorted(DATE_TIME_FIELDS & values.keys()):
            found += date_time(values[name], f"{what}: {section}.{name}",
                               nullable=name == "license_expires_at")
    return found


# -- comparisons ---------------------------------------------------------------------------------


def profile_differences(expected: Mapping[str, Any], member: Any) -> dict[str, tuple[Any, Any]]:
    """Profile fields named in `expected` whose answered value differs: name -> (want, seen)."""
    profile = part(member, "profile")
    return {name: (want, profile.get(name, _NO_VALUE)) for name, want in expected.items()
            if name not in profile or not same(want, profile[name])}


def membership_differences(expected: Mapping[str, Any], member: Any, *, sent: bool = False
                           ) -> dict[str, tuple[Any, Any]]:
    """Membership fields named in `expected` whose answered value differs; `sent` when the
    expected values are what a client sent (date-times then kept to the second)."""
    membership = part(member, "membership")
    equal = kept if sent else same
    return {name: (want, membership.get(name, "(absent)")) for name, want in expected.items()
            if name not in membership or not equal(want, membership[name])}


def unchanged(before: Any, after: Any, rule: str, what: str) -> list[Finding]:
    """The frame: `after` is `before` exactly (as JSON, date-times as instants)."""
    moved = list(differences(before, after))
    return finding_if(moved, rule, f"{what}; changed: {'; '.join(moved[:6])}", "unchanged")


# -- what an invite answers (R2, R3, R6) ---------------------------------------------------------


def invite_result(answer: Answer, sent: Mapping[str, Any], *, existing_user: bool,
                  membership_rule: str = "SPEC") -> list[Finding]:
    """A 201 to an invite of `sent`: existing_user as expected, ignored_profile_fields naming
    every profile key sent to an existing user (R2), the membership made from the invite
    (`membership_rule`: SPEC for a first one, R6 for one after a removal), Location (SPEC).
    The profile is judged by the caller, who knows what it was (`new_user_profile`)."""
    body = answer.json if isinstance(answer.json, dict) else {}
    where = answer.where
    found = finding_if(body.get("existing_user") is not existing_user, "R2",
                       f"{where} with existing_user {body.get('existing_user')!r}; want "
                       f"{existing_user}", "existing_user")
    profile_sent = sent.get("profile") if isinstance(sent.get("profile"), dict) else {}
    want_ignored = sorted(profile_sent) if existing_user else []
    ignored = body.get("ignored_profile_fields")
    found += finding_if(not isinstance(ignored, list) or sorted(map(str, ignored)) != want_ignored,
                        "R2", f"{where} with ignored_profile_fields {ignored!r}; want "
                        f"{want_ignored}", "ignored_profile_fields")
    member = body.get("member")
    membership_sent = sent.get("membership") if isinstance(sent.get("membership"), dict) else {}
    wrong = membership_differences({**MEMBERSHIP_DEFAULTS, **membership_sent}, member, sent=True)
    found += finding_if(wrong, membership_rule, f"{where}: the new membership (want, seen): "
                        f"{wrong}", "membership")
    found += stamps_in_order(member, membership_rule, where)
    user_id = member.get("user_id") if isinstance(member, dict) else None
    location = answer.headers.get("Location")
    found += finding_if(location != f"/v1beta/users/{user_id}", "SPEC",
                        f"{where} with Location {location!r}, not /v1beta/users/{user_id}",
                        "Location")
    return found


def new_user_profile(answer: Answer, sent: Mapping[str, Any]) -> list[Finding]:
    """R2: a new address's user has exactly the profile sent (email trimmed; null for a field
    not sent)."""
    body = answer.json if isinstance(answer.json, dict) else {}
    profile_sent = sent.get("profile") if isinstance(sent.get("profile"), dict) else {}
    email = sent.get("email")
    want = {"email": email.strip() if isinstance(email, str) else email,
            **{name: profile_sent.get(name) for name in PROFILE_INPUT_FIELDS}}
    wrong = profile_differences(want, body.get("member"))
    return finding_if(wrong, "R2", f"{answer.where}: a new user's profile (sent, seen): {wrong}",
                      "profile")


# -- what a PUT answers (R5) ---------------------------------------------------------------------


def update_applied(before: Any, sent: Mapping[str, Any], answer: Answer) -> list[Finding]:
    """R5: a PUT of `sent` to the member `before` answered the member with the fields sent
    applied (structured_data whole, null clearing), every other field as it was, and updated_at
    not moved back."""
    after = answer.json
    where = answer.where
    found = stamps_in_order(after, "R5", where)
    wrong = membership_differences({k: v for k, v in sent.items() if k in WRITABLE_FIELDS},
                                   after, sent=True)
    found += finding_if(wrong, "R5", f"{where}: the fields sent (sent, seen): {wrong}", "sent")
    if before is None:
        return found
    old, new = part(before, "membership"), part(after, "membership")
    others = {name: old[name] for name in MEMBERSHIP_FIELDS
              if name in old and name not in sent and name != "updated_at"}
    wrong = membership_differences(others, after)
    found += finding_if(wrong, "R5", f"{where}: fields not sent changed (was, now): {wrong}",
                        "not sent")
    for name in ("user_id", "profile"):
        if isinstance(after, dict) and isinstance(before, dict) and name in before:
            found += unchanged(before[name], after.get(name), "R5", f"{where}: {name}")
    found += not_before(old.get("updated_at"), new.get("updated_at"), "R5",
                        f"{where}: updated_at moves forward")
    return found


def stamps_in_order(member: Any, rule: str, what: str) -> list[Finding]:
    """A membership is updated at or after it was joined."""
    membership = part(member, "membership")
    return not_before(membership.get("joined_at"), membership.get("updated_at"), rule,
                      f"{what}: updated_at is not before joined_at")


# -- R3 and R4 -----------------------------------------------------------------------------------


def one_user_per_email(member: Any, known: str, email: str, what: str) -> list[Finding]:
    """R3: an invite of `email` (any case, padded) answered the user who has it, `known`."""
    user_id = member.get("user_id") if isinstance(member, dict) else None
    return finding_if(user_id != known, "R3", f"{what}: {email!r} answered user {user_id!r}, "
                      f"but the address is {known}'s (trimmed, ignoring case)", "same user")


def read_only_refusal(answer: Answer, sent: Mapping[str, Any]) -> list[Finding]:
    """R4: a PUT carrying profile or read-only fields answers 422 read_only_field, and its
    `fields` name every one of them, and no field the PUT may set or did not send (an unknown
    field sent with them may be named or not)."""
    protected = set(sent) & set(READ_ONLY_FIELDS)
    why = f"a PUT carrying {sorted(protected)} is refused"
    found = refusal(answer, 422, "read_only_field", "R4", why)
    if answer.status != 422:
        return found
    named = answer.json.get("fields") if isinstance(answer.json, dict) else None
    return [*found, *finding_if(
        not isinstance(named, list)
        or not protected <= set(map(str, named)) <= set(sent) - set(WRITABLE_FIELDS), "R4",
        f"{answer.where} naming fields {named!r}; want each of {sorted(protected)}, and none "
        "that was not sent or may be set", "fields")]
