"""The contract's rules and RuleViolation; they live in the judge (`judge.rules`)."""

from __future__ import annotations

from judge.rules import RULES, VIOLATION_LISTENERS, RuleViolation, check

__all__ = ["RULES", "VIOLATION_LISTENERS", "RuleViolation", "check"]
