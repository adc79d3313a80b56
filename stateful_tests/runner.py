"""Run the stateful suite against a target and report the rules it saw broken.

`run_stateful_suite(target)` records both Avatars' members, runs the model's state machine
(then, by default, the generic pass over the spec's links) and turns every shrunk failure into
a Finding naming its rule, with the steps, a curl reproduction (keys redacted) and the seed to
replay it. Without a target it starts the embedded mock with limits small enough to reach (R7).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import requests
from hypothesis.stateful import run_state_machine_as_test

from harness.client import ApiClient, ApiError, reproduction
from harness.guard import Budget
from harness.options import SEED_ENV, EmailFactory, RunOptions
from harness.report import Finding, SuiteResult
from harness.rules import RULES, RuleViolation
from harness.target import Target, embedded_mock

from .context import RunContext
from .generic import run_generic_pass
from .machine import FRAME_PAGE_LIMIT, TwoAvatars
from .model import shape_problems
from .profiles import (
    DEFAULT_FUZZ_SECONDS,
    PROFILES,
    chosen_profile,
    machine_settings,
    shrinking_for_at_most,
)

SUITE = "stateful"
DEFAULT_INVITE_BUDGET = 40  # per run, against a server whose invite windows cannot be moved
INVITES_PER_EXAMPLE = 4  # against a real server (a precondition of every invite rule)
# A step, with its frame check (both Avatars listed, one member read), costs a few requests;
# the first batch is sized by this, the next ones by what the last batch spent.
REQUESTS_PER_STEP = 8
FIRST_BATCH = 20  # with a time budget: the first batch's size, which times the next ones
# ... against a server other than the embedded mock, whose examples may take seconds each (a
# slow server, an Avatar of many pages, each walked by the frame checks): a small first batch
# keeps the suite within its share of the time.
FIRST_BATCH_ELSEWHERE = 2
MIN_BATCH = 5  # fuzz: a batch smaller than this is not worth starting
GENERIC_SECONDS_PER_EXAMPLE = 0.5  # a generous estimate, to keep the generic pass in budget
MIN_GENERIC_STEPS = 3  # an invite, and something that follows it
# The embedded mock this runner starts, with limits an example reaches (R7): the hourly limit
# in the enterprise Avatar (A), the seat limit in the essential one (B).
STATEFUL_MOCK_CONFIG: dict[str, Any] = {
    "seat_limits": {"essential": 10, "enterprise": 40},
    "invites_per_hour": 12,
    "safety_cap_per_hour": 100_000,
}
# CONTRACT.md, "Mock defaults": the seat limits of an embedded mock started with its defaults.
MOCK_DEFAULT_SEAT_LIMITS = {"essential": 25, "enterprise": 500}
READ_ONLY_SKIP = "the stateful suite invites, updates and removes: a read-only run leaves it out"
CROSS_AVATAR_SKIP = "needs a second Avatar's key (MAXGOOD_API_KEY_B)"
OWNER_PROBE_SKIP = (
    "probing the owner writes a member present before the run: only on a target whose state "
    "can be restored (the embedded mock)"
)


class TargetUnusable(RuntimeError):
    """The target's members cannot even be listed with the keys given."""


