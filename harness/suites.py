"""The suites a run can choose, and one way to call them.

Each suite exposes one function that runs it against a `Target` (None: an embedded mock it
starts, with `faults` on) and returns a `SuiteResult`. Both take the same keyword options:

    seed, profile         replay a run; how hard it tries (dev|ci|fuzz)
    budget_seconds        no example starts after it
    email_template        the addresses it invites ({token} replaced)
    max_invites           successful invites it may spend
    max_requests          requests it may send (`harness.guard` also enforces it on the wire)
    read_only             send only reads (a suite that cannot says so, rule by rule)
    faults                the faults of the embedded mock it starts

`run_suite` calls one and turns a guard's refusal or a crash into a result that says so: a
suite stopped before its end, or never started (`not_started`), leaves its result incomplete,
and a run with an incomplete result never passes.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.guard import GuardRefusal
from harness.options import RunOptions
from harness.report import SuiteResult
from harness.rules import RULES
from harness.target import Target

# The least time a suite needs to judge every rule it judges, with any profile, against the
# embedded mock on a loaded two-core machine: a share below it is said, with the budget that
# would suffice, when some rule was left unjudged.
MIN_SECONDS = {"stateful": 15.0, "contract": 20.0}

ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "contract": ("contract_tests.runner", "run_contract"),
    "stateful": ("stateful_tests.runner", "run_stateful_suite"),
}


class SuiteUnavailable(RuntimeError):
    """The suite's package or entry point cannot be imported."""


@dataclass
class SuiteRun:
    """A suite's result, and how its run ended when it did not end by itself."""

    result: SuiteResult
    stopped: str | None = None  # why the suite was stopped early (budget, guard, crash)
    error: Exception | None = None  # what the suite raised, when it crashed


def entry_point(name: str) -> Callable[..., SuiteResult]:
    module_name, function = ENTRY_POINTS[name]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, function)
    except (ImportError, AttributeError) as error:
        raise SuiteUnavailable(f"the {name} suite ({module_name}.{function}) cannot be loaded: "
                               f"{error}") from error


def run_suite(
    name: str,
    target: Target | None,
    *,
    seconds: float | None = None,
    seed: int | None = None,
    profile: str | None = None,
    email_template: str | None = None,
    max_invites: int | None = None,
    max_requests: int | None = None,
    read_only: bool = False,
    faults: tuple[str, ...] = (),
) -> SuiteRun:
    """Run suite `name` against `target` (None: the suite's own embedded mock, with `faults`).

    A refusal of the guard (budget spent, unsafe request) stops the suite; what it found before
    is lost unless the suite returns it, so the result then says so. Other errors are the
    suite's own, or a server it could not cope with, and reported as a crash.
    """
    started = time.monotonic()
    function = entry_point(name)
    # Resolved once here (the seed and email template from the environment when not given),
    # and handed down whole: every suite of a run replays from the same seed.
    options = RunOptions.resolve(seed=seed, profile=profile, budget_seconds=seconds,
                                 email_template=email_template, max_invites=max_invites,
                                 max_requests=max_requests, read_only=read_only, faults=faults)
    try:
        result = function(target, **options.suite_kwargs())
    except GuardRefusal as refusal:
        why = f"the {name} suite was stopped by the guard: {refusal.reason}"
        return SuiteRun(_stopped(name, started, refusal.reason, why), stopped=refusal.reason)
    except Exception as error:
        reason = f"the {name} suite stopped with {type(error).__name__}: {error}"
        return SuiteRun(_stopped(name, started, reason, reason), stopped=reason, error=error)
    return SuiteRun(result)


def not_started(name: str, reason: str) -> SuiteResult:
    """The result of a suite that never ran: every rule unjudged, the run incomplete."""
    result = SuiteResult(suite=name)
    for rule in RULES:
        result.skip(rule, f"did not run: {reason}")
    result.incomplete.append(f"the {name} suite did not run: {reason}")
    return result


def shortfall(shares: dict[str, float], spent: float, total: float, unit: str) -> list[str]:
    """The budget that would let each suite given less than it needs judge every rule.

    shares: the seconds each suite was given; spent: seconds used before the suites started;
    total: the run's budget in seconds; unit: how to name a budget in minutes ("--max-minutes
    {}") for the person who reads it.
    """
    short = {name: seconds for name, seconds in shares.items()
             if seconds < MIN_SECONDS.get(name, 0.0)}
    if not short:
        return []
    # Every suite given at least what it needs, after what was spent before them.
    needed = max(total, spent + sum(max(seconds, MIN_SECONDS.get(name, 0.0))
                                    for name, seconds in shares.items()))
    minutes = math.ceil(needed / 6) / 10  # in tenths of a minute, rounded up
    given = ", ".join(f"the {name} suite {seconds:.0f}s of the {MIN_SECONDS[name]:.0f}s it "
                      "needs" for name, seconds in short.items())
    return [f"the budget was too small to judge every rule ({given}): "
            f"{unit.format(f'{minutes:g}')} would suffice"]


def _stopped(name: str, started: float, reason: str, why: str) -> SuiteResult:
    result = SuiteResult(suite=name, seconds=time.monotonic() - started)
    for rule in RULES:
        result.skip(rule, f"stopped early: {reason}")
    result.incomplete.append(why)
    return result
