"""How hard a contract run tries, by Hypothesis profile name (HYPOTHESIS_PROFILE=dev|ci|fuzz)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.options import chosen_profile


@dataclass(frozen=True)
class Effort:
    """Examples per operation for the fuzzing phase, and how many cases the R13 probes replay."""

    max_examples: int
    auth_probes_per_phase: int  # cases per operation and phase sent again without a valid key
    stateful_steps: int
    fill_budget: bool = False  # given a time budget, keep fuzzing until it is spent


PROFILES: dict[str, Effort] = {
    "dev": Effort(max_examples=15, auth_probes_per_phase=2, stateful_steps=6),
    "ci": Effort(max_examples=40, auth_probes_per_phase=4, stateful_steps=10),
    "fuzz": Effort(max_examples=300, auth_probes_per_phase=10, stateful_steps=20,
                   fill_budget=True),
}



def effort(name: str | None = None) -> tuple[str, Effort]:
    """The named profile, else HYPOTHESIS_PROFILE, else ci (`harness.options`)."""
    chosen = chosen_profile(name, PROFILES)
    return chosen, PROFILES[chosen]
