"""Run the contract suite against a target and report the rules it found broken.

Schemathesis's engine drives every phase (examples, coverage, fuzzing, stateful) over every
operation of the spec with the checks of `schemathesis.toml` and `contract_tests.checks`; this
module prepares the run (the state, its fixed scenarios, the config) and turns the engine's
failures into `Finding`s that name a rule and carry a curl reproduction.
"""

from __future__ import annotations

import copy
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path

import requests
import schemathesis
from schemathesis.core.failures import CustomFailure, Failure
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

import contract_tests.checks
import contract_tests.hooks
from contract_tests import fixed
from contract_tests.profiles import effort
from contract_tests.spec import READ_ONLY_FIELDS
from contract_tests.state import RunState, activate
from harness.client import curl, curl_of
from harness.exampledb import active_database
from harness.options import RunOptions
from harness.report import Finding, SuiteResult
from harness.rules import RULES, RuleViolation
from harness.target import Target, embedded_mock
from openapi import load_api_spec

CONFIG_PATH = Path(__file__).with_name("schemathesis.toml")
SUITE = "contract"

# Built-in checks whose failures break a numbered rule; the others break the spec ("SPEC").
BUILTIN_RULES = {
    "ignored_auth": "R13",
    "missing_required_header": "R13",  # Authorization is the only required header
    "use_after_free": "R6",
    "ensure_resource_availability": "R1",
}
HEADER_RULES = {"x-request-id": "R12", "www-authenticate": "R13", "retry-after": "R7",
                "ratelimit-limit": "R7", "ratelimit-remaining": "R7", "ratelimit-reset": "R7"}
# What the suite cannot judge when an operation is not sent.
RULES_OF_WRITES = {"inviteUser": ("R2", "R7"), "updateUser": ("R4", "R5", "R11"),
                   "removeUser": ("R6",)}
# The rules this suite judges; R8 and R9 need an active member re-invited and the owner
# written to, which the stateful suite does.
CHECKED_RULES = ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R10", "R11", "R12", "R13", "R14",
                 "SPEC")


def is_rule_check(name: str) -> bool:
    """Whether a check is one of contract_tests.checks, named after its rule (r12_...)."""
    return name[:1] == "r" and name[1:2].isdigit()


def load_schema(state: RunState, seed: int, seconds: float | None,
                closed: list[str]) -> schemathesis.BaseSchema:
    """The spec, with the suite's Schemathesis settings and this run's target and effort."""
    settings = tomllib.loads(CONFIG_PATH.read_text(encoding="utf-8"))
    settings["base-url"] = state.target.base_url
    settings["auth"] = {"openapi": {"AvatarApiKey": {"bearer": state.target.key_a}}}
    settings["generation"]["max-examples"] = state.effort.max_examples
    settings["phases"]["stateful"]["max-steps"] = state.effort.stateful_steps
    settings["seed"] = seed
    if active_database() is not None:  # a fuzz run's example database (harness.exampledb)
        del settings["generation"]["database"]
    if seconds is not None and state.effort.fill_budget:
        settings["max-time"] = max(1, int(seconds * 0.85) - 5)
    operations = settings.setdefault("operations", [])
    if closed:
        operations.append({"include-operation-id": closed, "enabled": False})
    if state.read_only or not state.target.is_embedded:
        # A method the spec does not list is a write to `/users` that names no member of the
        # run; a real server's data must not meet one (the mock's may).
        collection = ["listUsers", "inviteUser"] if not state.read_only else [
            "listUsers", "inviteUser", "getUser", "updateUser", "removeUser"]
        operations.append({"include-operation-id": collection,
                           "phases": {"coverage": {"unexpected-methods": ["options"]}}})
    config = schemathesis.Config.from_dict(settings, base_dir=str(CONFIG_PATH.parent))
    return schemathesis.openapi.from_dict(copy.deepcopy(load_api_spec()), config=config)


def closed_writes(state: RunState) -> dict[str, str]:
    """The write operations this run may not send, each with the reason."""
    if state.read_only:
        return dict.fromkeys(RULES_OF_WRITES, "read-only run")
    if state.writable_ids():
        return {}
    reason = "no member of this run to name (its invites were refused)"
    return {"updateUser": reason, "removeUser": reason}


