"""The contract's rules and RuleViolation; they live in the judge (`judge.rules`)."""

from __future__ import annotations

from judge.rules import RULES, RuleViolation, check

__all__ = ["RULES", "RuleViolation", "check"]
