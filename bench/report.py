"""RESULTS.md and the plots, written from results.json alone."""

from __future__ import annotations

from typing import Any


def write(results: dict[str, Any]) -> None:
    pass
