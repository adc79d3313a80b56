"""The suites' power: every fault in the mock's catalogue makes them fail, naming its rule.

A check nobody has seen fail is not yet a check. Each fault breaks exactly one rule; with it
switched on in the embedded mock, the suites must report a finding of that rule (and the
correct mock must give none: see test_contract_suite.py and test_stateful_suite.py). The
stateful suite runs first since it reaches every rule fastest; the contract suite is asked only
when the stateful suite missed, so that a fault either suite catches passes.
"""

from __future__ import annotations

import pytest

from contract_tests.runner import run_contract
from harness.report import SuiteResult
from harness.target import embedded_mock
from mock_server.faults import CATALOGUE
from stateful_tests.runner import run_stateful_suite

SEED = 20261123


def run_suites_against(fault: str) -> list[SuiteResult]:
    """The suites' results against the embedded mock with `fault` on, stopping at the rule."""
    rule = CATALOGUE[fault].rule
    results = [run_stateful_suite(faults=(fault,), profile="ci", seed=SEED, generic=False)]
    if rule not in results[0].failed_rules:
        with embedded_mock((fault,)) as target:
            results.append(run_contract(target, profile="ci", seed=SEED))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CATALOGUE))
def test_the_suites_catch_the_fault_and_name_its_rule(fault: str) -> None:
    # Given the mock with one fault that breaks one rule
    rule = CATALOGUE[fault].rule

    # When the suites run against it
    results = run_suites_against(fault)

    # Then a finding names that rule, with a reproduction to replay it
    findings = [f for result in results for f in result.findings if f.rule == rule]
    seen = sorted({f.rule for result in results for f in result.findings})
    assert findings, f"{fault} breaks {rule}, but the suites reported only {seen or 'nothing'}"
    assert all(f.message.startswith(rule) or rule in f.message for f in findings)
    assert all("curl" in f.reproduction for f in findings), "each finding shows how to replay it"
    assert not any("Bearer mgak_" in f.reproduction for f in findings), "keys are redacted"
