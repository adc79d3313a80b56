"""Hooks that keep generated requests safe for a real server and aimed where they prove something.

- Invites go to unique addresses from MAXGOOD_EMAIL_TEMPLATE, never to generated real-looking ones.
- PUT and DELETE name only members this run created, members of Avatar B (which must answer
  404, R1) or ids nobody has; GET may also read the members that were there before the run.
- `structured_data` stays within the limits the spec states outside JSON Schema (`x-max-bytes`,
  `x-max-depth`), so a body the schema calls valid is one a server must accept.
- A list request with a cursor carries one Avatar A issued (R10), not a generated string.
- Every member an invite creates goes into the ledger, to be removed at the end.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import jsonschema_rs
import schemathesis
from schemathesis import Case, HookContext, Response
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from contract_tests.session import ContractSession, current
from openapi import load_api_spec

_SCHEMAS = load_api_spec()["components"]["schemas"]
MAX_STRUCTURED_BYTES: int = _SCHEMAS["StructuredData"]["x-max-bytes"]
MAX_STRUCTURED_DEPTH: int = _SCHEMAS["StructuredData"]["x-max-depth"]
# Schemathesis judges generated data with jsonschema-rs (ECMA-262 regexes, not Python's `re`).
EMAIL = jsonschema_rs.validator_for(_SCHEMAS["Email"])
USER_ID_MAX_LENGTH: int = _SCHEMAS["UserId"]["maxLength"]


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


def _fit_structured_data(holder: Any) -> Any:
    if isinstance(holder, dict) and not within_limits(holder.get("structured_data")):
        return {**holder, "structured_data": {}}
    return holder


def _is_valid_email(value: Any) -> bool:
    return isinstance(value, str) and EMAIL.is_valid(value)


def _pick(pool: list[str], value: str) -> str:
    return pool[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(pool)]


def _aim_user_id(session: ContractSession, case: Case) -> None:
    """Point a generated id at a member worth asking about: one this run created, one of B's
    (R1), one nobody has, or, for reads, one that was there before the run (R14)."""
    value = case.path_parameters["user_id"]
    if not isinstance(value, str):
        return
    pool = [*session.b_only, session.missing_id()]
    if case.method == "GET":
        pool += session.readable_a + session.writable_ids()[-3:]
    else:
        pool += session.writable_ids()
    case.path_parameters["user_id"] = _pick(pool, value)


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """Shape every request of every phase just before it is sent (see the module docstring)."""
    session = current()
    if session is None:
        return
    body = case.body
    if case.method == "POST" and case.path == "/users" and isinstance(body, dict):
        if _is_valid_email(body.get("email")):
            body = {**body, "email": session.fresh_email()}
        if isinstance(body.get("membership"), dict):
            body = {**body, "membership": _fit_structured_data(body["membership"])}
        case.body = body
    elif case.method == "PUT" and isinstance(body, dict):
        case.body = _fit_structured_data(body)
    meta = case.meta
    if "user_id" in case.path_parameters:
        if (meta is not None and not meta.is_negative_at(ParameterLocation.PATH)
                and meta.phase.name != TestPhase.STATEFUL):
            _aim_user_id(session, case)
        _guard_writes(session, case)
    if (case.method == "GET" and case.path == "/users" and "cursor" in case.query
            and meta is not None and not meta.is_negative_at(ParameterLocation.QUERY)):
        query = dict(case.query)
        if session.cursor is None:
            del query["cursor"]
        else:
            query["cursor"] = session.cursor
        case.query = query


def _guard_writes(session: ContractSession, case: Case) -> None:
    """A write never names a member this run did not create.

    Ids reach requests from responses (Schemathesis reuses values it saw) and from links; an id
    too long or empty to be anyone's stays, as negative data.
    """
    value = case.path_parameters["user_id"]
    if (case.method in ("PUT", "DELETE") and isinstance(value, str)
            and 0 < len(value) <= USER_ID_MAX_LENGTH and not session.may_write(value)):
        case.path_parameters["user_id"] = session.missing_id()


@schemathesis.hook
def after_call(context: HookContext, case: Case, response: Response) -> None:
    """Keep the ledger: members invited (to remove at the end), removed, and as last answered."""
    session = current()
    if session is None or not session.sent_with_key_a(response):
        return
    if case.method == "DELETE" and response.status_code == 204:
        session.record_removal(case.path_parameters.get("user_id", ""), case.id)
        return
    if response.status_code not in (200, 201):
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return  # the schema checks report a malformed answer
    member = body.get("member") if case.method == "POST" and isinstance(body, dict) else body
    if not isinstance(member, dict) or not isinstance(member.get("user_id"), str):
        return
    if case.method == "POST":
        session.record_invite(member)
    elif case.path == "/users/{user_id}":
        session.record_member(member, case.id if case.method == "PUT" else None)


@schemathesis.hook
def filter_failure(context: HookContext, failure: Failure, case: Case, response: Response) -> bool:
    """A request whose generated Authorization is the invalid part must get 401 (R13), which
    `negative_data_rejection` does not list so that a valid key answered 401 still fails."""
    session = current()
    return not (
        session is not None
        and isinstance(failure, AcceptedNegativeData)
        and response.status_code == 401
        and not session.sent_with_key_a(response)
    )