def run_stateful_suite(
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
    seat_limits: dict[str, int] | None = None,
    generic: bool = True,
) -> SuiteResult:
    """Run the stateful suite against `target` (or the embedded mock, with `faults` on).

    seed: the Hypothesis seed (default FUZZ_SEED, else random; every finding names it).
    profile: dev|ci|fuzz (default HYPOTHESIS_PROFILE, else ci); fuzz repeats batches until
    `budget_seconds` (default 120), and with any profile no example starts after it.
    email_template: the addresses it invites (default MAXGOOD_EMAIL_TEMPLATE, else a reserved
    domain). max_invites, max_requests: no batch starts that could not be paid for; a real
    target's invites default to a small budget. read_only: the suite writes, so it does not run.
    seat_limits: {"A": n, "B": m} where a real target's seat limits are known (R7).
    """
    if read_only:
        result = SuiteResult(suite=SUITE)
        for rule in RULES:
            result.skip(rule, READ_ONLY_SKIP, configured=True)
        return result
    budget = Budget(max_requests=max_requests, max_invites=max_invites,
                    seconds=budget_seconds)
    emails = EmailFactory(email_template)
    if target is None:
        with embedded_mock(faults, **STATEFUL_MOCK_CONFIG) as started:
            return _run(started, profile=profile, seed=seed, budget=budget, emails=emails,
                        seat_limits=seat_limits,
                        mock_seat_limits=STATEFUL_MOCK_CONFIG["seat_limits"], generic=generic)
    if faults:
        raise ValueError("faults apply only to the embedded mock this runner starts (target=None)")
    return _run(target, profile=profile, seed=seed, budget=budget, emails=emails,
                seat_limits=seat_limits,
                # a mock shared by a campaign's workers is served with this runner's limits
                mock_seat_limits=STATEFUL_MOCK_CONFIG["seat_limits"] if target.shared
                else MOCK_DEFAULT_SEAT_LIMITS,
                generic=generic)


