"""Checks named after the contract's rules; each failure message starts with the rule it cites.

Schemathesis runs every check below on every response (`ctx, response, case`). Checks that need
the run's state (keys, planted canaries, the ledger) stand aside outside a contract run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import requests
import schemathesis
from schemathesis import Case, CheckContext, Response

from contract_tests.probes import AuthProbe, is_probeable, unknown_user_answer
from contract_tests.state import RunState, current
from judge import Answer, RuleViolation, check, raise_first
from judge.auth import bad_authorizations, unauthenticated
from judge.frame import shows_only_its_own
from judge.limits import invites_counted, rate_limit_headers
from judge.members import (
    invite_result,
    membership_differences,
    new_user_profile,
    read_only_refusal,
    update_applied,
)
from judge.problems import problem_details, request_id
from judge.spec import READ_ONLY_FIELDS, WRITABLE_FIELDS
from judge.unknown import indistinguishable, no_trace

PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # an id that cannot change which route is matched


class ProbeViolation(RuleViolation):
    """A rule broken by a request the check sent itself; that request is the reproduction."""

    def __init__(self, rule: str, message: str, request: requests.PreparedRequest) -> None:
        super().__init__(rule, message)
        self.request = request


# -- helpers -------------------------------------------------------------------------------------


def answer_of(case: Case, response: Response) -> Answer:
    """A Schemathesis answer as the judge reads it."""
    return Answer.of(response.status_code, response.headers, response.content or b"",
                     method=case.method, path=case.formatted_path)


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


# -- R12 -----------------------------------------------------------------------------------------


@schemathesis.check
def r12_errors_are_problem_details(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every 4xx/5xx is application/problem+json with the contract's members and codes."""
    if response.status_code < 400:
        return
    exercised("R12")
    answer = answer_of(case, response)
    raise_first(problem_details(answer))
    user_id = case.path_parameters.get("user_id")
    if (response.status_code == 404 and isinstance(user_id, str) and PLAIN_ID.match(user_id)
            and is_probeable(case)):
        check(answer.code == "user_not_found", "R12", f"{answer.where} with code "
              f"{answer.code!r}: a member the route does not find is user_not_found (not_found "
              "means no such path)")


@schemathesis.check
def r12_every_answer_has_a_request_id(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every answer carries a non-empty X-Request-Id."""
    exercised("R12")
    raise_first(request_id(answer_of(case, response)))


# -- R7 ------------------------------------------------------------------------------------------


@schemathesis.check
def r7_invite_limit_headers(ctx: CheckContext, response: Response, case: Case) -> None:
    """Retry-After on every 429; RateLimit-* on every invite that succeeded or was rate limited,
    counting this run's invites within the hour."""
    answer = answer_of(case, response)
    if answer.status == 429 or answer.is_invite:
        exercised("R7")
    raise_first(rate_limit_headers(answer))
    state = current()
    if answer.is_invite and state is not None and state.sent_with_key_a(response):
        raise_first(invites_counted(answer, state.invites_in_the_last_hour()))


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
    answer = answer_of(case, response)
    raise_first([*new_user_profile(answer, body),
                 *invite_result(answer, body, existing_user=False, membership_rule="R2")])


@schemathesis.check
def r5_update_applies_fields_sent(ctx: CheckContext, response: Response, case: Case) -> None:
    """A PUT that succeeded answers the member with the fields sent applied, the others kept."""
    state = current()
    if state is None or case.method != "PUT" or response.status_code != 200:
        return
    if not isinstance(case.body, dict):
        return
    exercised("R5")
    before = state.membership_before(case.id)
    raise_first(update_applied(None if before is None else {"membership": before}, case.body,
                               answer_of(case, response)))


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
    raise_first(read_only_refusal(answer_of(case, response), body))


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
    now = state.a.get(user_id)
    if now.status != 200 or not isinstance(now.body, dict):
        return  # R1's checks judge whether the member can be read
    state.record_member(now.body)  # what later updates are compared with (R5)
    watched = {name: before[name] for name in (*WRITABLE_FIELDS, "updated_at") if name in before}
    changed = membership_differences(watched, now.body)
    check(not changed, "R11", f"{describe(case, response)}, yet the membership changed (was, "
          f"now): {changed}")


# -- R1 and R14: Avatars stay apart ----------------------------------------------------------


@schemathesis.check
def r14_no_trace_of_another_avatar(ctx: CheckContext, response: Response, case: Case) -> None:
    """No answer to key A holds Avatar B's canaries or its avatar_id."""
    state = current()
    if state is None or not state.cross_avatar:
        return
    exercised("R14")
    raise_first(no_trace(answer_of(case, response), state.traces_of_b()))


@schemathesis.check
def r1_answers_hold_only_this_avatar(ctx: CheckContext, response: Response, case: Case) -> None:
    """Members in answers to key A are active members of Avatar A."""
    state = current()
    if (state is None or not 200 <= response.status_code < 300 or state.avatar_a is None
            or not state.sent_with_key_a(response)):
        return
    exercised("R1")
    answer = answer_of(case, response)
    where = answer.where
    hidden = state.hidden_ids(case.id)
    for member in members_in(answer.json):
        raise_first(shows_only_its_own(member, state.avatar_a, {}, [], where))
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
        raise_first(indistinguishable(answer_of(case, response), user_id,
                                      answer_of(case, unknown), unknown_id, "R1",
                                      f"{user_id!r}, {_why_hidden(state, user_id)}"))


def _why_hidden(state: RunState, user_id: object) -> str:
    if user_id in state.b_only:
        return "a member of another Avatar only"
    return "a member removed from this Avatar"


# -- R13 -----------------------------------------------------------------------------------------


def bad_keys(state: RunState) -> list[tuple[str, str | None]]:
    """Authorization values no server may accept (the judge's list, for key A)."""
    return bad_authorizations(state.target.key_a)


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
        for finding in unauthenticated(answer_of(probe.case, answer), what):
            raise ProbeViolation(finding.rule, finding.message, request)
        change = probe.change()
        if change:
            raise ProbeViolation("R13", f"{probe.label} with {what} answered "
                                 f"{answer.status_code} yet changed state: {change}", request)
