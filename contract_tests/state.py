"""What a contract run knows about its target: a client per key, what it created, what it planted.

The suite may point at a real server, so it keeps a ledger of every member it creates, writes
only to those, and removes them at the end. Avatar B's data is represented by canaries (unique
notes and structured_data values) planted with key B: no answer to key A may hold them (R14),
and ids that exist only in Avatar B must look to key A like ids nobody has (R1).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contract_tests.profiles import Effort
from harness.client import ApiClient, Exchange
from harness.options import EmailFactory
from harness.progress import Tally
from harness.rules import RuleViolation
from harness.target import Target

PAGE_LIMIT = 100
MAX_PAGES = 20  # the suite looks for what it planted; 2,000 members is far enough
# Invites counted against the rolling hour (R7): a minute short of it, so that a clock a little
# off from the server's never counts one the server has already let go.
WINDOW = 3600.0 - 60.0


@dataclass
class Canaries:
    """Values planted in Avatar B's memberships; none may reach an answer to key A (R14)."""

    notes: str = field(default_factory=lambda: f"r14-canary-notes-{secrets.token_hex(8)}")
    data: str = field(default_factory=lambda: f"r14-canary-data-{secrets.token_hex(8)}")

    @property
    def membership(self) -> dict[str, Any]:
        return {"notes": self.notes, "structured_data": {"r14_canary": self.data}}


