"""The judge: how each rule of the contract is judged, written once, over a neutral answer.

Pure functions, no HTTP and no suite: a driver (the contract suite's checks, the state machine,
the gate's scenarios, the project's own tests) decides what to send, wraps what came back in an
`Answer`, and asks a judgement, which returns a list of `Finding`s, each naming its rule. Field
lists, codes and limits come from the spec (`judge.spec`).
"""

from judge.answer import Answer, Headers
from judge.findings import Finding, finding_if, raise_first
from judge.rules import RULES, RuleViolation, check

__all__ = ["RULES", "Answer", "Finding", "Headers", "RuleViolation", "check", "finding_if",
           "raise_first"]
