"""A run never passes on less than it promised: every way a run can judge less is INCOMPLETE.

Each path a run can fall short by (a suite refused by the guard, a suite that carries on after
a refusal, a budget too small, a slow server, nothing judged, a rule skipped for want of
time) exits 2 with the reason, a JUnit error and "Incomplete" in the summary; a rule skipped
for the target's configuration alone (one key, read-only) stays a skip.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import fuzz, suites
from harness.report import SuiteResult
from harness.reporting import UNJUDGED, RunReport
from harness.rules import RULES
from harness.target import Target
from mock_server import MockConfig, create_app
from mock_server.serve import start_in_thread

from .test_avatar_in_use import KEY_A, KEY_B, SEED

PRE_EXISTING = "2286290b-6474-4f7e-8a1c-6815291bc338"  # Avatar A's owner in the seed


@pytest.fixture
def real_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Avatar-like mock, without admin surface, as the target of `make fuzz`."""
    server = start_in_thread(create_app(MockConfig(seed=SEED, admin=False)))
    for name in ("FUZZ_FAULTS", "FUZZ_SEED", "HYPOTHESIS_PROFILE", "FUZZ_WORKERS"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("MAXGOOD_BASE_URL", server.base_url)
    monkeypatch.setenv("MAXGOOD_API_KEY", KEY_A)
    monkeypatch.setenv("MAXGOOD_API_KEY_B", KEY_B)
    try:
        yield server.base_url
    finally:
        server.stop()


def judging_everything(name: str) -> SuiteResult:
    result = SuiteResult(name, requests=1)
    result.exercised.update(dict.fromkeys(RULES, 1))
    return result


def writes_to_someone_else(target: Target, **options: Any) -> SuiteResult:
    """A suite that sends a DELETE to a member present before the run; the guard refuses it."""
    requests.delete(f"{target.base_url}/users/{PRE_EXISTING}",
                    headers={"Authorization": f"Bearer {target.key_a}"}, timeout=10)
    return judging_everything("contract")


def carries_on_after_a_refusal(target: Target, **options: Any) -> SuiteResult:
    """A suite that catches the guard's refusal and carries on, as if nothing happened."""
    with contextlib.suppress(KeyboardInterrupt):  # the guard's refusal
        writes_to_someone_else(target)
    return judging_everything("contract")


def judges_nothing(target: Target | None, **options: Any) -> SuiteResult:
    return SuiteResult("contract", requests=3)


def run_fuzz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suite: str,
             *args: str) -> tuple[int, str, ET.Element]:
    monkeypatch.setattr(suites, "ENTRY_POINTS", {"contract": (__name__, suite)})
    status = fuzz.main(["--suites", "contract", "--minutes", "0.05", "--workers", "1",
                        "--db", "none", "--report-dir", str(tmp_path), *args])
    return status, (tmp_path / "summary.md").read_text(encoding="utf-8"), ET.parse(
        tmp_path / "junit.xml").getroot()


def run_errors(junit: ET.Element) -> list[str]:
    return [c.find("error").get("message", "") for c in junit.iter("testcase")
            if c.get("name") == "the run is complete"]


