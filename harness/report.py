"""What a suite run found: findings naming rules, how often each rule ran, requests sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One broken rule: which, what was seen, and the exchanges that show it (curl, no key)."""

    rule: str
    suite: str
    message: str
    reproduction: str = ""


@dataclass
class SuiteResult:
    """The outcome of one suite against one target."""

    suite: str
    findings: list[Finding] = field(default_factory=list)
    exercised: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)  # rule -> reason
    # The skipped rules whose reason is the target's own configuration (one key, a read-only
    # run, a server whose state cannot be put back) or a rule outside this suite's scope. Any
    # other skip (no time, no budget left, a suite stopped) leaves the rule unjudged: incomplete.
    configured: set[str] = field(default_factory=set)
    # Why the suite did not run to its end (stopped by the guard, a crash, an answer it could
    # not handle, never started): a run with any of these is incomplete, never passed.
    incomplete: list[str] = field(default_factory=list)
    requests: int = 0
    invites: int = 0
    seconds: float = 0.0

    def skip(self, rule: str, reason: str, *, configured: bool = False,
             replace: bool = True) -> None:
        """Say why `rule` was not judged; `configured` when the target's configuration is why."""
        if not replace and rule in self.skipped:
            return
        self.skipped[rule] = reason
        if configured:
            self.configured.add(rule)
        else:
            self.configured.discard(rule)

    @property
    def failed_rules(self) -> set[str]:
        return {finding.rule for finding in self.findings}

    @property
    def ok(self) -> bool:
        return not self.findings
