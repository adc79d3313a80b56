"""`make fuzz` (`python -m harness.fuzz`): the budget, the seed, faults and the summary.

The orchestration is tested with stand-in suites (fast, and exact about what each was asked);
one run end to end shows a real suite finding a fault by its rule within seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import fuzz, suites
from harness.report import Finding, SuiteResult
from harness.target import Target

CALLS: list[dict[str, Any]] = []


def stateful_stand_in(target: Target | None, **options: Any) -> SuiteResult:
    """Stands in for the stateful suite: exercises R1 and R9, skips R14."""
    CALLS.append({"suite": "stateful", "target": target, **options,
                  "env_profile": os.environ.get("HYPOTHESIS_PROFILE")})
    result = SuiteResult("stateful", requests=7, seconds=0.01)
    result.exercised.update({"R1": 2, "R9": 1})
    result.skip("R14", "needs a second Avatar's key", configured=True)
    return result


def contract_stand_in(target: Target, **options: Any) -> SuiteResult:
    """Stands in for the contract suite: finds R2 broken, with a curl line carrying the key."""
    CALLS.append({"suite": "contract", "target": target, **options})
    result = SuiteResult("contract", requests=3, seconds=0.2)
    result.exercised.update({"R2": 1, "R12": 4})
    result.findings.append(Finding(
        "R2", "contract", "R2 Invite never overwrites identity: the name changed",
        f"curl -H 'Authorization: Bearer {target.key_a}' {target.base_url}/users"))
    return result


def crashing_stand_in(target: Target | None, **options: Any) -> SuiteResult:
    raise KeyError("a field the suite did not expect")


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    CALLS.clear()
    monkeypatch.setattr(suites, "ENTRY_POINTS", {
        "contract": (__name__, "contract_stand_in"),
        "stateful": (__name__, "stateful_stand_in")})
    for name in ("MAXGOOD_BASE_URL", "FUZZ_FAULTS", "FUZZ_SEED", "HYPOTHESIS_PROFILE"):
        # Set first, so that monkeypatch restores even a variable that was unset: fuzz.main
        # sets HYPOTHESIS_PROFILE, which must not reach the next test in this worker.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # The stand-ins run in this process: one worker; no example database outside the test.
    monkeypatch.setenv("FUZZ_WORKERS", "1")
    monkeypatch.setenv("FUZZ_DB", "none")
    return CALLS


@pytest.mark.xdist_group("fuzz")
def test_fuzz_splits_the_budget_prints_the_seed_and_summarises_each_rule(
    stand_ins: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # When both suites fuzz the embedded mock for 12 seconds with seed 1234
    status = fuzz.main(["--minutes", "0.2", "--seed", "1234"])
    out = capsys.readouterr().out
    # Then the seed comes first, so the run can be replayed
    assert out.startswith("FUZZ_SEED=1234")
    # each suite was given its share of the budget, the seed and the fuzz profile
    stateful, contract = stand_ins
    assert [stateful["suite"], contract["suite"]] == ["stateful", "contract"]
    assert 1 < stateful["budget_seconds"] <= 12 and 1 < contract["budget_seconds"] <= 12
    assert stateful["seed"] == contract["seed"] == 1234
    assert stateful["profile"] == stateful["env_profile"] == "fuzz"
    assert stateful["email_template"] == contract["email_template"] == "qa+{token}@example.com"
    # the stateful suite starts its own mock; the contract suite is handed a fresh one
    assert stateful["target"] is None
    assert contract["target"].base_url.startswith("http://127.0.0.1:")
    # and the summary has every rule: exercised, failed (with its reproduction) or skipped
    assert status == 1
    rules = {f"R{n}" for n in range(1, 15)} | {"SPEC"}
    lines = {line.split()[0]: line for line in out.splitlines()
             if line.split() and line.split()[0] in rules}
    assert len(lines) == 15
    assert lines["R1"].split()[-1] == "pass"
    assert lines["R2"].split()[-1] == "FAIL"
    assert "skipped: stateful: needs a second Avatar's key" in lines["R14"]
    # R13, which no stand-in exercised, is not judged (not merely skipped)
    assert "NOT JUDGED: no check exercised it" in lines["R13"]
    assert "FAIL R2 [contract]" in out and "curl" in out
    assert "requests sent:" in out
    assert "replay: make fuzz FUZZ_SEED=1234" in out


@pytest.mark.xdist_group("fuzz")
def test_fuzz_switches_faults_on_in_the_mocks_it_starts(
    stand_ins: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUZZ_FAULTS", "owner_removable, invite_overwrites_identity")
    fuzz.main(["--minutes", "0.05", "--suites", "stateful"])
    (call,) = stand_ins
    assert call["faults"] == ("owner_removable", "invite_overwrites_identity")
    assert "FUZZ_FAULTS=owner_removable,invite_overwrites_identity" in capsys.readouterr().out


@pytest.mark.xdist_group("fuzz")
def test_fuzz_never_passes_when_a_suite_could_not_run_to_its_end(
    stand_ins: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stateful suite that crashes, and a contract suite that finds nothing broken
    monkeypatch.setattr(suites, "ENTRY_POINTS", {
        "contract": (__name__, "stateful_stand_in"), "stateful": (__name__, "crashing_stand_in")})
    # When make fuzz runs both
    status = fuzz.main(["--minutes", "0.05"])
    out = capsys.readouterr().out
    # Then it exits 2 (not 0) and says which suite could not run, and why
    assert status == 2
    assert "INCOMPLETE: the stateful suite stopped with KeyError" in out
    assert any(line.startswith("INCOMPLETE (") for line in out.splitlines()), out


@pytest.mark.xdist_group("fuzz")
def test_fuzz_refuses_unknown_faults_and_faults_on_a_real_server(
    stand_ins: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit, match="unknown fault"):
        fuzz.main(["--fault", "no_such_fault"])
    monkeypatch.setenv("MAXGOOD_BASE_URL", "https://stageapi.maxgood.work/v1beta")
    monkeypatch.setenv("MAXGOOD_API_KEY", "mgak_x.y")
    assert fuzz.main(["--fault", "owner_removable"]) == 2
    assert stand_ins == []


@pytest.mark.xdist_group("fuzz")
def test_fuzz_redacts_the_keys_of_a_real_server(
    stand_ins: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.target import embedded_mock

    with embedded_mock() as running:
        monkeypatch.setenv("MAXGOOD_BASE_URL", running.base_url)
        monkeypatch.setenv("MAXGOOD_API_KEY", running.key_a)
        status = fuzz.main(["--minutes", "0.05", "--suites", "contract"])
    out = capsys.readouterr().out
    assert status == 1
    assert running.key_a not in out and "Bearer <redacted>" in out


@pytest.mark.xdist_group("fuzz-e2e")
def test_make_fuzz_finds_a_fault_by_its_rule_and_prints_how_to_replay(tmp_path: Path) -> None:
    # Given the embedded mock with invites that overwrite identity (R2)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAXGOOD_", "FUZZ_"))} | {"FUZZ_DB": "none"}
    env |= {"FUZZ_MINUTES": "0.1", "FUZZ_SEED": "7", "FUZZ_FAULTS": "invite_overwrites_identity",
            "HYPOTHESIS_PROFILE": "dev"}
    # When the contract suite fuzzes it
    done = subprocess.run(
        [sys.executable, "-m", "harness.fuzz", "--suites", "contract", "--report-dir",
         str(tmp_path)], capture_output=True, text=True, timeout=180, env=env,
        cwd=Path(__file__).resolve().parent.parent)
    # Then it fails naming R2, with a reproduction, and says how to replay the run
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FUZZ_SEED=7" in done.stdout.splitlines()[0]
    assert "FAIL R2" in done.stdout and "curl" in done.stdout
    assert 'type="R2"' in (tmp_path / "junit.xml").read_text(encoding="utf-8")


@pytest.mark.parametrize("suites", ["", " , ", "stateful,nonesuch"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_run_that_names_no_known_suite_is_refused(
    suites: str, workers: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # When make fuzz is asked for no suite, or one it does not know, on one worker or several
    monkeypatch.delenv("FUZZ_PROBE_OWNER", raising=False)
    status = fuzz.main(["--suites", suites, "--workers", workers, "--minutes", "0.05"])
    # Then it refuses at once, misconfigured, naming the suites it has
    assert status == 2
    assert "the suites are stateful, contract" in capsys.readouterr().err
