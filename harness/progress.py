"""What a fuzz run has done so far, as it happens: counted in each process, shown in one place.

A `Telemetry` lives in every process that runs a suite. It sees every answer of the target on
the wire (`observing`, in `requests`' transport, where every suite's answers pass),
every rule a check exercises (`Tally`, the counter the suites keep their counts in) and every
rule a check finds broken, the moment the check raises (`harness.rules.RuleViolation`'s
listeners), before Hypothesis shrinks anything. It sends what it saw to a sink: findings at once,
counts a few times a second.

`View` is the one place that shows it: on a terminal a live line (rich) with elapsed and
remaining time, requests, invites, each suite's state, the rules exercised and the findings so
far, each finding printed above it when first seen; elsewhere (CI) plain lines.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit

from harness.rules import RULES, VIOLATION_LISTENERS

TICK_SECONDS = 0.25  # how often counts go to the sink
PLAIN_EVERY_SECONDS = 15.0  # a plain status line at most this often

Sink = Callable[[dict[str, Any]], None]

# The process's telemetry, while one is installed: what `Tally` reports to.
_current: Telemetry | None = None


class Tally(Counter[str]):
    """A Counter of rules exercised that also tells the process's telemetry as it counts."""

    def __setitem__(self, rule: str, count: int) -> None:
        added = count - self.get(rule, 0)
        super().__setitem__(rule, count)
        telemetry = _current
        if telemetry is not None and added > 0:
            telemetry.exercised_rule(rule, added)


def operation_of(method: str, path: str, base_path: str) -> str | None:
    """The spec's operation a request is for ("GET /users/{user_id}"), None off the API."""
    if not path.startswith(base_path + "/users"):
        return None
    rest = path[len(base_path) + len("/users"):]
    if rest in ("", "/"):
        return f"{method} /users"
    if rest.count("/") == 1:
        return f"{method} /users/{{user_id}}"
    return None


@dataclass
class Telemetry:
    """The counts of one process, for one worker; thread-safe."""

    worker: int
    sink: Sink
    base_path: str = "/v1beta"
    suite: str = ""
    state: str = "starting"
    requests: int = 0
    invites: int = 0
    exercised: Counter[str] = field(default_factory=Counter)
    # (operation, status, error code or "") -> answers seen
    answers: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    # the first violation of each rule in each suite: (suite, rule) -> what was seen
    first_seen: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- what the suites do ---------------------------------------------------------------------

    def exercised_rule(self, rule: str, count: int = 1) -> None:
        with self.lock:
            self.exercised[rule] += count

    def violation(self, rule: str, message: str) -> None:
        """A check found `rule` broken: tell the sink now if it is this suite's first."""
        key = (self.suite, rule)
        with self.lock:
            if key in self.first_seen:
                return
            event = {"kind": "finding", "worker": self.worker, "suite": self.suite,
                     "rule": rule, "message": message, "seen_at": time.time()}
            self.first_seen[key] = event
        self.sink(event)

    def answered(self, method: str, url: str, status: int, code: str) -> None:
        path = urlsplit(url).path
        if not path.startswith(self.base_path + "/"):
            return  # not the API under test: the mock's admin surface, say
        operation = operation_of(method, path, self.base_path)
        with self.lock:
            self.requests += 1
            if operation is None:
                return
            if operation == "POST /users" and status == 201:
                self.invites += 1
            self.answers[(operation, status, code)] += 1

    def set_suite(self, suite: str, state: str) -> None:
        with self.lock:
            self.suite, self.state = suite, state
        self.tick()

    # -- what goes out --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"kind": "tick", "worker": self.worker, "suite": self.suite,
                    "state": self.state, "requests": self.requests, "invites": self.invites,
                    "exercised": dict(self.exercised)}

    def tick(self) -> None:
        self.sink(self.snapshot())

    @contextlib.contextmanager
    def installed(self) -> Iterator[Telemetry]:
        """Count this process's answers, exercised rules and violations while in the block."""
        global _current
        stop = threading.Event()

        def pump() -> None:
            while not stop.wait(TICK_SECONDS):
                self.tick()

        def on_violation(rule: str, message: str) -> None:
            self.violation(rule, message)

        thread = threading.Thread(target=pump, name="telemetry", daemon=True)
        _current = self
        VIOLATION_LISTENERS.append(on_violation)
        thread.start()
        try:
            with observing(self):
                yield self
        finally:
            stop.set()
            thread.join(timeout=2)
            VIOLATION_LISTENERS.remove(on_violation)
            _current = None
            self.tick()


