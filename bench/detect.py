"""Time to detect: how long `make fuzz` takes to catch each catalogued fault, over seeds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SEEDS = 5


def measure(seeds: int, say: Callable[[str], None]) -> dict[str, Any]:
    return {"status": "pending"}
