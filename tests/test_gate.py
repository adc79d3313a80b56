"""The CI gate (`maxgood-contract`) judged from outside, as CI runs it.

The mock runs as a separate process on a free port, without its admin surface, seeded with
pre-existing members who carry notes and structured_data in both Avatars; the gate runs as a
subprocess against it. The gate must pass the correct mock, fail a faulty one by the rule it
breaks, leave every pre-existing member byte-for-byte as it was and nothing of its own behind,
and refuse a wrong URL or key with exit status 2 and a message saying what is wrong.

Below those, the guard (`harness.guard`) and the reports (`harness.reporting`) in-process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gate.cli import GATE_CHECK_INVITES
from harness.guard import Budget, BudgetExhausted, Guard, UnsafeRequest
from harness.report import Finding, SuiteResult
from harness.reporting import RunReport
from judge.instants import instant
from judge.members import same
from mock_server.faults import CATALOGUE

BIN = Path(sys.executable).parent
KEY_A = "mgak_gatetesta1.secret-of-avatar-a-for-the-gate-tests"
KEY_B = "mgak_gatetestb1.secret-of-avatar-b-for-the-gate-tests"
RULE_IDS = [f"R{n}" for n in range(1, 15)] + ["SPEC"]
# Small enough that a run against the mock takes seconds, large enough for every gate check.
SMALL_BUDGET = ["--max-minutes", "1", "--max-requests", "600", "--max-invites", "20",
                "--profile", "dev"]

SEED = textwrap.dedent(f"""\
    avatars:
      - avatar_id: avt_gate_a
        name: Gate Test Academy
        type: enterprise
        keys: [{KEY_A}]
      - avatar_id: avt_gate_b
        name: Gate Test Studio
        type: essential
        keys: [{KEY_B}]
    users:
      - email: owner.a@gate.example
        name: Olga Owner
        role: Director
        locale: en-GB
        created_at: '2025-10-01T08:00:00Z'
        memberships:
          - avatar_id: avt_gate_a
            is_owner: true
            is_admin: true
            notes: Founder of the academy.
            structured_data: {{crm: A-1}}
            joined_at: '2025-10-01T08:00:00Z'
      - email: owner.b@gate.example
        name: Bert Owner
        created_at: '2025-10-02T08:00:00Z'
        memberships:
          - avatar_id: avt_gate_b
            is_owner: true
            is_admin: true
            joined_at: '2025-10-02T08:00:00Z'
      - email: Shared.Person@gate.example
        name: Sam Shared
        role: Team lead
        expertise: Negotiation
        locale: fr-CA
        created_at: '2025-11-01T10:00:00Z'
        memberships:
          - avatar_id: avt_gate_a
            is_coach: true
            notes: Academy cohort 3; sponsor is the CFO.
            structured_data: {{cohort: 3, tags: [alpha, beta], nested: {{level: 2}}}}
            license_expires_at: '2027-06-30T23:59:59Z'
            joined_at: '2025-11-01T10:00:00Z'
          - avatar_id: avt_gate_b
            notes: Private client of the studio.
            structured_data: {{package: gold, sessions: 12}}
            joined_at: '2025-12-24T18:30:00Z'
      - email: only.b@gate.example
        name: Bea Only
        created_at: '2026-01-05T09:00:00Z'
        memberships:
          - avatar_id: avt_gate_b
            is_admin: true
            notes: Studio admin.
            structured_data: {{desk: 7}}
            joined_at: '2026-01-05T09:00:00Z'
      - email: only.a@gate.example
        name: Abe Only
        created_at: '2026-01-06T09:00:00Z'
        memberships:
          - avatar_id: avt_gate_a
            notes: Joined from the spring intake.
            structured_data: {{}}
            joined_at: '2026-01-06T09:00:00Z'
    """)


# --- the mock as a separate process ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MockProcess:
    base_url: str
    process: subprocess.Popen[bytes]

    def lists(self, limit: int = 2) -> dict[str, bytes]:
        """Each Avatar's members as the list answers them, page by page (limit 2 to cross
        pages): every key in its order and every character as sent. Only the cursors are left
        out: the mock's carry the time they were issued."""
        pages: dict[str, bytes] = {}
        for name, key in (("A", KEY_A), ("B", KEY_B)):
            body, cursor = b"", None
            while True:
                params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
                answer = requests.get(f"{self.base_url}/users", params=params, timeout=10,
                                      headers={"Authorization": f"Bearer {key}"})
                assert answer.status_code == 200, answer.text
                page = answer.json()
                body += json.dumps(page["data"], ensure_ascii=False,
                                   separators=(",", ":")).encode() + b"\n"
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            pages[name] = body
        return pages


