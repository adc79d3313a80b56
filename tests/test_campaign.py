"""Fuzz campaigns (harness.campaign): workers on one mock, the example database, shards merged,
the live view, Ctrl-C, and what a run reached.

The runs here are real (`python -m harness.fuzz` in a subprocess, the mock served by granian)
and short: a few seconds of fuzzing each.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import campaign, exampledb, merge
from harness.coverage import Reached, expected_answers
from harness.progress import View
from harness.report import Finding, SuiteResult
from harness.reporting import RunReport

ROOT = Path(__file__).resolve().parent.parent
FAULT = "invite_overwrites_identity"  # breaks R2, which the stateful suite finds in seconds


def fuzz_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAXGOOD_", "FUZZ_", "HYPOTHESIS_"))}
    return env | {"HYPOTHESIS_PROFILE": "fuzz", "PYTHONUNBUFFERED": "1"} | extra


def run_fuzz(*args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.fuzz", *args], capture_output=True,
                          text=True, timeout=timeout, env=fuzz_env(**env), cwd=ROOT)


def mock_url(out: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith("the mock, served once"))
    return line.rsplit(" ", 1)[-1]


def refused(url: str) -> bool:
    try:
        requests.get(url + "/users", timeout=2)
    except requests.ConnectionError:
        return True
    return False


# -- seeds and shards ----------------------------------------------------------------------------


def test_every_worker_of_every_shard_fuzzes_a_seed_range_of_its_own() -> None:
    firsts = [campaign.worker_seed(1234, campaign.Shard(i, 3), w)
              for i in (1, 2, 3) for w in range(8)]
    assert len(set(firsts)) == len(firsts)
    # a worker's range (its first seed and the batches after it) never reaches the next one's
    assert min(b - a for a, b in zip(sorted(firsts), sorted(firsts)[1:], strict=False)) >= (
        campaign.SEED_STRIDE)
    assert campaign.Shard.parse("2/4") == campaign.Shard(2, 4)
    for bad in ("0/3", "4/3", "two"):
        with pytest.raises(SystemExit):
            campaign.Shard.parse(bad)
    assert (campaign.worker_template("qa+{token}@example.com", campaign.Shard(2, 3), 0)
            == "qa+s2w1x{token}@example.com")


# -- workers on one mock ------------------------------------------------------------------------


@pytest.mark.xdist_group("campaign")
def test_two_workers_on_one_mock_fold_into_one_summary_and_show_a_finding_at_once(
        tmp_path: Path) -> None:
    # Given the mock with a fault that breaks R2, fuzzed by two workers for six seconds
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.fuzz", "--workers", "2", "--minutes", "0.1",
         "--suites", "stateful", "--fault", FAULT, "--report-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env=fuzz_env(FUZZ_DB="none", FUZZ_SEED="4242", HYPOTHESIS_PROFILE="dev"))
    arrived: dict[str, float] = {}
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("FOUND ") and "found" not in arrived:
            arrived["found"] = time.time()
    status = process.wait(timeout=240)
    out = "".join(lines)
    # Then it fails by R2, and one summary per rule names both workers and their seeds
    assert status == 1, out
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert data["workers"] == 2
    assert "workers: 2, seeds from 4242, 104242" in out
    stateful = [r for r in data["results"] if r["suite"] == "stateful"]
    assert len(stateful) == 2 and all(r["requests"] > 50 for r in stateful)
    assert data["requests"] >= sum(r["requests"] for r in stateful)
    assert sum(line.split()[0] == "R2" and line.rstrip().endswith("FAIL")
               for line in out.splitlines() if line.split()) == 1
    # each worker on Avatars of its own: nothing else broken, with both fuzzing one mock
    assert {f["rule"] for r in data["results"] for f in r["findings"]} == {"R2"}
    # the finding was announced when a check first saw it, before shrinking, within a second
    (seen,) = [event for event in data["first_seen"] if event["rule"] == "R2"]
    assert seen["shown_at"] - seen["seen_at"] < 1.0, seen
    assert arrived["found"] - seen["seen_at"] < 2.0  # and reached the pipe as soon
    assert started <= seen["seen_at"] and out.index("FOUND R2") < out.index("rule ")
    # the mock it served is gone with the run
    assert refused(mock_url(out))
    # and the summary says what each operation reached, and what it did not
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## Reached" in summary and "| POST /users | 201 x" in summary


@pytest.mark.xdist_group("campaign")
def test_ctrl_c_ends_the_run_with_the_summary_of_what_was_done(tmp_path: Path) -> None:
    # Given a campaign of two workers, a minute long, started as from a terminal
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.fuzz", "--workers", "2", "--minutes", "1",
         "--report-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=ROOT, env=fuzz_env(FUZZ_DB="none"), start_new_session=True)
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        if line.startswith("the mock, served once"):
            url = line.rsplit(" ", 1)[-1].strip()
            break
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _invited(url) < 50:  # the workers are at work
        time.sleep(0.2)
    # When Ctrl-C reaches its process group
    interrupted = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    out = process.stdout.read()
    status = process.wait(timeout=120)
    # Then it ends soon, with exit status 130 and the summary of what was done
    assert status == 130, out
    assert time.monotonic() - interrupted < 60
    assert "INCOMPLETE: interrupted (Ctrl-C)" in out and "R7    Invite limits" in out
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert data["requests"] > 0 and sum(sum(r["exercised"].values()) for r in data["results"])
    # no false alarm from two workers sharing one mock
    assert not [f for r in data["results"] for f in r["findings"]], out
    # and what it created is gone: the mock, with every Avatar the workers made in it
    assert refused(url)


def _invited(url: str) -> int:
    """Users invited on the mock so far, from its admin surface."""
    try:
        state = requests.get(url.removesuffix("/v1beta") + "/_mock/state", timeout=5).json()
    except (requests.RequestException, ValueError):
        return 0
    return len(state.get("platform_invites", []))


# -- the example database -------------------------------------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (Debian's package redis-server; .ci/run "
                    "installs it where it can)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def replayed_first(kind: str, database: str, first_run: tuple[str, ...],
                   next_run: tuple[str, ...], *, then_fixed: bool) -> None:
    """A failure found in one run replays first in the next; fixed, it is reported so."""
    env = {"FUZZ_DB": database, "HYPOTHESIS_PROFILE": "dev"}
    common = ("--suites", "stateful", "--minutes", "0.05")
    # Given a run that finds R2 broken (the fault on): the failure is saved
    first = run_fuzz(*common, *first_run, "--fault", FAULT, "--seed", "11", **env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "saved for the next runs: R2 (stateful)" in first.stdout
    # When the next run starts, with another seed: it replays the saved failure first
    second = run_fuzz(*common, *next_run, "--fault", FAULT, "--seed", "99", **env)
    assert second.returncode == 1, second.stdout + second.stderr
    lines = second.stdout.splitlines()
    replaying = next(i for i, line in enumerate(lines) if line.startswith("replaying first: R2"))
    assert replaying < next(i for i, line in enumerate(lines) if line.startswith("FOUND R2"))
    assert "saved failure replayed first, still failing: R2 (stateful" in second.stdout
    # the example Hypothesis saved fails first: its (shrunk) profile, not a new random one
    assert _profile_seen(first.stdout, "FAIL R2") == _profile_seen(second.stdout, "FOUND R2")
    if not then_fixed:
        return
    # Then, the fault off, the saved failure no longer fails: reported fixed, and forgotten
    third = run_fuzz(*common, *next_run, "--seed", "7", **env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "FIXED: a saved failure no longer fails: R2 (stateful" in third.stdout
    assert exampledb.saved_failures(exampledb.open_database(database)) == {}, kind


def _profile_seen(out: str, prefix: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith(prefix))
    return line.split("the profile (expected, seen):", 1)[1].split("  (first failing")[0].strip()


@pytest.mark.xdist_group("campaign-db")
def test_a_failure_replays_first_through_the_directory_database(tmp_path: Path) -> None:
    replayed_first("directory", str(tmp_path / "examples"), ("--workers", "1"),
                   ("--workers", "1"), then_fixed=True)


@pytest.mark.xdist_group("campaign-db")
def test_a_failure_replays_first_through_redis_on_another_machine(redis_url: str) -> None:
    # found by the one worker of a shard, replayed first by the two workers of the next run
    replayed_first("redis", redis_url, ("--workers", "1", "--shard", "2/2"),
                   ("--workers", "2"), then_fixed=False)


# -- shards merged ------------------------------------------------------------------------------


def shard_report(index: int, found: bool) -> tuple[RunReport, Reached]:
    report = RunReport(title="make fuzz", target="the embedded mock", seed=1234)
    result = SuiteResult("stateful", requests=100 * index, invites=10 * index, seconds=5.0)
    result.exercised.update({"R1": index, "R7": 2})
    if found:
        result.findings.append(Finding("R2", "stateful", f"R2 broken (shard {index})", "curl"))
    else:
        result.skip("R14", "needs a second Avatar's key", configured=True)
    contract = SuiteResult("contract", requests=7, seconds=4.0)
    contract.exercised.update({"R12": 3})
    report.results = [result, contract]
    report.requests, report.invites, report.seconds = 100 * index + 7, 10 * index, 6.0 + index
    reached = Reached()
    reached.add([(("POST /users", 201, ""), index),
                 (("POST /users", 429, "invite_rate_limited"), 1) if index == 2 else
                 (("GET /users", 200, ""), 3)])
    return report, reached


def write_shards(tmp_path: Path, count: int, indices: list[int]) -> list[str]:
    paths = []
    for index in indices:
        report, reached = shard_report(index, found=index == 2)
        path = tmp_path / f"shard{index}"
        campaign.write_json(report, reached, path / "summary.json", workers=2,
                            shard=campaign.Shard(index, count))
        paths.append(str(path))
    return paths


def test_two_shards_merged_give_one_correct_report(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # Given two shards of a campaign, the second of which found R2 broken
    shards = write_shards(tmp_path, 2, [1, 2])
    # When they are merged
    status = merge.main([*shards, "--report-dir", str(tmp_path / "all")])
    out = capsys.readouterr().out
    # Then one report: R2 fails (from shard 2), counts add up, the rest as one run would say
    assert status == 1
    data: dict[str, Any] = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert data["requests"] == 107 + 207 and data["invites"] == 30 and data["workers"] == 4
    assert data["seconds"] == 8.0  # the shards ran side by side: the longest one
    rules = {line.split()[0]: line for line in out.splitlines() if line.split()
             and line.split()[0] in {f"R{n}" for n in range(1, 15)} | {"SPEC"}}
    assert rules["R2"].rstrip().endswith("FAIL")
    assert rules["R1"].split()[-2:] == ["3", "pass"]  # exercised 1 + 2
    assert rules["R7"].split()[-2:] == ["4", "pass"]
    assert "skipped" in rules["R14"]  # shard 1 skipped it and no shard exercised it
    assert [f["message"] for r in data["results"] for f in r["findings"]] == [
        "R2 broken (shard 2)"]
    assert "shards: 1/2, 2/2" in out
    # what was reached is the union of the shards', with the blind spots of the whole
    reached = Reached.from_json(data["reached"])
    assert reached.answers[("POST /users", 201, "")] == 3
    spots = reached.blind_spots(expected_answers())
    assert "POST /users 429 invite_safety_cap_reached" in spots
    assert "POST /users 429" not in spots and "GET /users 200" not in spots
    junit = (tmp_path / "all" / "junit.xml").read_text(encoding="utf-8")
    assert 'type="R2"' in junit


def test_a_missing_shard_makes_the_merged_report_incomplete(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given shards 2 and 3 of three (shard 2 found R2 broken), and a shard that left nothing
    shards = write_shards(tmp_path, 3, [2, 3])
    (tmp_path / "empty").mkdir()
    status = merge.main([*shards, str(tmp_path / "empty")])
    out = capsys.readouterr().out
    # Then the broken rule decides the status, and the report says what is missing
    assert status == 1
    assert "INCOMPLETE: shard 1/3 left no result" in out
    assert "INCOMPLETE: no result can be read from" in out
    # and a campaign with nothing broken but a shard missing never passes
    shards = write_shards(tmp_path / "clean", 2, [1])
    assert merge.main(shards) == 2
    assert "INCOMPLETE: shard 2/2 left no result" in capsys.readouterr().out


# -- the view and the blind spots ---------------------------------------------------------------


def test_the_live_line_on_a_terminal_and_plain_lines_elsewhere() -> None:
    for live in (True, False):
        out = io.StringIO()
        view = View(seconds=60, workers=2, out=out, live=live)
        view.console.force_terminal = live  # type: ignore[misc]
        with view.shown():
            view.handle({"kind": "tick", "worker": 0, "suite": "stateful", "state": "running",
                         "requests": 120, "invites": 9, "exercised": {"R1": 4, "R2": 1}})
            view.handle({"kind": "finding", "worker": 1, "suite": "stateful", "rule": "R9",
                         "message": "key A removes its owner: 204", "seen_at": time.time()})
            status = view.status()
        text = out.getvalue()
        assert "FOUND R9 The owner is protected [stateful, w2" in text
        assert "120 requests, 9 invites" in status and "stateful 1 running" in status
        assert "rules exercised 2/15" in status and "findings: R9" in status
        assert ("progress: " in text) is not live


def test_blind_spots_name_every_status_and_code_of_the_spec_no_request_reached() -> None:
    expected = {e.operation: e for e in expected_answers()}
    assert expected["POST /users"].codes[429] == ("invite_rate_limited",
                                                  "invite_safety_cap_reached")
    assert expected["GET /users"].codes[400] == ("invalid_cursor", "invalid_request")
    reached = Reached()
    reached.add([(("GET /users", 200, ""), 5), (("GET /users", 400, "invalid_cursor"), 1),
                 (("DELETE /users/{user_id}", 204, ""), 1)])
    spots = reached.blind_spots(list(expected.values()))
    assert "GET /users 400 invalid_request" in spots and "GET /users 401" in spots
    assert "GET /users 200" not in spots and "GET /users 400 invalid_cursor" not in spots
    assert "DELETE /users/{user_id} 409" in spots
    report = RunReport(title="t", target="x")
    campaign.add_reached(report, reached)
    assert "NOT REACHED: 400 invalid_request, 401" in report.console()
    assert "| GET /users | 200 x5, 400 invalid_cursor x1 | **400 invalid_request, 401** |" in (
        report.markdown())


# -- a real server --------------------------------------------------------------------------------


def test_on_a_real_server_one_worker_runs_every_suite() -> None:
    # the keys given are the only Avatars: a second writer there would raise false alarms
    target = campaign.Target(base_url="https://stage.example/v1beta", key_a="mgak_a.b")
    the_plan = campaign.plan(target=target, real=True, suites=["stateful", "contract"],
                             seconds=60, seed=5, shard=campaign.Shard(2, 2), workers=3,
                             profile="fuzz", template="qa+{token}@example.com", database="none",
                             start=1000.0)
    ((job,),) = the_plan.phases
    assert (job.worker, job.suites, job.deadline) == (0, ("stateful", "contract"), 1060.0)
    assert job.template == "qa+s2w1x{token}@example.com"
    assert job.seed == campaign.worker_seed(5, campaign.Shard(2, 2), 0)


@pytest.mark.xdist_group("campaign")
def test_a_shard_on_a_real_server_invites_addresses_of_its_own_and_removes_them(
        tmp_path: Path) -> None:
    from harness.target import embedded_mock

    # Given a server reached by URL and keys only (no admin surface)
    with embedded_mock() as server:
        before = requests.get(server.admin_url + "/state", timeout=10).json()
        done = run_fuzz("--workers", "2", "--shard", "2/2", "--suites", "contract",
                        "--minutes", "0.1",
                        "--report-dir", str(tmp_path), MAXGOOD_BASE_URL=server.base_url,
                        MAXGOOD_API_KEY=server.key_a, MAXGOOD_API_KEY_B=server.key_b or "",
                        FUZZ_DB="none", HYPOTHESIS_PROFILE="dev")
        after = requests.get(server.admin_url + "/state", timeout=10).json()
    # Then one worker fuzzed it, inviting addresses of its shard, and left no member; six
    # seconds judge only some rules, so the run may say it is incomplete, for that reason alone
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    reasons = [line for line in done.stdout.splitlines() if line.startswith("INCOMPLETE:")]
    assert not data["leftovers"] and not data["incomplete"], done.stdout
    assert all("not judged" in r or "budget was too small" in r for r in reasons), done.stdout
    assert done.returncode == (2 if reasons else 0), done.stdout + done.stderr
    assert [r["suite"] for r in data["results"]] == ["contract"] and data["workers"] == 1
    assert all(r["requests"] > 0 for r in data["results"])
    emails = {u["email"] for u in after["users"]} - {u["email"] for u in before["users"]}
    assert emails and all("s2w1x" in e for e in emails)
    active = [m for m in after["memberships"] if m["status"] == "active"]
    assert len(active) == len([m for m in before["memberships"] if m["status"] == "active"])
    assert server.key_a not in done.stdout
