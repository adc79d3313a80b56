"""What a judgement returns: findings, each naming the rule it shows broken."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from judge.rules import RULES, RuleViolation


@dataclass(frozen=True)
class Finding:
    """One broken rule, what was seen, and `kind`: which part of the rule (for a driver that
    reports each part once, e.g. a problem detail's media type on every answer)."""

    rule: str
    message: str
    kind: str = ""

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")

    def violation(self) -> RuleViolation:
        return RuleViolation(self.rule, self.message)

    def __str__(self) -> str:
        return str(self.violation())


def raise_first(findings: Iterable[Finding]) -> None:
    """Raise the first finding as a RuleViolation (for drivers that stop at the first)."""
    for finding in findings:
        raise finding.violation()


def finding_if(broken: object, rule: str, message: str, kind: str = "") -> list[Finding]:
    """[Finding] when `broken` holds, else []."""
    return [Finding(rule, message, kind)] if broken else []
