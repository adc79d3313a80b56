"""Checks named after the contract's rules; each failure message starts with the rule it cites.

Schemathesis runs every check below on every response (`ctx, response, case`). Checks that need
the run's state (keys, planted canaries, the ledger) stand aside outside a contract run.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests
import schemathesis
from schemathesis import Case, CheckContext, Response

from contract_tests.probes import AuthProbe, is_probeable, unknown_user_answer
from contract_tests.spec import ERROR_CODES, MEMBERSHIP_FIELDS, READ_ONLY_FIELDS
from contract_tests.state import RunState, current
from harness.rules import RuleViolation, check

# R12: the codes each status may carry (the contract's table of error codes).
CODES_BY_STATUS: dict[int, frozenset[str]] = {
    400: frozenset({"invalid_request", "invalid_cursor"}),
    401: frozenset({"unauthenticated"}),
    403: frozenset({"seat_limit_reached"}),
    404: frozenset({"user_not_found", "not_found"}),
    405: frozenset({"method_not_allowed"}),
    406: frozenset({"not_acceptable"}),  # 406, 408, 414: before any operation (the spec's
    408: frozenset({"request_timeout"}),  # description)
    414: frozenset({"uri_too_long"}),
    409: frozenset({"already_member", "owner_protected"}),
    413: frozenset({"payload_too_large"}),
    415: frozenset({"unsupported_media_type"}),
    422: frozenset({"read_only_field"}),
    429: frozenset({"invite_rate_limited", "invite_safety_cap_reached"}),
    500: frozenset({"internal_error"}),
}
assert set().union(*CODES_BY_STATUS.values()) == ERROR_CODES, "the table drifted from the spec"

PROBLEM_FIELDS = {"type": str, "title": str, "status": int, "detail": str, "code": str,
                  "request_id": str}
WHOLE_SECONDS = re.compile(r"^[0-9]+$")
RATE_LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
PROFILE_FIELDS = ("name", "role", "expertise", "locale")
PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # an id that cannot change which route is matched


class ProbeViolation(RuleViolation):
    """A rule broken by a request the check sent itself; that request is the reproduction."""

    def __init__(self, rule: str, message: str, request: requests.PreparedRequest) -> None:
        super().__init__(rule, message)
        self.request = request


# -- helpers -------------------------------------------------------------------------------------


def header(response: Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def json_body(response: Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def describe(case: Case, response: Response) -> str:
    return f"{case.method} {case.formatted_path} answered {response.status_code}"


def exercised(rule: str) -> None:
    state = current()
    if state is not None:
        state.exercise(rule)


def members_in(body: Any) -> Iterator[dict[str, Any]]:
    """Every Member object in a list, invite or member answer."""
    if not isinstance(body, dict):
        return
    if isinstance(body.get("data"), list):
        yield from (m for m in body["data"] if isinstance(m, dict))
    elif isinstance(body.get("member"), dict):
        yield body["member"]
    elif "membership" in body:
        yield body


def instant(value: Any) -> datetime | None:
    """A date-time as an instant: implementations may differ in precision and notation."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None


def same_value(sent: Any, answered: Any, *, date_time: bool = False) -> bool:
    """Whether an answered value is the one sent; date-times as instants, to the second, since
    implementations may keep less precision than was sent."""
    if date_time and sent is not None:
        expected, got = instant(sent), instant(answered)
        if expected is None:
            return True  # beyond what Python reads (a leap second): nothing to judge
        return got is not None and abs((expected - got).total_seconds()) < 1
    return bool(sent == answered)


# -- R12 -----------------------------------------------------------------------------------------


