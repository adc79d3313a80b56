"""`pytest stateful_tests`: the stateful suite against MAXGOOD_BASE_URL, else the embedded mock."""

from __future__ import annotations

from harness.target import target_from_env
from stateful_tests import run_stateful_suite


def test_the_server_keeps_every_rule_the_model_checks() -> None:
    result = run_stateful_suite(target_from_env())

    assert result.ok, "\n\n".join(
        f"{finding.message}\n\nReproduce:\n{finding.reproduction}" for finding in result.findings
    )
