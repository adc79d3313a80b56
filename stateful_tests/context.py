"""What one stateful run knows about its target, shared by every example of the run.

The clients, the members listed before the run (never written, left as they were), fresh emails,
the limits known or learned (R7), the invite budget, and the counts that go into the report.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from harness.client import ApiClient
from harness.options import EmailFactory
from harness.progress import Tally
from harness.target import Target
from judge.limits import RateLimits

from .model import AVATARS

# The embedded mock's clock moves on by a little over the rolling hour before each example, so
# every example starts with empty invite windows (R7) and replays identically while shrinking.
CLOCK_STEP_SECONDS = 3601
# How long the last RateLimit-* headers are trusted to predict the next invite's (R7).
RATE_MEMORY_SECONDS = 5.0


@dataclass
class RateWindow:
    """The last RateLimit-* headers seen for one Avatar, and when (R7)."""

    limits: RateLimits
    seen_at: float

    def still_current(self) -> bool:
        """True while no invite can have left the window since these headers were seen.

        Only for a few seconds, and never with RateLimit-Reset 0: implementations may count
        Reset differently (CONTRACT.md), but none frees a slot seconds after saying it won't.
        """
        elapsed = time.monotonic() - self.seen_at
        reset = self.limits.reset
        return reset > 0 and elapsed < min(RATE_MEMORY_SECONDS, reset - 1)


@dataclass
class RunContext:
    """One run against one target; every example of the run shares it."""

    target: Target
    clients: dict[str, ApiClient]
    baseline: dict[str, list[dict[str, Any]]]  # avatar -> members listed before the run
    seat_limits: dict[str, int | None]  # avatar -> seat limit, when known (R7)
    emails: EmailFactory = field(default_factory=EmailFactory)
    invite_budget: int | None = None  # successful invites the run may spend; None: no limit
    invites_per_example: int | None = None
    allow_bursts: bool = False  # invite until refused: only where the clock can be moved
    exercised: Counter[str] = field(default_factory=Tally)  # tells a live view as it counts
    invites_used: int = 0
    # The first violation of each rule, in case its replay does not repeat it (a real server).
    first_violations: dict[str, Any] = field(default_factory=dict)
    learned_seat_limits: dict[str, int] = field(default_factory=dict)
    rate: dict[str, RateWindow] = field(default_factory=dict)
    starting_export: dict[str, Any] | None = None  # the embedded mock's state, to restore
    admin: requests.Session = field(default_factory=requests.Session)

    @property
    def avatars(self) -> tuple[str, ...]:
        return tuple(a for a in AVATARS if a in self.clients)

    @property
    def can_restore(self) -> bool:
        """Whether a probe that may break a member present before the run can be undone."""
        return self.starting_export is not None

    @property
    def requests(self) -> int:
        return sum(client.requests for client in self.clients.values())

    def seat_limit(self, avatar: str) -> int | None:
        return self.seat_limits.get(avatar) or self.learned_seat_limits.get(avatar)

    def start_example(self) -> None:
        """Before each example: empty invite windows where the clock can be moved (R7)."""
        if self.target.admin_url is not None:
            self.let_the_hour_pass()
        for client in self.clients.values():
            client.exchanges.clear()

    def let_the_hour_pass(self) -> None:
        """Move the embedded mock's clock past the rolling hour: empty invite windows (R7).

        On a mock shared with other runs, whose invite windows must not move under them, only
        this run's own Avatars have their windows emptied.
        """
        if self.target.shared:
            for avatar_id in self.target.own_avatars:
                self.admin_call("DELETE", f"/avatars/{avatar_id}/invites")
            self.rate.clear()
        elif self.target.admin_url is not None:
            self.admin_call("POST", "/clock/advance", {"seconds": CLOCK_STEP_SECONDS})
            self.rate.clear()

    def restore_starting_state(self) -> None:
        """Put back the embedded mock's members from before the run (after a destructive bug).

        The clock keeps its current offset: moving it back would let the invites of earlier
        examples count again (R7).
        """
        if self.target.shared:
            # Other runs' members live in the same mock: this run moves to fresh Avatars of its
            # own, as they were at its start (an owner and nobody else), instead.
            self.move_to_fresh_avatars()
        elif self.starting_export is not None:
            now = self.admin_call("GET", "/state")
            restored = {**self.starting_export, "clock_offset": now.get("clock_offset", 0)}
            self.admin_call("PUT", "/state", restored)
            self.rate.clear()

    def move_to_fresh_avatars(self) -> None:
        """Continue on new Avatars of the shared mock, like the run's first ones (same types)."""
        from harness.campaign import own_avatars

        self.target = own_avatars(self.target, self.admin)
        keys = {"A": self.target.key_a, "B": self.target.key_b}
        for name, client in list(self.clients.items()):
            fresh = ApiClient(self.target.base_url, keys[name] or "", session=client.session,
                              name=name)
            fresh.requests = client.requests
            self.clients[name] = fresh
            self.baseline[name] = fresh.list_all(100)
        self.rate.clear()

    def admin_call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.target.admin_url is not None
        answer = self.admin.request(method, self.target.admin_url + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None
