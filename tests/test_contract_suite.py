"""The contract suite against the embedded mock, which keeps every rule: it finds nothing."""

from __future__ import annotations

import pytest

from contract_tests.hooks import fit_membership, representable
from contract_tests.runner import CHECKED_RULES, run_contract

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("contract")]


def test_the_contract_suite_finds_nothing_on_the_correct_mock() -> None:
    # Given the embedded mock, seeded, with no fault; When the suite runs at CI effort
    result = run_contract(seed=20261123, profile="ci")

    # Then it breaks no rule, and every rule it checks was judged, B's canaries included
    assert not result.findings, "\n\n".join(f"{f.message}\n{f.reproduction}"
                                            for f in result.findings)
    assert not set(result.skipped) & set(CHECKED_RULES), result.skipped
    assert set(result.skipped) <= result.configured, result.skipped
    assert not result.incomplete, result.incomplete
    assert {rule for rule in CHECKED_RULES if not result.exercised[rule]} == set()


@pytest.mark.parametrize(("value", "kept"), [
    ("2027-03-31T23:59:59Z", True),
    ("0001-01-01T00:00:00Z", True),
    ("2027-03-31t23:59:59.5-07:00", True),
    ("not a date", True),  # invalid anyway: left for the negative cases
    (None, True),
    ("0000-01-01T00:00:00Z", False),
    ("0001-01-01T00:00:00+01:00", False),
    ("2026-12-31T23:59:60Z", False),
])
def test_generated_date_times_stay_within_the_instants_the_spec_accepts(
    value: object, kept: bool
) -> None:
    # JSON Schema's date-time admits instants the spec excludes; a positive case must not
    # carry one, or a correct server's 400 would read as valid data refused.
    membership = {"license_expires_at": value, "notes": "n"}
    fitted = fit_membership(membership)
    assert (fitted == membership) is kept
    assert representable(fitted["license_expires_at"])