def _run(
    target: Target,
    *,
    profile: str | None,
    seed: int | None,
    budget: Budget,
    emails: EmailFactory,
    seat_limits: dict[str, int] | None,
    mock_seat_limits: dict[str, int],
    generic: bool,
) -> SuiteResult:
    name = chosen_profile(profile)
    effort = PROFILES[name]
    first_seed = _seed(seed)
    started_at = time.monotonic()
    seconds = budget.seconds or (DEFAULT_FUZZ_SECONDS if name == "fuzz" else None)
    ctx = _context(target, seat_limits, mock_seat_limits, emails, budget.max_invites)
    result = SuiteResult(suite=SUITE)
    malformed = _malformed_starting_members(ctx)
    if malformed is not None:
        result.findings.append(malformed)
        result.requests = ctx.requests
        result.seconds = time.monotonic() - started_at
        return result
    if not target.has_two_avatars:
        result.skip("R14", CROSS_AVATAR_SKIP, configured=True)
    if not ctx.can_restore:
        result.skip("R9", OWNER_PROBE_SKIP, configured=True)
    # Against a real server every replay spends real invites: no shrinking, a bounded budget.
    real = target.admin_url is None
    shrink = not real
    # The model's machine gets the time budget but a fifth; the generic pass the rest.
    machine_until = None if seconds is None else started_at + seconds * (0.8 if generic else 1.0)
    first_batch = FIRST_BATCH_ELSEWHERE if real else FIRST_BATCH
    examples = effort.examples if machine_until is None else min(effort.examples, first_batch)
    requests_each = effort.steps * REQUESTS_PER_STEP  # until a batch has measured it
    # The generic pass keeps a fifth of the invites, as of the time: enough for an example.
    reserve = 0
    if generic and ctx.invite_budget is not None:
        reserve = max(MIN_GENERIC_STEPS, ctx.invite_budget // 5)
    examples = _affordable(ctx, budget, examples, INVITES_PER_EXAMPLE, requests_each, reserve)
    if examples == 0:
        result.incomplete.append(_too_small(
            "the model's state machine", ctx, budget, INVITES_PER_EXAMPLE + reserve,
            requests_each))
    # A failure is shrunk for a quarter of the time budget at most.
    shrink_seconds = (
        effort.shrink_seconds
        if seconds is None
        else min(effort.shrink_seconds, max(2.0, seconds / 4))
    )
    batch_seed = first_seed
    while examples > 0:
        began, requests_before = time.monotonic(), ctx.requests
        machine = type("TwoAvatarsRun", (TwoAvatars,), {"ctx": ctx, "__module__": __name__})
        settings = machine_settings(name, examples=examples, shrink=shrink)
        _collect(
            result,
            ctx,
            functools.partial(
                run_state_machine_as_test, hypothesis.seed(batch_seed)(machine), settings=settings
            ),
            shrink_seconds,
            batch_seed,
            name,
        )
        if name != "fuzz" or machine_until is None or result.findings:
            break
        # fuzz: the next batch, with the next seed, sized to end by the deadline.
        per_example = (time.monotonic() - began) / examples
        requests_each = max(1, (ctx.requests - requests_before) // examples)
        left = machine_until - time.monotonic()
        examples = min(effort.examples, int(left / per_example) if per_example > 0 else 0)
        examples = _affordable(ctx, budget, examples, INVITES_PER_EXAMPLE, requests_each,
                               reserve)
        examples = examples if examples >= (1 if real else MIN_BATCH) else 0
        batch_seed += 1
    if generic and not result.findings:
        # Each step invites at most once: an example costs up to its steps in invites.
        steps = effort.generic_steps
        examples = _affordable(ctx, budget, effort.generic_examples, steps,
                               steps * REQUESTS_PER_STEP)
        if examples == 0 and ctx.invite_budget is not None:
            # Fewer invites left than a whole example's steps: one shorter example.
            steps = min(steps, ctx.invite_budget - ctx.invites_used)
            examples = _affordable(ctx, budget, 1, max(1, steps), steps * REQUESTS_PER_STEP
                                   ) if steps >= MIN_GENERIC_STEPS else 0
        if examples == 0:
            result.incomplete.append(_too_small(
                "the generic pass over the spec's links", ctx, budget, MIN_GENERIC_STEPS,
                MIN_GENERIC_STEPS * REQUESTS_PER_STEP))
        if seconds is not None:
            left = started_at + seconds - time.monotonic()
            examples = min(examples, max(MIN_BATCH, int(left / GENERIC_SECONDS_PER_EXAMPLE)))
        links_settings = hypothesis.settings(
            machine_settings(name, examples=max(1, examples), shrink=shrink),
            stateful_step_count=steps,
        )
        if examples > 0:
            _collect(
                result,
                ctx,
                functools.partial(run_generic_pass, ctx, links_settings, first_seed),
                shrink_seconds,
                first_seed,
                name,
            )
    result.exercised.update(ctx.exercised)
    if not target.has_two_avatars:
        # With one key, R14's checks still look at every answer (no membership of another
        # Avatar may show) and a leak still fails, but R14 is not shown as passed: its point,
        # another Avatar's data, was never there to leak.
        del result.exercised["R14"]
    result.requests = ctx.requests
    result.invites = ctx.invites_used
    result.seconds = time.monotonic() - started_at
    return result


def _malformed_starting_members(ctx: RunContext) -> Finding | None:
    """A SPEC finding when the members listed before the run cannot even be modelled."""
    for avatar, members in ctx.baseline.items():
        for member in members:
            problems = shape_problems(member)
            if problems:
                ctx.exercised["SPEC"] += 1
                return Finding(
                    rule="SPEC",
                    suite=SUITE,
                    message=f"SPEC {RULES['SPEC']}: the list of {avatar} before the run: "
                    + "; ".join(problems),
                    reproduction=reproduction(ctx.clients[avatar].exchanges),
                )
    return None


def _affordable(ctx: RunContext, budget: Budget, examples: int, invites_each: int,
                requests_each: int, reserve: int = 0) -> int:
    """As many examples as the invites (but `reserve`) and requests left pay for, at most
    `examples`."""
    if ctx.invite_budget is not None:
        left = ctx.invite_budget - ctx.invites_used - reserve
        examples = min(examples, max(0, left) // invites_each)
    if budget.max_requests is not None:
        examples = min(examples, max(0, budget.max_requests - ctx.requests) // requests_each)
    return examples


def _too_small(what: str, ctx: RunContext, budget: Budget, invites: int,
               requests_each: int) -> str:
    """Why `what` did not run: the budget left, and the budget that would pay for an example."""
    short = []
    if ctx.invite_budget is not None and ctx.invite_budget - ctx.invites_used < invites:
        short.append(f"{ctx.invite_budget - ctx.invites_used} invite(s) left, {invites} would "
                     "suffice")
    if budget.max_requests is not None and budget.max_requests - ctx.requests < requests_each:
        short.append(f"{budget.max_requests - ctx.requests} request(s) left, {requests_each} "
                     "would suffice")
    return (f"the budget given to the stateful suite pays for no example of {what}: "
            f"{'; '.join(short) or 'none left'}")


def _seed(seed: int | None) -> int:
    return RunOptions.resolve(seed=seed).seed


def _context(
    target: Target,
    seat_limits: dict[str, int] | None,
    mock_seat_limits: dict[str, int],
    emails: EmailFactory,
    max_invites: int | None,
) -> RunContext:
    """Clients for each key, and the members of each Avatar before the run."""
    session = requests.Session()
    clients = {"A": ApiClient(target.base_url, target.key_a, session=session, name="A")}
    if target.key_b:
        clients["B"] = ApiClient(target.base_url, target.key_b, session=session, name="B")
    baseline: dict[str, list[dict[str, Any]]] = {}
    for avatar, client in clients.items():
        try:
            baseline[avatar] = client.list_all(FRAME_PAGE_LIMIT)
        except ApiError as error:
            raise TargetUnusable(
                f"key {avatar} cannot list the members of its Avatar: "
                f"{error.exchange.status} {error.exchange.text[:300]}"
            ) from error
    ctx = RunContext(
        target=target,
        clients=clients,
        baseline=baseline,
        seat_limits=dict(seat_limits or {}),
        emails=emails,
        invite_budget=max_invites,
    )
    if target.admin_url is not None:
        ctx.starting_export = ctx.admin_call("GET", "/state")
        ctx.allow_bursts = True
        if seat_limits is None:
            ctx.seat_limits = _mock_seat_limits(ctx, mock_seat_limits)
    else:
        if max_invites is None:
            ctx.invite_budget = DEFAULT_INVITE_BUDGET
        ctx.invites_per_example = INVITES_PER_EXAMPLE
    return ctx


def _mock_seat_limits(ctx: RunContext, by_type: dict[str, int]) -> dict[str, int | None]:
    """The seat limit of each Avatar of the embedded mock, from its type (admin state export)."""
    assert ctx.starting_export is not None
    types = {a["avatar_id"]: a.get("type") for a in ctx.starting_export.get("avatars", [])}
    limits: dict[str, int | None] = {}
    for avatar, members in ctx.baseline.items():
        avatar_id = members[0]["membership"]["avatar_id"] if members else None
        limits[avatar] = by_type.get(types.get(avatar_id) or "")
    return limits


def _collect(
    result: SuiteResult,
    ctx: RunContext,
    run: Any,
    shrink_seconds: float,
    seed: int,
    profile: str,
) -> None:
    """Run one pass; add a Finding per rule it saw broken."""
    ctx.first_violations.clear()
    try:
        with shrinking_for_at_most(shrink_seconds):
            run()
    except BaseException as error:
        violations = list(_violations(error))
        flaky = isinstance(error, hypothesis.errors.FlakyFailure)
        if not violations and isinstance(error, hypothesis.errors.Flaky):
            # Against a real server a replay may not repeat what the first run saw.
            violations, flaky = list(ctx.first_violations.values()), True
        if not violations:
            raise
        seen = result.failed_rules
        for violation in violations:
            if violation.rule in seen:
                continue
            seen.add(violation.rule)
            result.findings.append(_finding(violation, seed, profile, flaky))


def _violations(error: BaseException) -> Iterator[RuleViolation]:
    if isinstance(error, RuleViolation):
        yield error
    elif isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _violations(inner)


def _finding(violation: RuleViolation, seed: int, profile: str, flaky: bool) -> Finding:
    steps = [note for note in getattr(violation, "__notes__", []) if not note.startswith("Failing")]
    message = str(violation)
    if steps:
        message += "\n\nSteps:\n  " + "\n  ".join(steps)
    if flaky:
        message += "\n\n(The failure did not repeat when the steps were run again.)"
    # Hypothesis mixes constants from the loaded modules' source into what it generates, so a
    # seed replays exactly through the same entry point (make fuzz, the gate, pytest ...).
    message += f"\n\nReplay: {SEED_ENV}={seed} HYPOTHESIS_PROFILE={profile} (same entry point)"
    return Finding(
        rule=violation.rule,
        suite=SUITE,
        message=message,
        reproduction=getattr(violation, "reproduction", ""),
    )
