"""Hooks that keep generated requests safe for a real server and aimed where they prove something.

Every request of every phase passes `before_call` just before it is sent:

- an invite carries only addresses made from MAXGOOD_EMAIL_TEMPLATE: a valid generated address
  becomes a fresh one, an invalid one a fresh one too long to be valid (so it stays invalid);
- a request naming a user reads any member, but writes (any method but GET) name only members
  this run created: in A, in B (which must answer 404, R1), or the ghost, removed at the start;
- `structured_data` stays within the limits the spec states beside JSON Schema (`x-max-bytes`,
  `x-max-depth`), and `license_expires_at` within the instants it states (years 1 to 9999 in
  UTC, no leap second), so a body the schema calls valid is one a server must accept;
- a list request with a cursor carries one Avatar A issued (R10), not a generated string;
- one generated update in three also carries a profile or read-only field (R4 answers 422).

`after_call` keeps the ledger of what was invited and removed; `filter_failure` drops failures
the hooks themselves caused.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import requests
import schemathesis
from schemathesis import Case, HookContext, Response
from schemathesis.core import NOT_SET
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.openapi.checks import EnsureResourceAvailability

from contract_tests.spec import (
    DATE_TIME,
    DATE_TIME_EXAMPLE,
    EMAIL,
    EMAIL_MAX_LENGTH,
    MAX_STRUCTURED_BYTES,
    MAX_STRUCTURED_DEPTH,
    READ_ONLY_FIELDS,
)
from contract_tests.state import RunState, current
from harness.guard import Unreadable, invite_email
from judge.instants import instant

READS = ("GET", "HEAD", "OPTIONS")
# What of a case's transport arguments makes the request the guard reads.
REQUEST_ARGS = ("method", "url", "headers", "params", "data", "json", "files", "cookies")


class InviteBudgetSpent(Exception):
    """The run's invite budget (`max_invites`) is spent: no more POST /users."""


class BudgetSpent(Exception):
    """The run's request or time budget is spent, but for the clean-up."""


class NoWriteTarget(Exception):
    """No member this run created is left for a write to name."""


def depth(value: Any) -> int:
    """Nesting levels of a JSON value; an object or array counts as one level."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def within_limits(data: Any) -> bool:
    """Whether structured_data is at most x-max-bytes as compact UTF-8 JSON and x-max-depth deep."""
    if not isinstance(data, dict):
        return True  # not an object at all: the schema already calls it invalid
    size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    return size <= MAX_STRUCTURED_BYTES and depth(data) <= MAX_STRUCTURED_DEPTH


def representable(value: Any) -> bool:
    """Whether a date-time the format admits is an instant the spec accepts (or no date-time)."""
    if not isinstance(value, str) or not DATE_TIME.is_valid(value):
        return True  # not a date-time at all: the schema already calls it invalid
    return instant(value) is not None


def fit_membership(holder: Any) -> Any:
    """The membership fields within the limits the spec states beside JSON Schema."""
    if not isinstance(holder, dict):
        return holder
    if not within_limits(holder.get("structured_data")):
        holder = {**holder, "structured_data": {}}
    if not representable(holder.get("license_expires_at")):
        holder = {**holder, "license_expires_at": DATE_TIME_EXAMPLE}
    return holder


def _safe_email(state: RunState, value: Any) -> Any:
    if isinstance(value, list | dict):
        # Still not a string, but holding no text the guard could read as an address.
        return type(value)()
    if not isinstance(value, str):
        return value
    email = state.fresh_email()
    if EMAIL.is_valid(value):
        return email
    local, _, domain = email.partition("@")
    return f"{local}{'x' * (EMAIL_MAX_LENGTH + 1)}@{domain}"


def _digest(value: Any) -> int:
    """A stable number for a generated value, so a replayed case is aimed the same way."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _pick(pool: list[str], value: str) -> str:
    return pool[_digest(value) % len(pool)]


