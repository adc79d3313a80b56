"""Chaos settings and their seeded sequence of draws (pure: the HTTP side is http/chaos.py)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

OK, FAIL, DROP = "ok", "fail", "drop"


@dataclass(frozen=True)
class ChaosSettings:
    """What chaos does; all zero is off."""

    latency_ms: tuple[int, int] = (0, 0)
    error_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None  # None: one is picked at random, and shown by GET /_mock/chaos
    retry_after: int = 1

    def __post_init__(self) -> None:
        low, high = self.latency_ms
        if not 0 <= low <= high <= 60_000:
            raise ValueError("latency is MS or MIN-MAX milliseconds, from 0 to 60000")
        for name in ("error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} is a share from 0 to 1")
        if self.error_rate + self.drop_rate > 1.0:
            raise ValueError("error-rate and drop-rate add up to more than 1")
        if not 1 <= self.retry_after <= 3600:
            raise ValueError("retry-after is whole seconds from 1 to 3600")

    @classmethod
    def parse(cls, text: str) -> ChaosSettings:
        """`latency=50-200,error-rate=0.1,drop-rate=0.05,seed=7,retry-after=2`."""
        fields: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, equals, value = part.partition("=")
            name = name.strip().lower().replace("_", "-")
            try:
                if not equals:
                    raise ValueError
                if name == "latency":
                    low, _, high = value.removesuffix("ms").partition("-")
                    fields["latency_ms"] = (int(low), int(high or low))
                elif name in ("error-rate", "drop-rate"):
                    fields[name.replace("-", "_")] = float(value)
                elif name in ("seed", "retry-after"):
                    fields[name.replace("-", "_")] = int(value)
                else:
                    raise KeyError(name)
            except KeyError:
                raise ValueError(f"unknown chaos setting {name!r} (latency, error-rate, "
                                 "drop-rate, seed, retry-after)") from None
            except ValueError:
                raise ValueError(f"chaos setting {part!r} is not NAME=NUMBER") from None
        return cls(**fields)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ChaosSettings:
        latency = body.get("latency_ms") or {}
        return cls(
            latency_ms=(int(latency.get("min", 0)), int(latency.get("max", latency.get("min", 0)))),
            error_rate=float(body.get("error_rate", 0.0)),
            drop_rate=float(body.get("drop_rate", 0.0)),
            seed=body.get("seed"),
            retry_after=int(body.get("retry_after", 1)),
        )

    @property
    def active(self) -> bool:
        return self.latency_ms[1] > 0 or self.error_rate > 0 or self.drop_rate > 0


@dataclass(frozen=True)
class Draw:
    delay_s: float
    outcome: str


class Chaos:
    """The settings and their seeded sequence of draws, behind one lock."""

    def __init__(self, settings: ChaosSettings) -> None:
        self.lock = threading.Lock()
        self.configure(settings)

    def configure(self, settings: ChaosSettings) -> None:
        """New settings, and the sequence starts again from their seed."""
        with self.lock:
            self.settings = settings
            self.active = settings.active
            self.seed = settings.seed if settings.seed is not None else random.randrange(2**32)
            self.random = random.Random(self.seed)
            self.draws = 0

    def draw(self) -> Draw:
        with self.lock:
            s = self.settings
            # Always two numbers per request, whatever the settings, so the sequence replays.
            delay = self.random.uniform(*s.latency_ms) / 1000
            roll = self.random.random()
            self.draws += 1
        outcome = DROP if roll < s.drop_rate else FAIL if roll < s.drop_rate + s.error_rate else OK
        return Draw(delay, outcome)

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            s = self.settings
            return {
                "latency_ms": {"min": s.latency_ms[0], "max": s.latency_ms[1]},
                "error_rate": s.error_rate,
                "drop_rate": s.drop_rate,
                "seed": self.seed,
                "retry_after": s.retry_after,
                "active": s.active,
                "draws": self.draws,
            }
