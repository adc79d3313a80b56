"""The contract suite against the embedded mock, which keeps every rule: it finds nothing."""

from __future__ import annotations

import pytest

from contract_tests.runner import CHECKED_RULES, run_contract

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("contract")]


def test_the_contract_suite_finds_nothing_on_the_correct_mock() -> None:
    # Given the embedded mock, seeded, with no fault; When the suite runs at CI effort
    result = run_contract(seed=20261123, profile="ci")

    # Then it breaks no rule, and every rule it checks was judged, B's canaries included
    assert not result.findings, "\n\n".join(f"{f.message}\n{f.reproduction}"
                                            for f in result.findings)
    assert not result.skipped, result.skipped
    assert {rule for rule in CHECKED_RULES if not result.exercised[rule]} == set()