@contextlib.contextmanager
def observing(telemetry: Telemetry) -> Iterator[None]:
    """Record every answer that comes back through `requests` (every suite's transport).

    At `HTTPAdapter.build_response`, beneath `HTTPAdapter.send` where `harness.guard` stands:
    every answer of every session passes there once, the guard's or not.
    """
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.build_response

    def build_response(adapter: HTTPAdapter, request: Any, raw: Any) -> Any:
        response = original(adapter, request, raw)
        code = ""
        try:
            if response.status_code >= 400 and "json" in response.headers.get(
                    "Content-Type", ""):
                body = response.json()  # an error's body: small, and read by requests anyway
                code = body.get("code", "") if isinstance(body, dict) else ""
                code = code[:60] if isinstance(code, str) else ""
        except Exception:  # an answer it cannot read is still counted
            code = ""
        telemetry.answered(request.method or "", request.url or "", response.status_code, code)
        return response

    HTTPAdapter.build_response = build_response  # type: ignore[method-assign]
    try:
        yield
    finally:
        HTTPAdapter.build_response = original  # type: ignore[method-assign]


# -- the one place a person looks ---------------------------------------------------------------


@dataclass
class WorkerState:
    suite: str = ""
    state: str = "starting"
    requests: int = 0
    invites: int = 0
    exercised: dict[str, int] = field(default_factory=dict)


class View:
    """Shows a run's progress: a live line on a terminal, plain lines elsewhere."""

    def __init__(self, *, seconds: float, workers: int, out: TextIO, live: bool | None = None,
                 label: Callable[[int], str] | None = None) -> None:
        from rich.console import Console

        self.seconds = seconds
        self.started = time.monotonic()
        self.workers = {index: WorkerState() for index in range(workers)}
        self.findings: dict[str, dict[str, Any]] = {}  # rule -> first finding event
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.live_mode = self.console.is_terminal if live is None else live
        self.label = label or (lambda index: f"w{index + 1}")
        self.lock = threading.RLock()
        self._live: Any = None
        self._last_plain = 0.0

    # -- events ---------------------------------------------------------------------------------

    def handle(self, event: dict[str, Any]) -> None:
        with self.lock:
            if event["kind"] == "tick":
                worker = self.workers.setdefault(event["worker"], WorkerState())
                worker.suite, worker.state = event["suite"], event["state"]
                worker.requests, worker.invites = event["requests"], event["invites"]
                worker.exercised = event["exercised"]
                self.refresh()
            elif event["kind"] == "finding" and event["rule"] not in self.findings:
                event = {**event, "shown_at": time.time()}
                self.findings[event["rule"]] = event
                self.announce(event)

    def announce(self, event: dict[str, Any]) -> None:
        elapsed = event["seen_at"] - (time.time() - (time.monotonic() - self.started))
        first_line = " ".join(str(event["message"]).split())[:160]
        line = (f"FOUND {event['rule']} {RULES.get(event['rule'], '')} "
                f"[{event['suite']}, {self.label(event['worker'])}, {max(elapsed, 0):.1f}s]: "
                f"{first_line}  (first failing check; shrinking follows)")
        self.console.print(line, markup=False, highlight=False)
        self.refresh(force=True)

    # -- the line -------------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        return sum(w.requests for w in self.workers.values())

    @property
    def invites(self) -> int:
        return sum(w.invites for w in self.workers.values())

    def exercised(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for worker in self.workers.values():
            total.update(worker.exercised)
        return total

    def status(self, separator: str = " | ") -> str:
        elapsed = time.monotonic() - self.started
        left = max(0.0, self.seconds - elapsed)
        suites: dict[str, Counter[str]] = {}
        for worker in self.workers.values():
            if worker.suite:
                suites.setdefault(worker.suite, Counter())[worker.state] += 1
        states = "; ".join(
            f"{suite} " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            for suite, counts in sorted(suites.items())) or "starting"
        rules = [rule for rule in RULES if self.exercised().get(rule)]
        found = ", ".join(self.findings) or "none"
        return (f"{_clock(elapsed)} elapsed, {_clock(left)} left | {self.requests} requests, "
                f"{self.invites} invites | {states}{separator}rules exercised "
                f"{len(rules)}/{len(RULES)} | findings: {found}")

    def refresh(self, force: bool = False) -> None:
        if self._live is not None:

            self._live.update(self._line(), refresh=force)
        elif not self.live_mode and (
                force or time.monotonic() - self._last_plain >= PLAIN_EVERY_SECONDS):
            self._last_plain = time.monotonic()
            self.console.print("progress: " + self.status(), markup=False, highlight=False)

    @contextlib.contextmanager
    def shown(self) -> Iterator[View]:
        """Show the live line for the duration of the block (plain lines if not a terminal)."""
        if not self.live_mode:
            self._last_plain = time.monotonic()
            yield self
            return
        from rich.live import Live

        with Live(self._line(), console=self.console, refresh_per_second=4,
                  transient=True) as live:
            self._live = live
            try:
                yield self
            finally:
                self._live = None

    def _line(self) -> Any:
        """The live line: two lines of the terminal's width, each cut short rather than wrapped."""
        from rich.text import Text

        return Text(self.status(separator="\n"), no_wrap=True, overflow="ellipsis")

    def seen(self) -> list[dict[str, Any]]:
        """Each finding as first shown: rule, suite, worker, when seen and when shown."""
        return [dict(event) for event in self.findings.values()]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"
