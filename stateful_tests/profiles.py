"""How hard a stateful run tries, by Hypothesis profile name (HYPOTHESIS_PROFILE=dev|ci|fuzz)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings
from hypothesis.internal.conjecture import engine
from hypothesis.reporting import with_reporter

from harness import options
from harness.exampledb import active_database


@dataclass(frozen=True)
class Effort:
    """Examples and steps of the model's state machine and of the generic (links) pass."""

    examples: int
    steps: int
    generic_examples: int
    generic_steps: int
    shrink_seconds: int  # then the failure is reported as far as it is shrunk


PROFILES: dict[str, Effort] = {
    "dev": Effort(examples=15, steps=15, generic_examples=5, generic_steps=6, shrink_seconds=10),
    "ci": Effort(examples=40, steps=20, generic_examples=10, generic_steps=8, shrink_seconds=6),
    # fuzz repeats batches of this size, each with the next seed, until the time budget ends.
    "fuzz": Effort(
        examples=100, steps=40, generic_examples=40, generic_steps=12, shrink_seconds=60
    ),
}
DEFAULT_FUZZ_SECONDS = 120.0

for _name, _effort in PROFILES.items():
    settings.register_profile(
        _name,
        max_examples=_effort.examples,
        stateful_step_count=_effort.steps,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def chosen_profile(name: str | None = None) -> str:
    """The named profile, else HYPOTHESIS_PROFILE, else ci (`harness.options`)."""
    return options.chosen_profile(name, PROFILES)


def machine_settings(name: str, *, examples: int | None = None, shrink: bool = True) -> settings:
    """The profile's Hypothesis settings; no shrinking where every replay spends real invites."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        settings.get_profile(name),
        max_examples=examples or PROFILES[name].examples,
        phases=phases,
        database=active_database(),  # a fuzz run's example database, if it keeps one
    )


@contextlib.contextmanager
def shrinking_for_at_most(seconds: float) -> Iterator[list[str]]:
    """Cap Hypothesis's shrinking time (a documented, monkeypatchable limit); collect its output.

    A stateful example costs dozens of requests, so an uncapped shrink can take minutes.
    """
    saved = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    lines: list[str] = []
    try:
        with with_reporter(lines.append):
            yield lines
    finally:
        engine.MAX_SHRINKING_SECONDS = saved
