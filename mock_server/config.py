"""The mock's settings: every limit of the contract, configurable."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

ANY_ORIGIN = "*"


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
    state_file: Path | str | None = None  # loaded at start when it exists, saved at exit
    # What surrounds the behaviour: a browser's CORS, the access log, the request journal.
    cors: bool = True
    cors_origins: tuple[str, ...] = (ANY_ORIGIN,)
    access_log: bool = False  # one line per request on stdout (`maxgood-mock` turns it on)
    journal_size: int = 500  # the last requests kept for GET /_mock/requests
    chaos: str | None = None  # e.g. "latency=50-200,error-rate=0.1,drop-rate=0.05,seed=7"

    def __post_init__(self) -> None:
        # A config that travelled as JSON (to granian's worker) comes back with lists.
        for item in fields(self):
            if item.name in ("faults", "cors_origins"):
                object.__setattr__(self, item.name, tuple(getattr(self, item.name)))
