"""The contract suite as tests: one Schemathesis run against the target, one test per rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract_tests.runner import CHECKED_RULES, run_contract
from harness.report import SuiteResult
from harness.rules import RULES
from harness.target import resolve_target


@pytest.fixture(scope="module")
def contract_run(request: pytest.FixtureRequest) -> Iterator[SuiteResult]:
    with resolve_target(request.config.getoption("--base-url")) as target:
        yield run_contract(target)


@pytest.mark.parametrize("rule", CHECKED_RULES, ids=lambda rule: f"{rule} {RULES[rule]}")
def test_rule_holds(contract_run: SuiteResult, rule: str) -> None:
    if not contract_run.exercised[rule]:
        reason = contract_run.skipped.get(rule, "nothing in this run gave its checks anything "
                                          "to judge")
        pytest.skip(f"{rule}: {reason}")
    findings = [f for f in contract_run.findings if f.rule == rule]
    assert not findings, "\n\n".join(f"{f.message}\n{f.reproduction}" for f in findings)
