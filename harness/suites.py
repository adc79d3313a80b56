"""The two suites' entry points, called with whatever budget and replay options each accepts.

Each suite exposes one function that runs it against a `Target` and returns a `SuiteResult`.
They grew separately, so their keyword arguments differ (`budget_seconds` in one, none in the
other); `run_suite` passes each only the options its signature names. What a suite cannot be
told (a time or request budget) is still enforced by `harness.guard` on the wire.
"""

from __future__ import annotations

import importlib
import inspect
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.guard import GuardRefusal
from harness.report import SuiteResult
from harness.rules import RULES
from harness.target import Target

ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "contract": ("contract_tests.runner", "run_contract"),
    "stateful": ("stateful_tests.runner", "run_stateful_suite"),
}
# The names each option may go by in a suite's signature, in order of preference.
OPTION_NAMES: dict[str, tuple[str, ...]] = {
    "seconds": ("budget_seconds", "seconds", "max_seconds", "time_budget"),
    "seed": ("seed",),
    "profile": ("profile",),
    "email_template": ("email_template",),
    "faults": ("faults",),
    "max_requests": ("max_requests", "request_budget"),
    "max_invites": ("max_invites", "invite_budget"),
    "read_only": ("read_only",),
}
INVITE_BUDGET_ENV = "MAXGOOD_INVITE_BUDGET"  # read by the stateful suite on a real server
EMAIL_TEMPLATE_ENV = "MAXGOOD_EMAIL_TEMPLATE"  # read by both suites


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


def accepted(function: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The options `function` accepts, under the names its signature uses."""
    parameters = inspect.signature(function).parameters
    kwargs: dict[str, Any] = {}
    for option, value in options.items():
        if value is None:
            continue
        for candidate in OPTION_NAMES.get(option, (option,)):
            if candidate in parameters:
                kwargs[candidate] = value
                break
    return kwargs


def supports(name: str, option: str) -> bool:
    """Whether suite `name`'s entry point takes `option` (e.g. "read_only")."""
    return bool(accepted(entry_point(name), {option: True}))


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, leave) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is not None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_suite(name: str, target: Target | None, **options: Any) -> SuiteRun:
    """Run suite `name` against `target` (None: the suite's own embedded mock, if it has one).

    A refusal of the guard (budget spent, unsafe request) or an interrupt stops the suite; what
    it found before is lost unless the suite returns it, so the result then says so. Other
    errors are the suite's own and reported as a crash.
    """
    started = time.monotonic()
    function = entry_point(name)
    kwargs = accepted(function, options)
    env = {EMAIL_TEMPLATE_ENV: options.get("email_template")}
    if options.get("max_invites") is not None:
        env[INVITE_BUDGET_ENV] = str(options["max_invites"])
    if options.get("seed") is not None:
        env["FUZZ_SEED"] = str(options["seed"])
    try:
        with environment(env):
            result = function(target, **kwargs)
    except GuardRefusal as refusal:
        return SuiteRun(_stopped(name, started, refusal.reason), stopped=refusal.reason)
    except Exception as error:  # the suite's own bug, or a server it could not cope with
        reason = f"the {name} suite stopped with {type(error).__name__}: {error}"
        return SuiteRun(_stopped(name, started, reason), stopped=reason, error=error)
    return SuiteRun(result)


def _stopped(name: str, started: float, reason: str) -> SuiteResult:
    result = SuiteResult(suite=name, seconds=time.monotonic() - started)
    for rule in RULES:
        result.skipped[rule] = f"stopped early: {reason}"
    return result