def listed_only(pages: bytes, reference: bytes) -> bytes:
    """A one-page list (MockProcess.lists(limit=100)) without the members `reference` lacks."""
    known = {m["user_id"] for m in json.loads(reference)}
    kept = [m for m in json.loads(pages) if m["user_id"] in known]
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gate") / "seed.yaml"
    path.write_text(SEED, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mock_factory(seed_file: Path) -> Iterator:
    """Start `maxgood-mock` processes (with faults) on free ports; all stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*faults: str) -> MockProcess:
        port = free_port()
        command = [str(BIN / "maxgood-mock"), "--port", str(port), "--no-admin", "--seed",
                   str(seed_file), "--quiet"]
        for fault in faults:
            command += ["--fault", fault]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        base_url = f"http://127.0.0.1:{port}/v1beta"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base_url}/users", timeout=1)
                return MockProcess(base_url, process)
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the mock did not start: "
                                       + (process.stderr.read() if process.stderr else b"")
                                       .decode()) from None
                time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
    for process in started:
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def correct_mock(mock_factory) -> MockProcess:
    """One correct mock for every test that needs one: the gate leaves it as it found it."""
    return mock_factory()


@dataclass
class GateRun:
    status: int
    stdout: str
    stderr: str
    reports: Path

    @property
    def junit(self) -> ET.Element:
        return ET.parse(self.reports / "junit.xml").getroot()

    def testcase(self, rule: str) -> ET.Element:
        (case,) = [c for c in self.junit.iter("testcase") if c.get("name", "").split()[0] == rule]
        return case

    @property
    def failed(self) -> set[str]:
        return {c.get("name", "").split()[0] for c in self.junit.iter("testcase")
                if c.find("failure") is not None}

    @property
    def everything(self) -> str:
        return self.stdout + self.stderr + "".join(
            p.read_text(encoding="utf-8") for p in self.reports.glob("*") if p.is_file())


def gate(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
         key_b: bool = True) -> GateRun:
    """Run `maxgood-contract` as CI would; keys come from the environment."""
    reports = tmp_path / "reports"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MAXGOOD_",
                                                                             "FUZZ_"))}
    environment |= {"MAXGOOD_API_KEY": KEY_A} | ({"MAXGOOD_API_KEY_B": KEY_B} if key_b else {})
    environment |= env or {}
    done = subprocess.run([str(BIN / "maxgood-contract"), "--report-dir", str(reports), *args],
                          capture_output=True, text=True, timeout=300, env=environment,
                          cwd=tmp_path)
    return GateRun(done.returncode, done.stdout, done.stderr, reports)


# --- the gate against a correct server --------------------------------------------------------


@pytest.mark.xdist_group("gate")
def test_gate_passes_a_correct_server_and_leaves_every_member_as_it_was(
    correct_mock: MockProcess, tmp_path: Path
) -> None:
    # Given a correct server with pre-existing members in two Avatars
    before = correct_mock.lists()
    # When the gate runs every suite against it
    run = gate(tmp_path, "--base-url", correct_mock.base_url, *SMALL_BUDGET)
    # Then it passes, reports every rule, and the lists read exactly as before:
    # nothing pre-existing changed, nothing it created is left
    assert run.status == 0, run.stdout + run.stderr
    assert [c.get("name").split()[0] for c in run.junit.iter("testcase")] == RULE_IDS
    assert not run.failed
    assert run.testcase("R9").find("skipped") is not None  # the owner is never written to
    assert correct_mock.lists() == before
    summary = (run.reports / "summary.md").read_text(encoding="utf-8")
    assert "| R14 | Privacy across Avatars |" in summary and "invites used" in summary
    assert KEY_A not in run.everything and KEY_B not in run.everything


@pytest.mark.xdist_group("gate")
def test_gate_read_only_sends_no_write(correct_mock: MockProcess, tmp_path: Path) -> None:
    before = correct_mock.lists()
    run = gate(tmp_path, "--base-url", correct_mock.base_url, "--read-only", *SMALL_BUDGET)
    assert run.status == 0, run.stdout + run.stderr
    assert "invites used: 0" in run.stdout
    for rule in ("R1", "R10", "R12", "R13", "R14", "SPEC"):
        assert run.testcase(rule).find("skipped") is None, rule
    assert "read-only" in run.testcase("R2").find("skipped").get("message")
    assert correct_mock.lists() == before


@pytest.mark.xdist_group("gate")
def test_gate_with_one_key_skips_the_cross_avatar_rules_visibly(
    correct_mock: MockProcess, tmp_path: Path
) -> None:
    run = gate(tmp_path, "--base-url", correct_mock.base_url, "--suites", "gate", key_b=False)
    assert run.status == 0, run.stdout + run.stderr
    assert "second key" in run.testcase("R14").find("skipped").get("message")


@pytest.mark.xdist_group("gate")
def test_gate_stays_within_its_invite_budget(correct_mock: MockProcess, tmp_path: Path) -> None:
    before = correct_mock.lists()
    run = gate(tmp_path, "--base-url", correct_mock.base_url, "--suites", "gate",
               "--max-invites", "2")
    # Its checks stopped at the budget: the run is incomplete, and says what would suffice
    assert run.status == 2, run.stdout + run.stderr
    assert "invites used: 2" in run.stdout
    assert "invite budget spent (2 invites)" in run.stdout
    assert f"--max-invites {GATE_CHECK_INVITES} would suffice" in run.stdout
    assert correct_mock.lists() == before
    # and with that budget, the gate's checks run to their end, spending it all
    run = gate(tmp_path, "--base-url", correct_mock.base_url, "--suites", "gate",
               "--max-invites", str(GATE_CHECK_INVITES))
    assert run.status == 0, run.stdout + run.stderr
    assert f"invites used: {GATE_CHECK_INVITES};" in run.stdout
    assert correct_mock.lists() == before


@pytest.mark.xdist_group("gate")
def test_gate_interrupted_by_sigterm_still_removes_what_it_created(
    correct_mock: MockProcess, tmp_path: Path
) -> None:
    # Given a gate run that has created members and is inside a suite
    before = correct_mock.lists()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAXGOOD_")}
    environment |= {"MAXGOOD_API_KEY": KEY_A, "MAXGOOD_API_KEY_B": KEY_B}
    process = subprocess.Popen(
        [str(BIN / "maxgood-contract"), "--base-url", correct_mock.base_url, *SMALL_BUDGET],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    assert process.stderr is not None
    for line in process.stderr:
        if "running the contract suite" in line:
            break
    # When SIGTERM arrives
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    # Then it cleans up first, says so, and exits 143
    assert process.returncode == 128 + signal.SIGTERM, stdout + stderr
    assert "interrupted by SIGTERM" in stdout
    assert correct_mock.lists() == before


# --- the gate against faulty servers ----------------------------------------------------------


@pytest.mark.xdist_group("gate")
def test_gate_fails_a_server_whose_invite_overwrites_identity(
    mock_factory, tmp_path: Path
) -> None:
    # Given a server where inviting an existing email overwrites the person's profile (R2)
    faulty = mock_factory("invite_overwrites_identity")
    before = faulty.lists()
    # When the gate runs
    run = gate(tmp_path, "--base-url", faulty.base_url, *SMALL_BUDGET)
    # Then it exits 1 naming R2, with a reproduction in curl and the keys redacted
    assert run.status == 1, run.stdout + run.stderr
    assert "R2" in run.failed
    failure = run.testcase("R2").find("failure")
    assert "curl" in failure.text and "Bearer <redacted>" in failure.text
    assert "FAIL R2" in run.stdout
    assert KEY_A not in run.everything and KEY_B not in run.everything
    # and still writes to nothing it did not create
    assert faulty.lists() == before


# The catalogued faults a production-safe run cannot witness, each with the reason; the same
# list, with the same reasons, is in docs/GATE.md. Every other fault fails the gate's own checks
# under the default budgets.
UNWITNESSABLE = {
    "owner_removable": "R9: only --probe-owner writes to an owner",
    "owner_demotable": "R9: only --probe-owner writes to an owner",
    "seat_limit_off_by_one": "R7: reaching a seat limit costs 25 to 500 invites",
    "invite_rate_limit_off": "R7: reaching the hourly limit costs 60 invites",
}


@pytest.mark.xdist_group("gate-faults")
@pytest.mark.parametrize("fault", sorted(set(CATALOGUE) - set(UNWITNESSABLE)))
def test_gate_under_its_default_budgets_names_the_rule_each_fault_breaks(
    mock_factory, tmp_path: Path, fault: str
) -> None:
    # Given a server with one catalogued fault, members before the run in both Avatars
    faulty = mock_factory(fault)
    # (one page: a list that shows removed members cannot be paged through)
    page = 100 if fault == "list_shows_removed" else 2
    before = faulty.lists(page)
    # When the gate's own checks run with their default budgets (no budget option given)
    run = gate(tmp_path, "--base-url", faulty.base_url, "--suites", "gate")
    # Then it fails, naming the rule the fault breaks, and leaves every member as it was
    assert run.status == 1, run.stdout + run.stderr
    assert CATALOGUE[fault].rule in run.failed, run.stdout
    after = faulty.lists(page)
    if fault == "list_shows_removed":  # the run's removed members still listed: the fault itself
        after = {key: listed_only(after[key], before[key]) for key in after}
    assert after == before


def test_the_faults_the_gate_cannot_witness_are_the_ones_its_docs_list() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "GATE.md").read_text(encoding="utf-8")
    section = docs.split("### What a production-safe run cannot witness", 1)[1].split("\n#", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert listed == set(UNWITNESSABLE) and listed <= set(CATALOGUE)


# --- R9 on a real server, by choice (--probe-owner, FUZZ_PROBE_OWNER=1) -------------------------


def members_of(pages: bytes) -> dict[str, dict]:
    return {m["user_id"]: m for line in pages.splitlines() for m in json.loads(line)}


def owners(pages: dict[str, bytes]) -> dict[str, dict]:
    return {key: next(m for m in members_of(text).values() if m["membership"]["is_owner"])
            for key, text in pages.items()}


def without(member: dict, *names: str) -> dict:
    return {**member, "membership": {k: v for k, v in member["membership"].items()
                                     if k not in names}}


@pytest.mark.xdist_group("gate-faults")
def test_gate_probe_owner_passes_owners_the_server_protects_and_touches_nothing(
    mock_factory, tmp_path: Path
) -> None:
    # Given a server that protects its owners
    server = mock_factory()
    before = server.lists()
    # When the gate probes the owners on purpose
    run = gate(tmp_path, "--base-url", server.base_url, "--suites", "gate", "--probe-owner")
    # Then R9 is judged and passes, and every member, the owners too, is exactly as it was
    assert run.status == 0, run.stdout + run.stderr
    case = run.testcase("R9")
    assert case.find("skipped") is None and case.find("failure") is None
    assert server.lists() == before


@pytest.mark.xdist_group("gate-faults")
@pytest.mark.parametrize("fault", ["owner_demotable", "owner_removable"])
def test_gate_probe_owner_fails_r9_and_puts_the_owner_back_at_once(
    mock_factory, tmp_path: Path, fault: str
) -> None:
    # Given a server that lets an owner be demoted, or removed
    server = mock_factory(fault)
    before = server.lists()
    # When the gate probes the owners on purpose
    run = gate(tmp_path, "--base-url", server.base_url, "--suites", "gate", "--probe-owner")
    # Then it fails R9, naming the write that was accepted
    assert run.status == 1, run.stdout + run.stderr
    assert run.failed == {"R9"}, run.stdout
    assert "want 409 owner_protected" in run.testcase("R9").find("failure").text
    # And each owner is back at once, as far as the API allows: demoted, every field but
    # updated_at as it was; removed, listed again with the same membership fields, and the run
    # says what it could not give back (is_owner, joined_at)
    after = server.lists()
    for key, owner in owners(before).items():
        now = members_of(after[key])[owner["user_id"]]
        if fault == "owner_demotable":
            assert without(now, "updated_at") == without(owner, "updated_at")
        else:
            moved = ("is_owner", "joined_at", "updated_at")
            assert without(now, *moved) == without(owner, *moved)
            assert f"the owner {owner['user_id']}" in run.stdout and "by hand" in run.stdout
    # and nothing else changed
    for key in before:
        rest = {k: m for k, m in members_of(after[key]).items()
                if not m["membership"]["is_owner"]} if fault == "owner_demotable" else {}
        assert all(members_of(before[key])[k] == m for k, m in rest.items())


@pytest.mark.xdist_group("gate-faults")
def test_gate_without_probe_owner_never_writes_to_an_owner(mock_factory, tmp_path: Path) -> None:
    # Given a server that lets an owner be removed: a probe would remove them
    server = mock_factory("owner_removable")
    before = server.lists()
    # When the gate runs without --probe-owner
    run = gate(tmp_path, "--base-url", server.base_url, "--suites", "gate")
    # Then R9 is skipped, saying how to check it, and the owners are untouched
    assert run.status == 0, run.stdout + run.stderr
    assert "--probe-owner" in run.testcase("R9").find("skipped").get("message")
    assert server.lists() == before


def test_gate_refuses_probe_owner_with_read_only(tmp_path: Path) -> None:
    run = gate(tmp_path, "--base-url", "http://127.0.0.1:9/v1beta", "--probe-owner",
               "--read-only")
    assert run.status == 2 and "--probe-owner" in run.stderr


@pytest.mark.xdist_group("gate-faults")
@pytest.mark.parametrize(("fault", "verdict"), [("", "pass"), ("owner_demotable", "FAIL")])
def test_make_fuzz_with_fuzz_probe_owner_judges_r9_on_a_real_server(
    mock_factory, tmp_path: Path, fault: str, verdict: str
) -> None:
    # Given a server outside the process, with or without a broken R9
    server = mock_factory(*filter(None, [fault]))
    before = server.lists()
    # When make fuzz runs against it with FUZZ_PROBE_OWNER=1 (no suite and one worker: quick)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("MAXGOOD_", "FUZZ_"))} | {"FUZZ_DB": "none"}
    environment |= {"MAXGOOD_BASE_URL": server.base_url, "MAXGOOD_API_KEY": KEY_A,
                    "MAXGOOD_API_KEY_B": KEY_B, "FUZZ_PROBE_OWNER": "1", "FUZZ_MINUTES": "0.1",
                    "FUZZ_WORKERS": "1"}
    done = subprocess.run([sys.executable, "-m", "harness.fuzz", "--suites", "",
                           "--report-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env=environment, cwd=Path(__file__).parents[1])
    # Then R9 is judged, and fails only where the server broke it; the owners are as they were
    # (where one was demoted, put back: all but updated_at)
    assert (tmp_path / "summary.md").exists(), done.stdout + done.stderr
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    row = next(line for line in summary.splitlines() if line.startswith("| R9 |"))
    assert verdict in row, done.stdout + done.stderr
    assert (done.returncode == 1) is (verdict == "FAIL"), done.stdout + done.stderr
    after = server.lists()
    for key, owner in owners(before).items():
        now = members_of(after[key])[owner["user_id"]]
        assert without(now, "updated_at") == without(owner, "updated_at")
    if not fault:
        assert after == before


@pytest.mark.xdist_group("gate-faults")
def test_gate_read_only_catches_what_reads_show(mock_factory, tmp_path: Path) -> None:
    faulty = mock_factory("get_reads_other_avatar")
    run = gate(tmp_path, "--base-url", faulty.base_url, "--read-only", "--suites", "gate")
    assert run.status == 1, run.stdout + run.stderr
    assert "R1" in run.failed


def crashing_suite(target: object, **options: object) -> SuiteResult:
    raise KeyError("a field the suite did not expect")


@pytest.mark.xdist_group("gate")
def test_gate_never_passes_when_a_suite_could_not_run_to_its_end(
    correct_mock: MockProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a suite that crashes against a server that keeps the contract
    from gate import cli as gate_module
    from harness import suites

    monkeypatch.setattr(suites, "ENTRY_POINTS", {"stateful": (__name__, "crashing_suite")})
    monkeypatch.setenv("MAXGOOD_API_KEY", KEY_A)
    monkeypatch.setenv("MAXGOOD_API_KEY_B", KEY_B)
    # When the gate runs its own checks and that suite
    status = gate_module.main(["--base-url", correct_mock.base_url, "--suites", "gate,stateful",
                               "--report-dir", str(tmp_path), *SMALL_BUDGET])
    out = capsys.readouterr().out
    # Then it exits 2, not 0: the rules the suite left unjudged cannot pass
    assert status == 2, out
    assert "INCOMPLETE: the stateful suite stopped with KeyError" in out
    errors = [c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
              if c.find("error") is not None]
    run_errors = [c.find("error").get("message", "") for c in errors
                  if c.get("name") == "the run is complete"]
    assert len(run_errors) == 1 and "KeyError" in run_errors[0]
    # and R9, which the gate's checks skip by design and the suite was to judge, is an error of
    # its own: not judged, rather than skipped
    assert any(c.get("name", "").startswith("R9 ") for c in errors)


# --- misconfigured or unreachable: exit 2 with a clear message --------------------------------


@pytest.mark.xdist_group("gate-faults")
@pytest.mark.parametrize(("args", "env", "message"), [
    ([], {}, "no base URL"),
    (["--base-url", "http://127.0.0.1:9/v1beta"], {"MAXGOOD_API_KEY": ""}, "no API key"),
    (["--base-url", "ftp://example.com/v1beta"], {}, "not an http(s) URL"),
    (["--base-url", "http://127.0.0.1:{free}/v1beta"], {}, "connection refused"),
    (["--base-url", "http://no-such-host.invalid/v1beta"], {}, "does not resolve (DNS)"),
    (["--base-url", "{mock_root}"], {}, "does not look like the v1beta API"),
    (["--base-url", "{mock}"], {"MAXGOOD_API_KEY": "mgak_nobody.wrong-secret"},
     "key A (--api-key) was rejected"),
    (["--base-url", "{mock}"], {"MAXGOOD_API_KEY_B": "mgak_nobody.wrong-secret"},
     "key B (--api-key-b) was rejected"),
    (["--base-url", "{mock}"], {"MAXGOOD_API_KEY_B": KEY_A}, "same key"),
])
def test_gate_exits_2_saying_what_is_wrong(
    correct_mock: MockProcess, tmp_path: Path, args: list[str], env: dict[str, str],
    message: str
) -> None:
    values = {"free": free_port(), "mock": correct_mock.base_url,
              "mock_root": correct_mock.base_url.removesuffix("/v1beta")}
    run = gate(tmp_path, *(a.format(**values) for a in args), env=env)
    assert run.status == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert not (run.reports / "junit.xml").exists()


# --- the guard, in-process ---------------------------------------------------------------------


BASE = "http://api.test/v1beta"


def guard(**budget: object) -> Guard:
    return Guard(BASE, {"A": "key-a", "B": "key-b"}, "qa+{token}@example.com",
                 Budget(**budget))  # type: ignore[arg-type]


def prepared(method: str, path: str, body: object = None, key: str | None = "key-a"
             ) -> requests.PreparedRequest:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.Request(method, BASE + path, headers=headers,
                            json=body).prepare()


def answer(status: int, body: object = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode() if body is not None else b""
    response.headers["Content-Type"] = "application/json"
    return response


def send(g: Guard, request: requests.PreparedRequest, status: int = 200, body: object = None
         ) -> requests.Response:
    return g.send(request, lambda: answer(status, body))


def invited(user_id: str, existing: bool = False) -> dict[str, object]:
    return {"existing_user": existing, "member": {"user_id": user_id}}


@pytest.mark.xdist_group("gate-unit")
@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/users/usr_someone"), ("DELETE", "/users/usr_someone"),
    ("PATCH", "/users/usr_someone"), ("DELETE", "/users"), ("PUT", "/users"),
    ("POST", "/../_mock/reset"), ("POST", "/users/usr_someone"),
])
def test_guard_refuses_writes_to_what_the_run_did_not_create(method: str, path: str) -> None:
    g = guard()
    with pytest.raises(UnsafeRequest):
        send(g, prepared(method, path, {"notes": "x"}))
    assert g.requests == 0


@pytest.mark.xdist_group("gate-unit")
def test_guard_lets_the_run_write_to_its_own_members_only_through_the_right_key() -> None:
    g = guard()
    send(g, prepared("POST", "/users", {"email": "qa+t1@example.com"}), 201, invited("u1"))
    send(g, prepared("POST", "/users", {"email": "QA+T2@EXAMPLE.COM "}, key="key-b"), 201,
         invited("u2", existing=True))
    send(g, prepared("PUT", "/users/u1", {"notes": "mine"}))
    # A user the run created may be named by any key (a probe of R1 or R13) ...
    send(g, prepared("DELETE", "/users/u1", key="key-b"), 404)
    send(g, prepared("DELETE", "/users/u1", key=None), 401)
    # ... a user who existed before only through the key that invited them here.
    send(g, prepared("PUT", "/users/u2", {"notes": "mine"}, key="key-b"))
    with pytest.raises(UnsafeRequest):
        send(g, prepared("PUT", "/users/u2", {"notes": "not mine"}, key="key-a"))
    send(g, prepared("DELETE", "/users/u1"), 204)
    assert [(e.key, e.user_id, e.active) for e in g.entries()] == [
        ("A", "u1", False), ("B", "u2", True)]


@pytest.mark.xdist_group("gate-unit")
def test_guard_lets_only_the_owner_probe_name_the_owner_and_never_ledgers_it() -> None:
    # Given a guard whose request budget is already spent
    g = guard(max_requests=1, wind_down_requests=0)
    send(g, prepared("GET", "/users"))
    # Then outside the probe the owner is out of reach, as any member the run did not invite
    with pytest.raises(UnsafeRequest):
        send(g, prepared("PUT", "/users/own", {"is_admin": False}))
    # And inside it, through the owner's own key: the protected writes and putting them back,
    # whatever the budget says (an owner must never be left demoted for a spent budget)
    with g.probing_owner("A", "own", " Owner@Customer.example"):
        send(g, prepared("PUT", "/users/own", {"is_admin": False}))
        send(g, prepared("DELETE", "/users/own"), 204)
        send(g, prepared("POST", "/users", {"email": "owner@customer.example"}), 201,
             invited("own", existing=True))
        # but nobody else, and not through the other key
        for method, path, body, key in (("DELETE", "/users/own", None, "key-b"),
                                        ("PUT", "/users/someone", {"notes": "x"}, "key-a"),
                                        ("POST", "/users", {"email": "ceo@customer.example"},
                                         "key-a")):
            with pytest.raises(UnsafeRequest):
                send(g, prepared(method, path, body, key=key))
    # And the owner put back is no member of the run's: cleanup never removes them
    assert g.entries() == [] and g.invites == 1
    with pytest.raises(UnsafeRequest):
        send(g, prepared("DELETE", "/users/own"))


@pytest.mark.xdist_group("gate-unit")
def test_guard_refuses_invites_of_addresses_not_made_from_the_template() -> None:
    g = guard()
    with pytest.raises(UnsafeRequest, match="did not make"):
        send(g, prepared("POST", "/users", {"email": "ceo@customer.com"}))
    # Bodies without a usable email cannot invite anyone: negative tests go through.
    send(g, prepared("POST", "/users", {"email": 42}), 400)
    send(g, prepared("POST", "/users", {"profile": {}}), 400)


@pytest.mark.xdist_group("gate-unit")
def test_guard_refuses_past_the_request_invite_and_time_budgets() -> None:
    g = guard(max_requests=3, max_invites=1, wind_down_requests=1)
    send(g, prepared("POST", "/users", {"email": "qa+a@example.com"}), 201, invited("u1"))
    with pytest.raises(BudgetExhausted, match="invite budget"):
        send(g, prepared("POST", "/users", {"email": "qa+b@example.com"}))
    send(g, prepared("GET", "/users"))
    send(g, prepared("GET", "/users"))
    with pytest.raises(BudgetExhausted, match=r"request budget spent \(3 requests\)"):
        send(g, prepared("GET", "/users"))
    send(g, prepared("GET", "/users"))  # the wind-down: one more, for the suite's bookkeeping
    with pytest.raises(BudgetExhausted):
        send(g, prepared("GET", "/users"))
    send(g, prepared("DELETE", "/users/u1"), 204)  # removing its own member always goes

    now = [0.0]
    timed = Guard(BASE, {"A": "key-a"}, "qa+{token}@example.com", Budget(seconds=10),
                  clock=lambda: now[0])
    send(timed, prepared("GET", "/users"))
    now[0] = 11.0
    with pytest.raises(BudgetExhausted, match="time budget"):
        send(timed, prepared("GET", "/users"))


@pytest.mark.xdist_group("gate-unit")
def test_guard_honours_retry_after_within_bounds() -> None:
    now, slept = [0.0], []
    g = Guard(BASE, {"A": "key-a"}, "qa+{token}@example.com",
              Budget(seconds=100, retry_after_cap=30), clock=lambda: now[0],
              sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    limited = answer(429, {"code": "invite_rate_limited"})
    limited.headers["Retry-After"] = "3600"
    g.send(prepared("POST", "/users", {"email": "qa+x@example.com"}), lambda: limited)
    send(g, prepared("GET", "/users"))
    assert slept == [30.0]  # capped
    assert len(g.rate_limited) == 1  # kept to be judged against R7


@pytest.mark.xdist_group("gate-unit")
def test_guard_in_teardown_only_removes_the_runs_members() -> None:
    g = guard(max_requests=1)
    send(g, prepared("POST", "/users", {"email": "qa+a@example.com"}), 201, invited("u1"))
    g.teardown = True
    send(g, prepared("GET", "/users"))  # no budget in teardown
    with pytest.raises(UnsafeRequest):
        send(g, prepared("PUT", "/users/u1", {"notes": "x"}))
    send(g, prepared("DELETE", "/users/u1"), 204)


# --- comparing and reporting -------------------------------------------------------------------


@pytest.mark.xdist_group("gate-unit")
def test_instants_compare_across_precision_and_offset() -> None:
    assert instant("2026-01-01T10:00:00.123456789Z") == instant(
        "2026-01-01T11:00:00.123456+01:00")
    assert same({"a": "2026-01-01T10:00:00Z", "b": [1]},
                {"b": [1], "a": "2026-01-01T10:00:00.000Z"})
    assert not same({"flag": True}, {"flag": 1})
    assert not same({"notes": "x"}, {"notes": "x", "extra": None})


@pytest.mark.xdist_group("gate-unit")
def test_report_has_one_testcase_per_rule_with_failures_and_skips() -> None:
    gate_result = SuiteResult("gate", findings=[Finding(
        "R2", "gate", "R2 Invite never overwrites identity: changed",
        "curl -X POST https://api/users -H 'Authorization: Bearer key-a'")])
    gate_result.exercised.update({"R1": 3, "R2": 1})
    gate_result.skip("R9", "the owner is never written to", configured=True)
    report = RunReport("maxgood-contract", "https://api/v1beta", [gate_result],
                       requests=12, invites=2, secrets=["key-a"])
    root = ET.fromstring(report.junit())
    assert root.get("tests") == "15" and root.get("failures") == "1"
    cases = {c.get("name").split()[0]: c for c in root.iter("testcase")}
    assert "curl" in cases["R2"].find("failure").text
    assert cases["R9"].find("skipped").get("message") == "gate: the owner is never written to"
    assert cases["R1"].find("failure") is None and cases["R1"].find("skipped") is None
    for text in (report.junit(), report.markdown(), report.console()):
        assert "key-a" not in text
    assert "| R2 | Invite never overwrites identity | 1 | **FAIL** |" in report.markdown()
