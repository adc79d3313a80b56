"""The one explicit, resettable state object of an app, kept in app.extensions."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import current_app

from ..config import MockConfig
from ..core.chaos import Chaos, ChaosSettings
from ..core.clock import VirtualClock
from ..core.seed import load_start, store_from_dump
from ..core.service import Limits, MemberService
from ..core.store import Store
from ..faults import CATALOGUE, build
from ..problems import ProblemRenderer
from ..validation import SpecSchemas
from .journal import Journal

EXTENSION = "maxgood"


class MockState:
    """The store, its seed, the clock and the active faults, behind one lock."""

    def __init__(self, config: MockConfig, store: Store | None = None) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock = VirtualClock()
        self.journal = Journal(config.journal_size)
        self.chaos = Chaos(self.configured_chaos())
        self.schemas = SpecSchemas()
        self.limits = Limits(
            seat_limits=dict(config.seat_limits),
            invites_per_hour=config.invites_per_hour,
            safety_cap_per_hour=config.safety_cap_per_hour,
        )
        if store is None:
            # --state FILE: where the last run left off, once there is such a file
            saved = config.state_file and Path(config.state_file).exists()
            start = load_start(config.state_file if saved else config.seed, _email_key)
            store, self.clock.offset = start.store, start.clock_offset
        self.store = store
        self.seed = self.store.snapshot()
        self.set_faults(config.faults)

    def set_faults(self, names: Iterable[str]) -> None:
        """Switch the named faults on (and every other off); unknown names raise KeyError."""
        names = tuple(dict.fromkeys(names))
        unknown = [n for n in names if n not in CATALOGUE]
        if unknown:
            raise KeyError(", ".join(unknown))
        with self.lock:
            self.faults = names
            self.service: MemberService = build(
                MemberService, names, self.store, self.clock, self.limits, self.schemas
            )
            self.problems: ProblemRenderer = build(ProblemRenderer, names)

    def dump(self) -> dict[str, Any]:
        """The whole state as GET /_mock/state answers it and --seed / --state load it."""
        with self.lock:
            return {**self.store.export(), "clock_offset": self.clock.offset}

    def load(self, data: dict[str, Any]) -> None:
        """Replace the whole state with a dump; raises SeedError and changes nothing if the
        dump does not describe a valid state."""
        loaded = store_from_dump(data, _email_key)
        with self.lock, self.store.lock:
            loaded.cursor_secret = self.store.cursor_secret  # cursors issued before stay valid
            self.store.restore(loaded)
            self.clock.offset = float(data.get("clock_offset") or 0.0)

    def configured_chaos(self) -> ChaosSettings:
        return ChaosSettings.parse(self.config.chaos) if self.config.chaos else ChaosSettings()

    def reset(self) -> None:
        """Back to the seed, the real time, the faults configured at start, an empty journal."""
        with self.lock, self.store.lock:
            self.store.restore(self.seed)
            self.clock.reset()
            self.journal.clear()
            self.chaos.configure(self.configured_chaos())
            self.set_faults(self.config.faults)


def get_state() -> MockState:
    return current_app.extensions[EXTENSION]


def _email_key(email: str) -> str:
    return MemberService.email_key(None, email)  # type: ignore[arg-type]