def run_contract(
    target: Target | None = None,
    *,
    seed: int | None = None,
    profile: str | None = None,
    budget_seconds: float | None = None,
    email_template: str | None = None,
    max_invites: int | None = None,
    max_requests: int | None = None,
    read_only: bool = False,
    faults: tuple[str, ...] = (),
) -> SuiteResult:
    """Run the contract suite against `target`, by default the embedded mock (with `faults` on).

    `seed` and `profile` default to FUZZ_SEED and HYPOTHESIS_PROFILE; `budget_seconds`,
    `max_requests` and `max_invites` (successful invites) bound the run, which then still removes
    what it created; `email_template` makes the invited addresses (default
    MAXGOOD_EMAIL_TEMPLATE); `read_only` sends only reads.
    """
    if target is None:
        with embedded_mock(faults) as mock:
            return run_contract(mock, seed=seed, profile=profile, budget_seconds=budget_seconds,
                                email_template=email_template, max_invites=max_invites,
                                max_requests=max_requests, read_only=read_only)
    if faults:
        raise ValueError("faults apply only to the embedded mock this runner starts (target=None)")
    started = time.monotonic()
    if seed is None:
        seed = RunOptions.resolve().seed
    _, chosen = effort(profile)
    # A time budget is a target for the fuzz profile (Schemathesis's max-time, see load_schema),
    # a limit for the others; either way the clean-up after the engine needs a share of it.
    limit = None if budget_seconds is None or chosen.fill_budget else max(
        1.0, budget_seconds * 0.85 - 5)
    state = RunState(target, chosen, email_template, max_invites=max_invites,
                     max_requests=max_requests, seconds=limit, read_only=read_only)
    result = SuiteResult(suite=SUITE)
    collector = _Collector(state, result, seed)
    activate(state)
    try:
        fixed.before(state)
        closed = closed_writes(state)
        for operation, reason in closed.items():
            for rule in RULES_OF_WRITES[operation]:
                result.skip(rule, f"{operation} not sent: {reason}", configured=state.read_only,
                            replace=False)
        stream = from_schema(load_schema(state, seed, budget_seconds, list(closed))).execute()
        for event in stream:
            collector.on(event)
            if collector.budget_spent:
                stream.stop()
    finally:
        activate(None)
        fixed.after(state)
    for violation, reproduction in state.violations:
        collector.add(violation.rule, str(violation), reproduction)
    result.exercised.update(state.exercised)
    for rule, reason in state.skipped.items():
        result.skip(rule, reason, configured=rule in state.configured)
    for rule in set(RULES) - set(CHECKED_RULES):
        result.skip(rule, "judged by the stateful suite, not this one", configured=True)
    result.requests += state.requests
    result.invites = state.invites
    result.seconds = time.monotonic() - started
    return result


