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
    requests: int = 0
    invites: int = 0
    seconds: float = 0.0

    @property
    def failed_rules(self) -> set[str]:
        return {finding.rule for finding in self.findings}

    @property
    def ok(self) -> bool:
        return not self.findings
