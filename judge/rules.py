"""The contract's rules, by id, and the one exception a driver raises when one is broken."""

from __future__ import annotations

from collections.abc import Callable

RULES: dict[str, str] = {
    "R1": "Avatar scope",
    "R2": "Invite never overwrites identity",
    "R3": "One user per email",
    "R4": "PUT is membership-only",
    "R5": "PUT is partial",
    "R6": "DELETE is a soft remove",
    "R7": "Invite limits",
    "R8": "Already a member",
    "R9": "The owner is protected",
    "R10": "Pagination is exact",
    "R11": "Failures change nothing",
    "R12": "Errors are problem details",
    "R13": "Authentication",
    "R14": "Privacy across Avatars",
    # Not a numbered rule: the spec itself (schemas, statuses, headers) and "never a 5xx".
    "SPEC": "Conforms to the spec",
}


# Called with (rule, message) whenever a finding is made, before anything is shrunk or
# reported: a live view announces a finding the moment it is first seen (harness.progress).
VIOLATION_LISTENERS: list[Callable[[str, str], None]] = []


class RuleViolation(AssertionError):
    """A rule of the contract is broken; the message starts with the rule's id."""

    def __init__(self, rule: str, message: str) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}")
        self.rule = rule
        self.detail = message
        super().__init__(f"{rule} {RULES[rule]}: {message}")
        for listener in VIOLATION_LISTENERS:
            listener(rule, message)


def check(condition: object, rule: str, message: str) -> None:
    """Raise RuleViolation(rule, message) unless condition holds."""
    if not condition:
        raise RuleViolation(rule, message)