def assert_problem(response: Response, where: str) -> None:
    """Raise RuleViolation("R12", ...) unless `response` is a problem detail as R12 describes."""
    status = response.status_code
    media_type = (header(response, "content-type") or "").split(";")[0].strip().lower()
    check(media_type == "application/problem+json", "R12",
          f"{where} with Content-Type {media_type or 'none'!r}, not application/problem+json")
    body = json_body(response)
    check(isinstance(body, dict), "R12", f"{where} with a body that is not a JSON object")
    for name, kind in PROBLEM_FIELDS.items():
        value = body.get(name)
        check(isinstance(value, kind) and not isinstance(value, bool), "R12",
              f"{where}: the problem's {name!r} is missing or not a {kind.__name__} ({value!r})")
    check(body["status"] == status, "R12", f"{where} but the problem says status {body['status']}")
    allowed = CODES_BY_STATUS.get(status)
    check(allowed is None or body["code"] in allowed, "R12",
          f"{where} with code {body['code']!r}; the contract allows {sorted(allowed or ())}")
    check(body["request_id"] == header(response, "x-request-id"), "R12",
          f"{where}: request_id {body['request_id']!r} differs from the X-Request-Id header "
          f"{header(response, 'x-request-id')!r}")
    if status == 400:
        errors = body.get("errors")
        check(isinstance(errors, list) and all(
            isinstance(e, dict) and isinstance(e.get("pointer"), str)
            and isinstance(e.get("message"), str) and (e["pointer"] == "" or e["pointer"][0] == "/")
            for e in errors
        ), "R12", f"{where} without errors: [{{pointer, message}}] (JSON Pointers): {errors!r}")
    if status == 422:
        fields = body.get("fields")
        check(isinstance(fields, list) and fields and all(isinstance(f, str) for f in fields),
              "R12", f"{where} without a non-empty list of fields: {fields!r}")