class _Collector:
    """Turns engine events into findings, one per distinct rule and message."""

    def __init__(self, state: RunState, result: SuiteResult, seed: int) -> None:
        self.state = state
        self.result = result
        self.seed = seed
        self.seen: set[tuple[str, ...]] = set()
        self.budget_spent = False

    def on(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            self.result.requests += len(event.recorder.interactions)
            self.scenario(event.recorder)
        elif isinstance(event, events.NonFatalError):
            error = getattr(event.value, "original_error", None) or event.value
            if isinstance(error, contract_tests.hooks.InviteBudgetSpent):
                self.result.skipped["R7"] = f"later invites were not sent: {error}"
                return
            if isinstance(error, contract_tests.hooks.BudgetSpent):
                # Its own share of the budget ran out: the run ends as it promised.
                self.budget_spent = True
                return
            if error is not None and not isinstance(error, requests.RequestException):
                # The suite's own error (a hook, a check), not the server's: the operation was
                # not judged, which is no finding about the server, and no pass either.
                self.result.incomplete.append(
                    f"the contract suite could not test {event.label}: "
                    f"{type(error).__name__}: {error}")
                return
            self.add("SPEC", f"SPEC {RULES['SPEC']}: the suite could not test {event.label}: "
                     f"{event.info}", "")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.Interrupted) and not self.budget_spent:
            # A refusal of the guard, or Ctrl-C, not the run's own budget (`stream.stop()`
            # below): the engine stopped before its end.
            self.result.incomplete.append("the contract suite was interrupted before its end")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                self.add(*self.describe("", failure, None), "")

    def scenario(self, recorder: ScenarioRecorder) -> None:
        for case_id, nodes in recorder.checks.items():
            for node in nodes:
                if not is_rule_check(node.name):
                    # the rule checks count themselves, only when they had something to judge
                    self.result.exercised[BUILTIN_RULES.get(node.name, "SPEC")] += 1
                if node.failure_info is not None:
                    self.failure(recorder, node.name, node.failure_info.failure, case_id)

    def failure(self, recorder: ScenarioRecorder, check: str, failure: Failure, case_id: str
                ) -> None:
        """A check's failure as a finding, reproduced by the request that showed it."""
        case_id = failure.case_id or case_id
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        case = recorder.cases[case_id].value if case_id in recorder.cases else None
        rule, message = self.describe(
            check, failure, response.status_code if response is not None else None,
            keyed=interaction is not None and self.state.sent_with_key_a(interaction),
            updated=case.body if case is not None and case.method == "PUT" else None,
        )
        exception = getattr(failure, "exception", None)
        if isinstance(exception, contract_tests.checks.ProbeViolation):
            reproduction = curl_of(exception.request)
        elif interaction is not None:
            request = interaction.request
            reproduction = curl(request.method, request.uri, request.headers, request.body)
        else:
            reproduction = ""
        self.add(rule, message, reproduction, (rule, check, failure.operation or ""))

    def describe(self, check: str, failure: Failure, status: int | None, *, keyed: bool = True,
                 updated: object = None) -> tuple[str, str]:
        """The rule a failure breaks, and a message that starts with it."""
        exception = getattr(failure, "exception", None)
        if isinstance(failure, CustomFailure) and isinstance(exception, RuleViolation):
            return exception.rule, str(exception)
        rule = BUILTIN_RULES.get(check, "SPEC")
        if check == "positive_data_acceptance" and getattr(failure, "status_code", None) == 401:
            rule = "R13"  # a valid key refused
        if check == "negative_data_rejection" and not keyed:
            rule = "R13"  # a request without a valid key accepted
        elif check == "negative_data_rejection" and isinstance(updated, dict) and set(
            updated
        ) & set(READ_ONLY_FIELDS):
            rule = "R4"  # an update with a profile or read-only field accepted
        missing = [h.lower() for h in getattr(failure, "missing_headers", ())]
        if missing:
            rule = next((HEADER_RULES[h] for h in missing if h in HEADER_RULES), rule)
        if check in ("content_type_conformance", "response_schema_conformance") and (
            status or 0
        ) >= 400:
            rule = "R12"  # every 4xx/5xx is a problem detail of the spec's Problem schema
        text = f"{failure.title}: {failure.message}".strip() if failure.message else failure.title
        where = f" ({failure.operation})" if failure.operation else ""
        return rule, f"{rule} {RULES[rule]}: [{check}] {text}{where}"

    def add(self, rule: str, message: str, reproduction: str,
            kind: tuple[str, ...] | None = None) -> None:
        """Add a finding unless one of its kind (by default: its rule and message) is in."""
        message, reproduction = self.redact(message), self.redact(reproduction)
        kind = kind or (rule, message)
        if kind in self.seen:
            return
        self.seen.add(kind)
        if reproduction:
            reproduction += f"\n# replay the run with FUZZ_SEED={self.seed}"
        self.result.findings.append(Finding(rule, SUITE, message, reproduction))

    def redact(self, text: str) -> str:
        for key in (self.state.target.key_a, self.state.target.key_b):
            if key:
                text = text.replace(key, "<redacted>")
        return text


def summary(result: SuiteResult) -> Iterable[str]:
    """Lines a person reads after a run."""
    yield (f"contract suite: {len(result.findings)} finding(s), {result.requests} requests, "
           f"{result.seconds:.1f}s")
    yield "exercised: " + ", ".join(f"{rule} {n}" for rule, n in sorted(result.exercised.items()))
    for rule, reason in sorted(result.skipped.items()):
        yield f"skipped {rule}: {reason}"
    for finding in result.findings:
        yield ""
        yield finding.message
        if finding.reproduction:
            yield finding.reproduction