class RunState:
    """Clients, the ledger of created members, the planted canaries and the run's bookkeeping."""

    def __init__(self, target: Target, effort: Effort, email_template: str | None = None, *,
                 max_invites: int | None = None, max_requests: int | None = None,
                 seconds: float | None = None, read_only: bool = False) -> None:
        self.target = target
        self.effort = effort
        self.max_invites = max_invites  # successful invites the run may make, with any key
        self.max_requests = max_requests
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.generated = 0  # requests Schemathesis sent
        self.read_only = read_only
        self.emails = EmailFactory(email_template, prefix="ct")
        self.email_template = self.emails.template
        self.run_id = secrets.token_hex(4)
        self.a = ApiClient(target.base_url, target.key_a, name="A", keep=False)
        self.b = (ApiClient(target.base_url, target.key_b, name="B", keep=False)
                  if target.key_b else None)
        self.anonymous = ApiClient(target.base_url, None, keep=False)
        self.canaries = Canaries()
        self.avatar_a: str | None = None
        self.avatar_b: str | None = None
        self.readable_a: list[str] = []  # A's members before the run: read, never written
        self.created_a: set[str] = set()  # the ledger: members this run created, per Avatar
        self.created_b: set[str] = set()
        self.removed_a: dict[str, str] = {}  # created here, then removed by (case id): R1, R6
        self.b_only: list[str] = []  # members of B with no membership in A (R1)
        self.b_only_ours: list[str] = []  # ...that this run created: writes may name them
        self.sentinel: str | None = None  # created here, never named by a generated request
        self.ghost: str | None = None  # created and removed here: writes to nobody name it
        self.sentinel_state: Any = None
        self.shared: dict[str, Any] | None = None  # B's new member, invited into A as well
        self.restore_b: list[tuple[str, dict[str, Any]]] = []  # seeded memberships to put back
        self.cursor: str | None = None  # one Avatar A issued, for generated list requests
        self.skipped: dict[str, str] = {}
        self.configured: set[str] = set()  # skipped for the target's configuration (one key)
        self.exercised: Counter[str] = Tally()  # tells a live view as it counts
        self.violations: list[tuple[RuleViolation, str]] = []
        self._memberships: dict[str, dict[str, Any]] = {}  # last answered, per created member
        self._before_put: dict[str, dict[str, Any] | None] = {}  # per case id
        self._invited_at: list[float] = []  # successful invites with key A (R7)
        self.invites = 0  # successful invites with any key, against max_invites
        self._fresh: set[str] = set()
        self._emails = itertools.count()
        self._auth_probes: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    # -- identities ---------------------------------------------------------------------------

    def fresh_email(self) -> str:
        """A unique address from the template, never a real person's."""
        email = self.emails.fresh()
        with self._lock:
            self._fresh.add(email)
        return email

    def is_fresh_email(self, email: object) -> bool:
        """Whether `email` is one of this run's addresses, so nobody had it before."""
        with self._lock:
            return email in self._fresh

    def missing_id(self) -> str:
        """A user id that nobody has; reads only (a real server's guard lets writes name only
        members the run created, see `ghost`)."""
        return f"usr_ct{self.run_id}missing"

    def nobody(self, method: str) -> str | None:
        """An id no active member has, that a request with this method may name."""
        return self.missing_id() if method in ("GET", "HEAD") else self.ghost

    def sent_with_key_a(self, exchange: Any) -> bool:
        """Whether the request behind a response (or a recorded interaction) carried key A."""
        headers = exchange.request.headers
        sent = headers.get("Authorization") or headers.get("authorization")
        sent = sent[0] if isinstance(sent, list) else sent
        return bool(sent == f"Bearer {self.target.key_a}")

    def traces_of_b(self) -> list[tuple[str, str]]:
        """What must never appear in an answer to key A, and what it is (R14)."""
        traces = [(self.canaries.notes, "Avatar B's planted notes"),
                  (self.canaries.data, "Avatar B's planted structured_data")]
        # An id too short to be told from ordinary text would make false alarms.
        if self.avatar_b is not None and len(self.avatar_b) >= 6:
            traces.append((self.avatar_b, "Avatar B's avatar_id"))
        return traces

    @property
    def cross_avatar(self) -> bool:
        return "R14" not in self.skipped

    # -- the ledger ---------------------------------------------------------------------------

    def writable_ids(self) -> list[str]:
        """Members that generated PUT/DELETE requests may name: ones this run created."""
        with self._lock:
            return sorted(self.created_a - {self.sentinel})

    def may_write(self, user_id: str) -> bool:
        """Whether a generated write may name `user_id`: created here, in A or in B."""
        with self._lock:
            ours = user_id in self.created_a and user_id != self.sentinel
            return ours or user_id in self.b_only_ours

    def may_invite(self) -> bool:
        """Whether the invite budget (if any) allows another invite."""
        with self._lock:
            return self.max_invites is None or self.invites < self.max_invites

    def count_invite(self) -> None:
        with self._lock:
            self.invites += 1

    def budget_spent(self) -> str | None:
        """Why the run must send no more generated requests, if it must not: its request budget
        (keeping enough to remove what it created) or its time is spent."""
        with self._lock:
            # the clean-up, and the few reads of the last fixed scenario
            reserve = len(self.created_a) + len(self.created_b) + len(self.restore_b) + 20
        if self.max_requests is not None and (
            self.generated + self.requests + reserve >= self.max_requests
        ):
            return f"the request budget of {self.max_requests} is spent"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "the time budget is spent"
        return None

    def hidden_ids(self, case_id: str = "") -> set[str]:
        """Ids key A must not see: B's members (R1) and members removed here (R1, R6), except
        by the request that removed them."""
        with self._lock:
            removed = {user_id for user_id, by in self.removed_a.items() if by != case_id}
            return set(self.b_only) | removed

    def record_invite(self, member: dict[str, Any]) -> None:
        """A member key A invited (201): into the ledger, and against the hourly limit (R7)."""
        with self._lock:
            self.created_a.add(member["user_id"])
            self._invited_at.append(time.monotonic())
        self.record_member(member)

    def record_member(self, member: dict[str, Any], case_id: str | None = None) -> None:
        """Remember a created member's membership as last answered (R5 compares against it)."""
        user_id = member.get("user_id")
        with self._lock:
            if user_id not in self.created_a or not isinstance(member.get("membership"), dict):
                return
            if case_id is not None:
                self._before_put[case_id] = self._memberships.get(user_id)
            self._memberships[user_id] = member["membership"]

    def membership_of(self, user_id: str) -> dict[str, Any] | None:
        """An active member's membership as last answered, if this run created it."""
        with self._lock:
            if user_id in self.removed_a:
                return None
            return self._memberships.get(user_id)

    def membership_before(self, case_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._before_put.get(case_id)

    def record_removal(self, user_id: str, case_id: str = "") -> None:
        with self._lock:
            if user_id in self.created_a:
                self.removed_a.setdefault(user_id, case_id)

    def invites_in_the_last_hour(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for at in self._invited_at if now - at < WINDOW)

    # -- effort and accounting ------------------------------------------------------------------

    def take_auth_probe(self, operation: str, phase: str) -> bool:
        """Whether the R13 probes may spend another case of this operation in this phase."""
        with self._lock:
            if self._auth_probes[operation, phase] >= self.effort.auth_probes_per_phase:
                return False
            self._auth_probes[operation, phase] += 1
            return True

    def exercise(self, rule: str) -> None:
        with self._lock:
            self.exercised[rule] += 1

    def expect(self, condition: object, rule: str, message: str,
               answer: Exchange | None = None) -> bool:
        """Record a violation unless `condition` holds (for the suite's fixed scenarios)."""
        self.exercise(rule)
        if not condition:
            reproduction = answer.as_curl() if answer is not None else ""
            self.violations.append((RuleViolation(rule, message), reproduction))
        return bool(condition)

    @property
    def requests(self) -> int:
        """Requests this run's own clients sent (setup, probes, clean-up)."""
        return sum(client.requests for client in (self.a, self.b, self.anonymous) if client)


_ACTIVE: RunState | None = None


def activate(state: RunState | None) -> None:
    """Make `state` the one the registered hooks and checks consult."""
    global _ACTIVE
    _ACTIVE = state


def current() -> RunState | None:
    """The state of the running contract run, or None outside one (hooks and checks stand aside)."""
    return _ACTIVE