@schemathesis.check
def r12_errors_are_problem_details(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every 4xx/5xx is application/problem+json with the contract's members and codes."""
    if response.status_code < 400:
        return
    exercised("R12")
    where = describe(case, response)
    assert_problem(response, where)
    user_id = case.path_parameters.get("user_id")
    if (response.status_code == 404 and isinstance(user_id, str) and PLAIN_ID.match(user_id)
            and is_probeable(case)):
        code = json_body(response)["code"]
        check(code == "user_not_found", "R12", f"{where} with code {code!r}: a member the route "
              "does not find is user_not_found (not_found means no such path)")


@schemathesis.check
def r12_every_answer_has_a_request_id(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every answer carries a non-empty X-Request-Id."""
    exercised("R12")
    where = describe(case, response)
    check(header(response, "x-request-id"), "R12", f"{where} without X-Request-Id")


# -- R7 ------------------------------------------------------------------------------------------


def _whole_seconds(response: Response, name: str, where: str, minimum: int) -> int:
    value = header(response, name) or ""
    check(WHOLE_SECONDS.match(value) and int(value) >= minimum, "R7",
          f"{where} with {name} {value or 'missing'!r}: want whole seconds >= {minimum}")
    return int(value)


@schemathesis.check
def r7_invite_limit_headers(ctx: CheckContext, response: Response, case: Case) -> None:
    """Retry-After on every 429; RateLimit-* on every invite that succeeded or was rate limited."""
    where = describe(case, response)
    if response.status_code == 429:
        exercised("R7")
        _whole_seconds(response, "Retry-After", where, 1)
    is_invite = case.method == "POST" and case.path == "/users"
    if not is_invite:
        return
    present = [name for name in RATE_LIMIT_HEADERS if header(response, name) is not None]
    if response.status_code not in (201, 429) and not present:
        return  # the contract lets refused invites other than 429 go without them
    exercised("R7")
    limit = _whole_seconds(response, "RateLimit-Limit", where, 0)
    remaining = _whole_seconds(response, "RateLimit-Remaining", where, 0)
    reset = _whole_seconds(response, "RateLimit-Reset", where, 0)
    check(reset <= 3600, "R7", f"{where} with RateLimit-Reset {reset}, over 3600 seconds")
    check(remaining <= limit, "R7", f"{where} with RateLimit-Remaining {remaining} over the "
          f"RateLimit-Limit {limit}")
    if response.status_code == 429 and (json_body(response) or {}).get("code") == (
        "invite_rate_limited"
    ):
        check(remaining == 0, "R7", f"{where} invite_rate_limited with RateLimit-Remaining "
              f"{remaining}, not 0")
    state = current()
    if response.status_code == 201 and state is not None and state.sent_with_key_a(response):
        # Others may invite into the Avatar too, which only lowers what remains.
        invites = state.invites_in_the_last_hour()
        check(invites <= limit, "R7", f"{where}: {invites} invites of this run succeeded within "
              f"an hour, over RateLimit-Limit {limit}")
        check(remaining <= limit - invites + 1, "R7", f"{where} with RateLimit-Remaining "
              f"{remaining} after {invites} invites of this run within the hour (limit {limit})")


# -- R2 and R5: what a write answers ----------------------------------------------------------


@schemathesis.check
def r2_new_email_creates_user_from_profile_sent(
    ctx: CheckContext, response: Response, case: Case
) -> None:
    """An invite of an address nobody has creates the user from exactly the profile sent."""
    state = current()
    body = case.body
    if (state is None or response.status_code != 201 or not isinstance(body, dict)
            or not state.is_fresh_email(body.get("email"))):
        return
    exercised("R2")
    where = describe(case, response)
    answer = json_body(response) or {}
    check(answer.get("existing_user") is False and answer.get("ignored_profile_fields") == [],
          "R2", f"{where} for a new address with existing_user "
          f"{answer.get('existing_user')!r}, ignored_profile_fields "
          f"{answer.get('ignored_profile_fields')!r}")
    member = answer.get("member") or {}
    profile, sent = member.get("profile") or {}, body.get("profile") or {}
    check(profile.get("email") == body["email"], "R2",
          f"{where}: profile.email {profile.get('email')!r}, sent {body['email']!r}")
    for name in PROFILE_FIELDS:
        check(profile.get(name) == sent.get(name), "R2",
              f"{where}: profile.{name} {profile.get(name)!r}, sent {sent.get(name)!r}")
    location = header(response, "location")
    check(location == f"/v1beta/users/{member.get('user_id')}", "SPEC",
          f"{where} with Location {location!r}, not /v1beta/users/{member.get('user_id')}")
    assert_membership_applied(body.get("membership") or {}, member, where, "R2", defaults=True)


@schemathesis.check
def r5_update_applies_fields_sent(ctx: CheckContext, response: Response, case: Case) -> None:
    """A PUT that succeeded answers the member with the fields sent applied, the others kept."""
    state = current()
    if state is None or case.method != "PUT" or response.status_code != 200:
        return
    if not isinstance(case.body, dict):
        return
    exercised("R5")
    where = describe(case, response)
    answer = json_body(response) or {}
    assert_membership_applied(case.body, answer, where, "R5", defaults=False)
    before = state.membership_before(case.id)
    membership = answer.get("membership") or {}
    for name in MEMBERSHIP_FIELDS:
        if before is None or name in case.body or name not in membership:
            continue
        check(same_value(before[name], membership[name], date_time=name == "license_expires_at"),
              "R5", f"{where}: membership.{name} was not sent, yet went from {before[name]!r} "
              f"to {membership[name]!r}")


def assert_membership_applied(
    sent: dict[str, Any], member: dict[str, Any], where: str, rule: str, *, defaults: bool
) -> None:
    membership = member.get("membership") or {}
    expected = {"is_admin": False, "is_coach": False, "license_expires_at": None, "notes": None,
                "structured_data": {}} if defaults else {}
    expected.update(sent)
    for name, value in expected.items():
        if name not in membership or (
            isinstance(value, bool) and not isinstance(membership[name], bool)
        ):
            continue  # the schema checks report a missing field or a wrong type
        check(same_value(value, membership[name], date_time=name == "license_expires_at"), rule,
              f"{where}: membership.{name} is {membership[name]!r}, sent {value!r}")
    joined, updated = instant(membership.get("joined_at")), instant(membership.get("updated_at"))
    if joined and updated:
        check(updated >= joined, rule, f"{where}: updated_at {membership['updated_at']} is before "
              f"joined_at {membership['joined_at']}")


# -- R4 and R11: what a refused update does --------------------------------------------------


@schemathesis.check
def r4_put_refuses_profile_and_read_only_fields(
    ctx: CheckContext, response: Response, case: Case
) -> None:
    """A PUT carrying a profile or read-only field answers 422 read_only_field naming them."""
    state = current()
    body = case.body
    if (state is None or case.method != "PUT" or not isinstance(body, dict)
            or not state.sent_with_key_a(response) or not is_probeable(case)):
        return
    sent = sorted(set(body) & set(READ_ONLY_FIELDS))
    # 404: the member may be looked up first; 413/415: the body was not judged at all
    if not sent or response.status_code in (404, 413, 415):
        return
    exercised("R4")
    answer = json_body(response) or {}
    where = describe(case, response)
    check(response.status_code == 422 and answer.get("code") == "read_only_field", "R4",
          f"{where} to a body with {sent}; want 422 read_only_field")
    named = answer.get("fields") if isinstance(answer.get("fields"), list) else []
    check(set(sent) <= set(named), "R4", f"{where} naming fields {named}, not all of {sent}")


@schemathesis.check
def r11_refused_update_changes_nothing(ctx: CheckContext, response: Response, case: Case
                                      ) -> None:
    """After a refused PUT the member is exactly as it was."""
    state = current()
    user_id = case.path_parameters.get("user_id")
    if (state is None or case.method != "PUT" or 200 <= response.status_code < 300
            or not isinstance(user_id, str)):
        return
    before = state.membership_of(user_id)
    if before is None:
        return
    exercised("R11")
    now = state.a.send("GET", f"/users/{user_id}")
    if now.status_code != 200:
        return  # R1's checks judge whether the member can be read
    state.record_member(now.json())  # what later updates are compared with (R5)
    after = now.json().get("membership") or {}
    changed = {name: (before.get(name), after.get(name)) for name in (*MEMBERSHIP_FIELDS,
               "updated_at") if not same_value(before.get(name), after.get(name),
                                               date_time=name.endswith("_at"))}
    check(not changed, "R11", f"{describe(case, response)}, yet the membership changed: "
          f"{changed}")


# -- R1 and R14: Avatars stay apart ----------------------------------------------------------


@schemathesis.check
def r14_no_trace_of_another_avatar(ctx: CheckContext, response: Response, case: Case) -> None:
    """No answer to key A holds Avatar B's canaries or its avatar_id."""
    state = current()
    if state is None or not state.cross_avatar:
        return
    exercised("R14")
    text = "\n".join([(response.content or b"").decode("utf-8", "replace"),
                      *(v for values in response.headers.values() for v in values)])
    for trace, what in state.traces_of_b():
        check(trace not in text, "R14", f"{describe(case, response)} with {what} ({trace!r})")


@schemathesis.check
def r1_answers_hold_only_this_avatar(ctx: CheckContext, response: Response, case: Case) -> None:
    """Members in answers to key A are active members of Avatar A."""
    state = current()
    if (state is None or not 200 <= response.status_code < 300 or state.avatar_a is None
            or not state.sent_with_key_a(response)):
        return
    exercised("R1")
    where = describe(case, response)
    hidden = state.hidden_ids(case.id)
    for member in members_in(json_body(response)):
        avatar = (member.get("membership") or {}).get("avatar_id")
        check(avatar == state.avatar_a, "R1",
              f"{where} with a member of Avatar {avatar!r}, not the key's {state.avatar_a!r}")
        check(member.get("user_id") not in hidden, "R1", f"{where} showing "
              f"{member.get('user_id')!r}, {_why_hidden(state, member.get('user_id'))}")


@schemathesis.check
def r1_own_members_are_found(ctx: CheckContext, response: Response, case: Case) -> None:
    """Key A naming an active member it invited never gets 404."""
    state = current()
    user_id = case.path_parameters.get("user_id")
    if (state is None or not isinstance(user_id, str) or not state.sent_with_key_a(response)
            or not is_probeable(case) or state.membership_of(user_id) is None):
        return
    exercised("R1")
    check(response.status_code != 404, "R1", f"{describe(case, response)} for {user_id!r}, an "
          "active member this run invited")


@schemathesis.check
def r1_hidden_members_are_not_found(ctx: CheckContext, response: Response, case: Case) -> None:
    """Key A naming a member of another Avatar, or one removed here, gets the answer an id
    nobody has gets."""
    state = current()
    user_id = case.path_parameters.get("user_id")
    if (state is None or user_id not in state.hidden_ids(case.id)
            or not state.sent_with_key_a(response) or not is_probeable(case)):
        return
    exercised("R1")
    where = describe(case, response)
    # PUT may judge the body before looking the member up (the contract allows either).
    allowed = {404} | ({400, 413, 415, 422} if case.method == "PUT" else set())
    check(response.status_code in allowed, "R1",
          f"{where} for {user_id!r}, {_why_hidden(state, user_id)}; want 404 user_not_found")
    reference_answer = unknown_user_answer(state, case) if response.status_code == 404 else None
    if reference_answer is not None:
        unknown, unknown_id = reference_answer
        answer, reference = _comparable(response, user_id), _comparable(unknown, unknown_id)
        check(answer == reference, "R1", f"{where} for {user_id!r}, "
              f"{_why_hidden(state, user_id)}, with {answer}, but {reference} for an id nobody "
              "has: the answers must not tell them apart")


def _why_hidden(state: RunState, user_id: object) -> str:
    if user_id in state.b_only:
        return "a member of another Avatar only"
    return "a member removed from this Avatar"


def _comparable(response: Response, user_id: str) -> dict[str, Any]:
    body = json_body(response)
    if not isinstance(body, dict):
        return {"status": response.status_code}
    kept = {k: body.get(k) for k in ("type", "title", "status", "code", "detail")}
    if isinstance(kept["detail"], str):
        kept["detail"] = kept["detail"].replace(user_id, "{user_id}")
    return kept


# -- R13 -----------------------------------------------------------------------------------------


def bad_keys(state: RunState) -> list[tuple[str, str | None]]:
    """Authorization values no server may accept: missing, malformed, unknown and wrong keys."""
    key = state.target.key_a
    credential = key.split(".", 1)[0] if key.startswith("mgak_") and "." in key else "mgak_x"
    return [
        ("no Authorization header", None),
        ("a malformed key", f"Bearer not-a-key-{secrets.token_hex(4)}"),
        ("key A sent as Basic credentials", f"Basic {key}"),
        ("a key without its secret", f"Bearer {credential}"),
        ("an unknown key", f"Bearer mgak_unknown{secrets.token_hex(4)}.{secrets.token_hex(16)}"),
        ("key A's credential id with a wrong secret",
         f"Bearer {credential}.{secrets.token_hex(16)}"),
    ]


@schemathesis.check
def r13_requests_without_a_valid_key_are_refused(
    ctx: CheckContext, response: Response, case: Case
) -> None:
    """The request sent again without a valid key answers 401 with WWW-Authenticate: Bearer,
    and changes nothing."""
    state = current()
    phase = case.meta.phase.name.value if case.meta is not None else "unknown"
    if (state is None or not is_probeable(case) or state.budget_spent()
            or (case.method == "POST" and not state.may_invite())
            or not state.take_auth_probe(case.operation.label, phase)):
        return
    exercised("R13")
    probe = AuthProbe(state, case)
    for what, authorization in bad_keys(state):
        answer = probe.send(authorization)
        request = answer.request
        where = f"{probe.label} with {what} answered {answer.status_code}"
        if answer.status_code != 401:
            raise ProbeViolation("R13", f"{where}; want 401 unauthenticated", request)
        challenge = header(answer, "www-authenticate") or ""
        if not challenge.lower().startswith("bearer"):
            raise ProbeViolation("R13", f"{where} with WWW-Authenticate {challenge!r}, want "
                                 "Bearer", request)
        try:
            assert_problem(answer, where)
        except RuleViolation as exc:
            raise ProbeViolation(exc.rule, exc.detail, request) from None
        code = (json_body(answer) or {}).get("code")
        if code != "unauthenticated":
            raise ProbeViolation("R13", f"{where} with code {code!r}, want unauthenticated",
                                 request)
        change = probe.change()
        if change:
            raise ProbeViolation("R13", f"{where} yet changed state: {change}", request)
