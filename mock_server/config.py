"""The mock's settings: every limit of the contract, configurable."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class MockConfig:
    """Limits, faults and the seed; the defaults are the contract's (assumptions in the spec)."""

    seat_limits: dict[str, int] = field(
        default_factory=lambda: {"essential": 25, "enterprise": 500}
    )
    invites_per_hour: int = 60
    safety_cap_per_hour: int = 600
    max_body_bytes: int = 64 * 1024
    admin: bool = True
    admin_token: str | None = None  # when set, /_mock answers only with it in X-Admin-Token
    faults: tuple[str, ...] = ()
    seed: Path | str | None = None  # None: the default seed
