"""A second, generic pass: Schemathesis's state machine over the spec's OpenAPI links.

It knows no rule of its own: it chains invite -> read/update/remove and list -> read as the
links say, and checks each answer against the spec (statuses, media types, headers, schemas)
and the stateful checks (use after free, resource availability). As everywhere in this suite,
invites use fresh emails from MAXGOOD_EMAIL_TEMPLATE, and each example removes what it created.

It writes only to members this run created, by construction rather than by the guard's refusal:

- a transition filter (`OwnMembersOnly`, Schemathesis's transition controller with one more
  rule) follows a link to a write (PUT, DELETE) only from an answer that names the run's own
  members: an invite's 201, or an update's 200 (updates being sent only to those). The links
  Schemathesis infers from a list or a read, which may name someone present before the run,
  lead only to reads;
- the few ids the link did not supply (Schemathesis explores a fresh value now and then) are
  steered in `before_call` to a member this run created, before anything is sent.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

import hypothesis
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.generation.stateful.control import TransitionController
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from harness.client import REDACTED, ApiClient, Exchange, reproduction
from openapi import API_SPEC_PATH

from .context import RunContext
from .driver import violation_class

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    use_after_free,
    ensure_resource_availability,
]
WRITES = frozenset({"PUT", "DELETE"})
INVITE = "POST /users"
# The operations whose answers name only members this run created: an invite of a fresh
# address, and an update (only ever sent to those, see `OwnMembersOnly`).
OWN_SOURCES = frozenset({INVITE, "PUT /users/{user_id}"})
# Headers whose absence breaks a numbered rule rather than only the spec.
_HEADER_RULES = {
    "ratelimit": "R7",
    "retry-after": "R7",
    "x-request-id": "R12",
    "www-authenticate": "R13",
}


@functools.cache
def _links_machine() -> type:
    return schemathesis.openapi.from_path(API_SPEC_PATH).as_state_machine()


def rule_of(failure: Failure) -> str:
    """The contract rule a Schemathesis failure breaks; SPEC unless it names one."""
    name = type(failure).__name__
    if name == "UseAfterFree":
        return "R6"  # a removed member must answer 404
    if name == "EnsureResourceAvailability":
        return "R1"  # a member just invited must be readable by the key's Avatar
    for header in getattr(failure, "missing_headers", ()):
        for prefix, rule_id in _HEADER_RULES.items():
            if header.lower().startswith(prefix):
                return rule_id
    return "SPEC"


def is_write(label: str) -> bool:
    """Whether an operation label ("DELETE /users/{user_id}") names a write."""
    return label.split(" ", 1)[0].upper() in WRITES


class OwnMembersOnly(TransitionController):
    """Schemathesis's transition control, and: a write follows only from the run's own members.

    (A cap on invites per example belongs in the step count, not here: a precondition that
    counts what earlier steps sent makes Hypothesis see a flaky strategy.)
    """

    def allow_transition(self, source: str, target: str) -> bool:
        if is_write(target) and source not in OWN_SOURCES:
            return False
        return super().allow_transition(source, target)


def steer(user_id: object, example: list[str], run: list[str]) -> str:
    """The member of this run a write names: `user_id` if it is one, else one this example
    created (else one of the run's), chosen by `user_id` so a replay chooses the same."""
    if isinstance(user_id, str) and (user_id in example or user_id in run):
        return user_id
    pool = example or run
    if not pool:
        # The transition filter lets a write follow only an answer naming a member this run
        # created, so there is one; sending a write to anyone else is never the way out.
        raise RuntimeError("a write of the generic pass has no member of this run to name")
    return pool[zlib.crc32(repr(user_id).encode()) % len(pool)]


def run_generic_pass(ctx: RunContext, settings: hypothesis.settings, seed: int) -> None:
    """Run the links' state machine with key A; raises what the state machine raises."""
    client = ctx.clients["A"]
    base = _links_machine()
    created_in_run: list[str] = []  # every member this pass invited, in any example

    class LinksOfTheSpec(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.control = OwnMembersOnly(self._transitions, self._root_labels)

        def setup(self) -> None:
            ctx.start_example()
            self.created: list[str] = []
            self.exchanges: list[Exchange] = []

        def before_call(self, case: Any) -> None:
            method = case.method.upper()
            if method == "POST" and isinstance(case.body, dict):
                # Never a generated address: a real server would send it an invitation.
                case.body["email"] = ctx.emails.fresh()
            if method in WRITES and "user_id" in case.path_parameters:
                case.path_parameters["user_id"] = steer(
                    case.path_parameters["user_id"], self.created, created_in_run)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {
                "base_url": ctx.target.base_url,
                "headers": {"Authorization": f"Bearer {ctx.target.key_a}"},
                "session": client.session,
            }

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            client.requests += 1
            try:
                body = response.json()
            except ValueError:
                body = None
            self.exchanges.append(
                Exchange(
                    method=case.method.upper(),
                    url=response.request.url,
                    request_body=case.body if isinstance(case.body, dict | list) else None,
                    status=response.status_code,
                    headers=response.headers,
                    body=body,
                    text=response.text,
                    authorization=f"Bearer {REDACTED}",
                    client="A",
                    seq=len(self.exchanges),
                )
            )
            if case.method.upper() == "POST" and response.status_code == 201:
                ctx.invites_used += 1
                member = body.get("member") if isinstance(body, dict) else None
                if isinstance(member, dict) and isinstance(member.get("user_id"), str):
                    self.created.append(member["user_id"])
                    created_in_run.append(member["user_id"])

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            ctx.exercised["SPEC"] += 1
            try:
                case.validate_response(
                    response, checks=CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder
                )
            except FailureGroup as group:
                failure = group.exceptions[0]
                rule_id = rule_of(failure)
                violation = violation_class(rule_id)(
                    rule_id,
                    f"generic pass over the spec's links: {failure.title}: {failure.message}",
                )
                violation.reproduction = reproduction(self.exchanges)  # type: ignore[attr-defined]
                ctx.first_violations.setdefault(rule_id, violation)
                raise violation from None

        def teardown(self) -> None:
            cleaner = ApiClient(ctx.target.base_url, ctx.target.key_a, session=client.session)
            for user_id in self.created:
                cleaner.remove(user_id)
            client.requests += cleaner.requests

    run_state_machine_as_test(hypothesis.seed(seed)(LinksOfTheSpec), settings=settings)
