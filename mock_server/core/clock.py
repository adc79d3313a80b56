"""A virtual clock: real time plus an offset, so tests move time instead of sleeping (R7)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class VirtualClock:
    """Seconds since the epoch, shifted by whatever `advance` has added."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0