def _with_read_only_field(body: dict[str, Any]) -> dict[str, Any]:
    """One update in three also carries a profile or read-only field, which R4 refuses (422)."""
    digest = _digest(body)
    if digest % 3:
        return body
    return {**body, READ_ONLY_FIELDS[digest // 3 % len(READ_ONLY_FIELDS)]: "contract-suite"}


def _aim_user_id(state: RunState, case: Case) -> None:
    """Point a generated id at a member worth asking about: for reads also one of B's (R1), one
    nobody has, or one that was there before the run (R14); for writes one this run created."""
    value = case.path_parameters["user_id"]
    if not isinstance(value, str):
        return
    if case.method in READS:
        pool = [*state.readable_a, *state.b_only, state.missing_id(),
                *state.writable_ids()[-3:]]
    else:
        pool = [*state.writable_ids(), *state.b_only_ours]
    if pool:
        case.path_parameters["user_id"] = _pick(pool, value)


def _guard_writes(state: RunState, case: Case) -> None:
    """A write names only a member this run created, whatever generated or linked the id."""
    value = case.path_parameters["user_id"]
    if case.method in READS or (isinstance(value, str) and state.may_write(value)):
        return
    target = state.ghost or next(iter(state.writable_ids()), None)
    if target is None:
        raise NoWriteTarget(f"{case.method} {case.path} has no member of this run to name")
    case.path_parameters["user_id"] = target


def _readable_invite(case: Case, base_url: str) -> None:
    """An invite the guard cannot read as at most one address made from the template (a body
    that is not JSON, or carries an address elsewhere) goes without what it cannot read: the
    query that could name an address, else the body. It stays a request a server must refuse
    (400), and the guard, the last net, never has to stop the suite."""
    def unreadable() -> bool:
        kwargs = case.as_transport_kwargs(base_url=base_url)
        prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in REQUEST_ARGS}
                                    ).prepare()
        try:
            invite_email(prepared)
        except Unreadable:
            return True
        return False

    if not unreadable():
        return
    if case.query:
        case.query = {}
        if not unreadable():
            return
    case.body = NOT_SET


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """Shape every request of every phase just before it is sent (see the module docstring)."""
    state = current()
    if state is None:
        return
    spent = state.budget_spent()
    if spent:
        raise BudgetSpent(spent)
    body = case.body
    if case.method == "POST" and case.path == "/users":
        if not state.may_invite():
            raise InviteBudgetSpent(f"the invite budget of {state.max_invites} is spent")
        if isinstance(body, dict):
            body = {**body, "email": _safe_email(state, body["email"])} if "email" in body \
                else body
            if isinstance(body.get("membership"), dict):
                body = {**body, "membership": fit_membership(body["membership"])}
            case.body = body
        if not state.target.is_embedded:
            _readable_invite(case, state.target.base_url)
    meta = case.meta
    if case.method == "PUT" and isinstance(body, dict):
        body = fit_membership(body)
        # Only where Schemathesis tracks the body, so that the case then counts as negative.
        if meta is not None and meta.phase.name in (TestPhase.COVERAGE, TestPhase.FUZZING):
            body = _with_read_only_field(body)
        case.body = body
        meta = case.meta
    if "user_id" in case.path_parameters:
        if (meta is not None and not meta.is_negative_at(ParameterLocation.PATH)
                and meta.phase.name != TestPhase.STATEFUL):
            _aim_user_id(state, case)
        _guard_writes(state, case)
    if (case.method == "GET" and case.path == "/users" and "cursor" in case.query
            and meta is not None and not meta.is_negative_at(ParameterLocation.QUERY)):
        query = dict(case.query)
        if state.cursor is None:
            del query["cursor"]
        else:
            query["cursor"] = state.cursor
        case.query = query


@schemathesis.hook
def after_call(context: HookContext, case: Case, response: Response) -> None:
    """Keep the ledger: members invited (to remove at the end), removed, and as last answered."""
    state = current()
    if state is None:
        return
    state.generated += 1
    invite = case.method == "POST" and case.path == "/users"
    if invite and response.status_code == 201:
        state.count_invite()
    if case.method == "DELETE" and response.status_code == 204:
        # with key A, or (R13 broken) without: either way the member is gone
        state.record_removal(case.path_parameters.get("user_id", ""), case.id)
        return
    if not state.sent_with_key_a(response):
        return
    if response.status_code not in (200, 201):
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return  # the schema checks report a malformed answer
    member = body.get("member") if invite and isinstance(body, dict) else body
    if not isinstance(member, dict) or not isinstance(member.get("user_id"), str):
        return
    if invite:
        state.record_invite(member)
    elif case.path == "/users/{user_id}":
        state.record_member(member, case.id if case.method == "PUT" else None)


@schemathesis.hook
def filter_failure(context: HookContext, failure: Failure, case: Case, response: Response) -> bool:
    """Drop two failures that are the suite's doing, not the server's."""
    state = current()
    if state is None:
        return True
    # A request whose generated Authorization is the invalid part must get 401 (R13), which
    # `negative_data_rejection` does not list so that a valid key answered 401 still fails.
    if (isinstance(failure, AcceptedNegativeData) and response.status_code == 401
            and not state.sent_with_key_a(response)):
        return False
    # A write `_guard_writes` pointed at the ghost looks to Schemathesis like one that followed a
    # link to the member just created; the ghost's 404 says nothing about that member.
    return not (isinstance(failure, EnsureResourceAvailability) and state.ghost is not None
                and case.path_parameters.get("user_id") == state.ghost)
