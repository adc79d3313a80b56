"""A second, generic pass: Schemathesis's state machine over the spec's OpenAPI links.

It knows no rule of its own: it chains invite -> read/update/remove and list -> read as the
links say, and checks each answer against the spec (statuses, media types, headers, schemas)
and the stateful checks (use after free, resource availability). As everywhere in this suite,
invites use fresh emails from MAXGOOD_EMAIL_TEMPLATE, and each example removes what it created.
"""

from __future__ import annotations

import functools
from typing import Any

import hypothesis
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.stateful import run_state_machine_as_test
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


def run_generic_pass(ctx: RunContext, settings: hypothesis.settings, seed: int) -> None:
    """Run the links' state machine with key A; raises what the state machine raises."""
    client = ctx.clients["A"]
    base = _links_machine()

    class LinksOfTheSpec(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            ctx.start_example()
            self.created: list[str] = []
            self.exchanges: list[Exchange] = []

        def before_call(self, case: Any) -> None:
            if case.method.upper() == "POST" and isinstance(case.body, dict):
                # Never a generated address: a real server would send it an invitation.
                case.body["email"] = ctx.emails.fresh()

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