@pytest.mark.xdist_group("fuzz")
def test_a_suite_stopped_by_the_guard_makes_the_run_incomplete(
    real_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # When a suite sends a write to a member it did not create, and the guard stops it
    status, summary, junit = run_fuzz(monkeypatch, tmp_path, "writes_to_someone_else")
    # Then the run is incomplete: exit 2, said in the summary and as a JUnit error
    assert status == 2
    assert "## Incomplete" in summary and "was stopped by the guard" in summary
    assert any("whom this run did not invite" in e for e in run_errors(junit))
    # and nothing was written
    owner = requests.get(f"{real_server}/users/{PRE_EXISTING}",
                         headers={"Authorization": f"Bearer {KEY_A}"}, timeout=10)
    assert owner.status_code == 200


@pytest.mark.xdist_group("fuzz")
def test_a_suite_that_carries_on_after_a_refusal_still_makes_the_run_incomplete(
    real_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a suite that swallows the refusal and reports every rule exercised
    status, _, junit = run_fuzz(monkeypatch, tmp_path, "carries_on_after_a_refusal")
    # Then the refusal alone makes the run incomplete
    assert status == 2
    assert any("the guard refused 1 unsafe request" in e for e in run_errors(junit))
    assert "refusals" in {p.get("name") for p in junit.iter("property")}


@pytest.mark.xdist_group("fuzz")
def test_zero_passed_never_exits_0(
    real_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a suite that runs to its end but exercises no rule
    status, summary, junit = run_fuzz(monkeypatch, tmp_path, "judges_nothing")
    # Then no rule passed, and the run is incomplete
    assert status == 2
    assert "INCOMPLETE (0 passed" in summary
    assert "no rule was judged" in run_errors(junit)
    unjudged = [c for c in junit.iter("testcase") if c.find("error") is not None
                and c.get("name", "").split()[0] in RULES]
    assert len(unjudged) == len(RULES)


@pytest.mark.xdist_group("fuzz")
def test_a_budget_too_small_is_incomplete_and_says_what_would_suffice(
    real_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suites, "ENTRY_POINTS", {"contract": (__name__, "judges_nothing"),
                                                 "stateful": (__name__, "judges_nothing")})
    # When make fuzz has less than a second for each suite
    status = fuzz.main(["--minutes", "0.01", "--workers", "1", "--db", "none"])
    out = capsys.readouterr().out
    # Then neither ran: exit 2, each named, with the budget that would suffice
    assert status == 2
    assert "INCOMPLETE: the stateful suite did not run" in out
    assert "INCOMPLETE: the contract suite did not run" in out
    assert "FUZZ_MINUTES=" in out and "would suffice" in out


def test_the_stateful_suite_says_what_invite_budget_would_suffice(real_server: str) -> None:
    from stateful_tests.runner import run_stateful_suite

    # When the stateful suite may spend two invites on a real server
    result = run_stateful_suite(Target(real_server, KEY_A, KEY_B), max_invites=2, seed=1,
                                profile="dev")
    # Then it runs no example, and says so with the figure that would pay for one
    assert not result.exercised.get("R2")
    assert any("pays for no example" in reason and "would suffice" in reason
               for reason in result.incomplete), result.incomplete


def test_a_rule_skipped_for_the_configuration_is_skipped_any_other_is_not_judged() -> None:
    one_key = judging_everything("stateful")
    del one_key.exercised["R14"]
    one_key.skip("R14", "needs a second Avatar's key", configured=True)
    assert RunReport("t", "x", [one_key]).exit_status() == 0
    # the same rule, skipped because the time ran out, is not judged: incomplete
    no_time = judging_everything("stateful")
    del no_time.exercised["R14"]
    no_time.skip("R14", "the time budget ran out")
    report = RunReport("t", "x", [no_time])
    assert report.exit_status() == 2
    assert [o.status for o in report.outcomes() if o.rule == "R14"] == [UNJUDGED]
    assert "R14 was not judged: stateful: the time budget ran out" in report.incompleteness()
    # and a rule one suite skipped for its configuration but another was to judge and did not
    both = RunReport("t", "x", [one_key, no_time])
    assert both.exit_status() == 2


@pytest.mark.slow
@pytest.mark.xdist_group("gate-slow")
def test_the_gate_behind_a_slow_server_is_incomplete_not_passed(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Given the Avatar-like server, answering each request 150 ms late
    server = start_in_thread(create_app(MockConfig(seed=SEED, admin=False,
                                                   chaos="latency=150")))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAXGOOD_", "FUZZ_"))} | {"FUZZ_DB": "none"}
    env |= {"MAXGOOD_API_KEY": KEY_A, "MAXGOOD_API_KEY_B": KEY_B}
    try:
        # When the gate has 15 seconds: its own checks eat them, the suites get none
        done = subprocess.run(
            [str(Path(sys.executable).parent / "maxgood-contract"), "--base-url",
             server.base_url, "--max-minutes", "0.25", "--profile", "dev",
             "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=300, env=env)
    finally:
        server.stop()
    # Then it exits 2, naming the suites that did not run and the budget that would suffice
    assert done.returncode == 2, done.stdout + done.stderr
    assert "INCOMPLETE: the contract suite did not run" in done.stdout
    assert "--max-minutes" in done.stdout and "would suffice" in done.stdout
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## Incomplete" in summary
