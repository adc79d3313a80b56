"""Fuzz campaigns: `make fuzz` on every core, and on many machines, folded into one report.

    FUZZ_WORKERS=4 FUZZ_SHARD=2/3 FUZZ_DB=redis://ci-redis:6379/0 python -m harness.fuzz

A run has `FUZZ_WORKERS` worker processes (default: the machine's cores), each with its own
seed, its own Avatars and its own email tokens:

- against the embedded mock, the mock is served once, on granian, in a process of its own, and
  each worker makes two Avatars of its own through the mock's admin surface (an enterprise A,
  an essential B) and runs both suites on them. A worker's admin calls touch only its own
  Avatars (it empties their invite windows instead of moving the shared clock);
- against a real server (MAXGOOD_BASE_URL), the keys given are the only Avatars there are, and
  each suite judges what it sees in them whole (the stateful suite models every member, the
  contract suite plants members and invites people it finds): a second worker writing there
  at the same time would raise false alarms. So one worker runs, inviting addresses of its own
  (its shard's); run shards on several machines, each with keys of Avatars of its own.

Seeds: worker w of shard i/n fuzzes from `FUZZ_SEED + ((i - 1) * 100 + w) * 100000`, a range of
its own (the stateful suite moves to the next seed with each batch), so the shards of a CI
matrix that share FUZZ_SEED never repeat each other. Every finding names its worker's seed.

Everything the workers saw folds into the one summary per rule (`harness.reporting`), which
states the workers, and the requests and invites of all of them; `summary.json` beside it is
what `python -m harness.merge` folds across shards. While the run goes, `harness.progress`
shows it; Ctrl-C stops every worker, prints the summary of what was done and removes what the
run created (the mock's process, with every Avatar in it; on a real server, every member the
run invited).
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from harness import exampledb
from harness.coverage import Reached, expected_answers
from harness.progress import Telemetry, View
from harness.report import Finding, SuiteResult
from harness.reporting import RunReport, merge
from harness.target import Target

SEED_STRIDE = 100_000  # seeds of one worker: its own range
SHARD_BLOCK = 100  # workers a shard may have before its range meets the next shard's
SAFETY_CAP = 10**9  # the shared mock's platform cap: no worker's invites may refuse another's
START_TIMEOUT = 60.0
STOP_WAIT_SECONDS = 90.0  # after Ctrl-C: how long the workers have to finish and clean up
MOCK_THREADS = 8
JSON_NAME = "summary.json"
NOT_SHRUNK = "(seen by a check before the run was interrupted; not shrunk)"


# -- options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """This machine's part of a campaign: shard `index` of `count` (1-based)."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        text = (text or "").strip()
        if not text:
            return cls()
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise SystemExit(f"FUZZ_SHARD must be i/n (e.g. 2/4), not {text!r}") from None
        if not 1 <= index <= count:
            raise SystemExit(f"FUZZ_SHARD {text!r}: i must be between 1 and n")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def add_options(parser: argparse.ArgumentParser) -> None:
    """The campaign's options of `python -m harness.fuzz`."""
    env = os.environ.get
    parser.add_argument("--workers", type=int,
                        default=int(env("FUZZ_WORKERS") or 0) or os.cpu_count() or 1,
                        help="worker processes (default: the machine's cores) [FUZZ_WORKERS]")
    parser.add_argument("--shard", default=env("FUZZ_SHARD") or "",
                        help="this machine's shard of a campaign, i/n [FUZZ_SHARD]")
    parser.add_argument("--db", default=env("FUZZ_DB") or "",
                        help="the example database: a directory (default "
                        f"{exampledb.DEFAULT_DIRECTORY}), redis://host:port/n, or none [FUZZ_DB]")


def worker_seed(seed: int, shard: Shard, worker: int) -> int:
    """The first seed of worker `worker` (0-based) of `shard`: a range no other worker uses."""
    return seed + ((shard.index - 1) * SHARD_BLOCK + worker) * SEED_STRIDE


def worker_template(template: str, shard: Shard, worker: int) -> str:
    """The worker's own addresses: the run's template, its token prefixed with the worker's."""
    return template.replace("{token}", f"s{shard.index}w{worker + 1}x{{token}}", 1)


# -- the shared mock ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def shared_mock(faults: tuple[str, ...] = ()
                ) -> Iterator[tuple[Target, Callable[[], None]]]:
    """The embedded mock served once, by granian in a process (group) of its own; and a call
    that waits until it answers (the workers start meanwhile: each waits for it too)."""
    from stateful_tests.runner import STATEFUL_MOCK_CONFIG

    # The limits the stateful suite's own mock has, which its examples reach (R7); no platform
    # cap, which the workers' invites would reach together.
    limits = STATEFUL_MOCK_CONFIG
    port = free_port()
    command = [sys.executable, "-m", "mock_server.cli", "--server", "granian", "--quiet",
               "--host", "127.0.0.1", "--port", str(port), "--threads", str(MOCK_THREADS),
               "--invites-per-hour", str(limits["invites_per_hour"]),
               "--essential-seats", str(limits["seat_limits"]["essential"]),
               "--enterprise-seats", str(limits["seat_limits"]["enterprise"]),
               "--safety-cap", str(SAFETY_CAP), *(f"--fault={name}" for name in faults)]
    # A session of its own: Ctrl-C on the terminal reaches the run, which stops the mock last.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    root = f"http://127.0.0.1:{port}"
    try:
        yield (Target(base_url=root + "/v1beta", key_a="", admin_url=root + "/_mock"),
               lambda: _wait_until_up(process, root + "/_mock/faults"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"the mock did not start (exit {process.returncode}): "
                               f"{error[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the mock did not answer {url} within {START_TIMEOUT:.0f}s")


def own_avatars(mock: Target, session: requests.Session | None = None) -> Target:
    """Two new Avatars of the shared mock, for one worker: A enterprise, B essential."""
    assert mock.admin_url is not None
    session = session or requests.Session()
    made = []
    up_by = time.monotonic() + START_TIMEOUT  # a worker may start before the mock answers
    for letter, kind in (("a", "enterprise"), ("b", "essential")):
        token = secrets.token_hex(5)
        body = {"type": kind, "name": f"Campaign {letter.upper()} {token}",
                "owner_email": f"owner-{letter}-{token}@campaign.example"}
        while True:
            try:
                answer = session.post(mock.admin_url + "/avatars", timeout=30, json=body)
                break
            except requests.ConnectionError:
                if time.monotonic() > up_by:
                    raise
                time.sleep(0.1)
        answer.raise_for_status()
        made.append(answer.json())
    return dataclasses.replace(mock, key_a=made[0]["api_key"], key_b=made[1]["api_key"],
                               own_avatars=(made[0]["avatar_id"], made[1]["avatar_id"]))


# -- a worker -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What one worker process does."""

    worker: int
    seed: int
    suites: tuple[str, ...]
    seconds: float  # its share of the run's time
    deadline: float  # time.time() by which its suites end: start-up counts against the share
    profile: str
    template: str
    target: Target  # the shared mock (no keys yet) or the real server
    database: str  # FUZZ_DB


@dataclass
class WorkerOutcome:
    """What a worker sends back when it ends."""

    worker: int
    seed: int
    results: list[SuiteResult] = field(default_factory=list)
    requests: int = 0
    invites: int = 0
    incomplete: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    suites: tuple[str, ...] = ()  # the suites it was given
    finished: list[str] = field(default_factory=list)  # those that ran to their end
    answers: list[tuple[tuple[str, int, str], int]] = field(default_factory=list)
    interrupted: bool = False


def work(job: Job, events: Any, stop: Any) -> None:
    """A worker process: its suites, on its own Avatars, with its seed; results to `events`."""
    # A session of its own: Ctrl-C on the terminal reaches the parent only, which stops the
    # workers through `stop`: then a KeyboardInterrupt in the suite, as Ctrl-C would raise.
    os.setsid()
    os.environ["HYPOTHESIS_PROFILE"] = job.profile
    os.environ["MAXGOOD_EMAIL_TEMPLATE"] = job.template
    outcome = WorkerOutcome(job.worker, job.seed, suites=job.suites)
    telemetry = Telemetry(worker=job.worker, sink=events.put)

    def watch() -> None:
        stop.wait()
        _thread.interrupt_main()  # KeyboardInterrupt in the suite, as Ctrl-C would be

    threading.Thread(target=watch, name="stop", daemon=True).start()
    try:
        with exampledb.activated(exampledb.open_database(job.database)), telemetry.installed():
            run_suites(job, outcome, telemetry, stop)
    except KeyboardInterrupt:
        outcome.interrupted = True
    except BaseException as error:  # reported, never lost: the run is then incomplete
        outcome.incomplete.append(f"worker {job.worker + 1} stopped with "
                                  f"{type(error).__name__}: {error}")
    outcome.answers = list(telemetry.answers.items())
    while True:  # the stop's KeyboardInterrupt may come late: the result must still go out
        try:
            events.put({"kind": "done", "worker": job.worker, "outcome": outcome})
            return
        except KeyboardInterrupt:
            outcome.interrupted = True


def run_suites(job: Job, outcome: WorkerOutcome, telemetry: Telemetry,
               stop: Any = None) -> None:
    from harness import fuzz

    target = job.target
    if target.is_embedded:
        target = own_avatars(target)
    report = RunReport(title="worker", target=target.base_url)
    report.requests, report.invites = 0, 0
    started = time.monotonic()
    running, before, sent = "", dict(telemetry.exercised), 0
    try:
        for index, suite in enumerate(job.suites):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            running = suite
            remaining = min(job.seconds - (time.monotonic() - started),
                            job.deadline - time.time())
            share = max(remaining / (len(job.suites) - index), 1.0)
            before, sent = dict(telemetry.exercised), telemetry.requests
            troubles = len(report.incomplete) + len(report.notes)
            telemetry.set_suite(suite, "running")
            result = fuzz.fuzz_suite(suite, target, (), share, job.seed, job.profile, report)
            outcome.results.append(result)
            if len(report.incomplete) + len(report.notes) == troubles:
                outcome.finished.append(suite)  # it ran to its end
            telemetry.set_suite(suite, "done")
            running = ""
        if stop is not None and stop.is_set():
            outcome.interrupted = True
    except KeyboardInterrupt:
        outcome.interrupted = True
        if running:
            outcome.results.append(partial_result(running, telemetry, before, sent))
            telemetry.set_suite(running, "interrupted")
    finally:
        outcome.requests, outcome.invites = report.requests or 0, report.invites or 0
        outcome.incomplete += report.incomplete
        outcome.notes += report.notes
        outcome.leftovers += report.leftovers


def partial_result(suite: str, telemetry: Telemetry, before: dict[str, int],
                   sent: int) -> SuiteResult:
    """What an interrupted suite had done: the requests it sent, the rules its checks exercised,
    the violations they saw (as first seen, not shrunk)."""
    result = SuiteResult(suite=suite, requests=telemetry.requests - sent)
    for rule, count in telemetry.exercised.items():
        if count - before.get(rule, 0) > 0:
            result.exercised[rule] = count - before.get(rule, 0)
    for (seen_suite, rule), event in telemetry.first_seen.items():
        if seen_suite == suite:
            result.findings.append(Finding(rule, suite, f"{rule} {event['message']}\n\n"
                                           f"{NOT_SHRUNK}"))
    return result


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """The run's phases: each a set of workers that run at the same time."""

    phases: list[list[Job]]

    @property
    def workers(self) -> int:
        return max((len(phase) for phase in self.phases), default=0)


def plan(*, target: Target, real: bool, suites: list[str], seconds: float, seed: int,
         shard: Shard, workers: int, profile: str, template: str, database: str,
         start: float) -> Plan:
    """The phases and jobs of a run that began at `start` (time.time())."""

    def job(worker: int, names: list[str], share: float, ends: float) -> Job:
        return Job(worker, worker_seed(seed, shard, worker), tuple(names), share, ends,
                   profile, worker_template(template, shard, worker), target, database)

    if not real:
        return Plan([[job(w, suites, seconds, start + seconds) for w in range(workers)]])
    # A real server's Avatars are the keys given, shared by every worker: each suite judges
    # what it sees in them whole (the stateful suite models every member; the contract suite
    # plants members in B and invites people it finds), so a second worker writing there at
    # the same time would raise false alarms. One worker; shards with keys of their own.
    return Plan([[job(0, suites, seconds, start + seconds)]])


def run(args: argparse.Namespace, *, faults: tuple[str, ...], external: Target | None,
        seed: int, profile: str, suites: list[str], template: str,
        first: Callable[[RunReport], SuiteResult] | None = None) -> int:
    """A campaign run of `python -m harness.fuzz` (see the module docstring); its exit status.
    `first` runs before the workers, in this process (the owner probe, FUZZ_PROBE_OWNER=1)."""
    shard = Shard.parse(args.shard)
    workers = max(1, args.workers) if external is None else 1  # see plan()
    seconds = args.minutes * 60
    where = external.base_url if external else (
        f"the embedded mock{' with ' + ', '.join(faults) if faults else ''}")
    database = exampledb.open_database(args.db)
    replay = (f"make fuzz FUZZ_SEED={seed} FUZZ_MINUTES={args.minutes:g} FUZZ_WORKERS={workers}"
              + (f" FUZZ_SHARD={shard}" if shard.count > 1 else "")
              + (f" FUZZ_FAULTS={','.join(faults)}" if faults else ""))
    print(f"FUZZ_SEED={seed}  (replay: {replay})", flush=True)
    print(f"fuzzing {where} for {args.minutes:g} min with HYPOTHESIS_PROFILE={profile}: "
          f"{', '.join(suites)}; {workers} workers"
          + (f", shard {shard}" if shard.count > 1 else "")
          + f"; example database: {exampledb.describe(args.db)}", flush=True)
    saved = exampledb.saved_failures(database)
    for entries in saved.values():
        print(f"replaying first: {entries[0][1].describe()}", flush=True)
    report = RunReport(
        title="make fuzz", target=where, seed=seed,
        facts=[("profile", profile), ("minutes", f"{args.minutes:g}"),
               ("workers", f"{workers}, seeds from "
                f"{', '.join(str(worker_seed(seed, shard, w)) for w in range(workers))}"),
               *([("shard", str(shard))] if shard.count > 1 else []),
               ("example database", exampledb.describe(args.db))],
        secrets=[k for k in (external.key_a, external.key_b) if k] if external else [])
    report.requests, report.invites = 0, 0
    if first is not None:
        report.results.append(first(report))
    started, began = time.monotonic(), time.time()
    outcomes: list[WorkerOutcome] = []
    view = View(seconds=seconds, workers=workers, out=sys.stdout)
    interrupted = False
    with contextlib.ExitStack() as stack:
        ready: Callable[[], None] | None = None
        if external is None:
            target, ready = stack.enter_context(shared_mock(faults))
            print(f"the mock, served once for every worker: {target.base_url}", flush=True)
        else:
            target = external
        the_plan = plan(target=target, real=external is not None, suites=suites,
                        seconds=seconds, seed=seed, shard=shard, workers=workers,
                        profile=profile, template=template, database=args.db, start=began)
        with view.shown():
            for phase in the_plan.phases:
                done, interrupted = run_phase(phase, view, ready)
                ready = None
                outcomes += done
                if interrupted:
                    break
    report.seconds = time.monotonic() - started
    fold(report, outcomes, workers)
    if interrupted:
        report.incomplete.append("interrupted (Ctrl-C): the summary covers what was done "
                                 "until then")
    # A suite ran to its end if every worker given it did: only then can a saved failure of
    # it that did not fail again be called fixed.
    given = {suite for outcome in outcomes for suite in outcome.suites}
    finished = {suite for suite in given
                if all(suite in o.finished for o in outcomes if suite in o.suites)}
    verdicts = exampledb.settle(database, saved, report.findings,
                                finished if not interrupted else set())
    report.notes += verdicts.notes()
    reached = Reached()
    for outcome in outcomes:
        reached.add(outcome.answers)
    add_reached(report, reached)
    print()
    print(report.console())
    print(f"\nreplay: {replay}")
    if args.report_dir:
        report.write(args.report_dir)
        write_json(report, reached, Path(args.report_dir) / JSON_NAME, workers=workers,
                   shard=shard, seen=view.seen(), verdicts=verdicts.as_json())
    if interrupted:
        return 130
    return report.exit_status()


def run_phase(jobs: list[Job], view: View, ready: Callable[[], None] | None = None
              ) -> tuple[list[WorkerOutcome], bool]:
    """Run `jobs` at once, each in a process; their outcomes, and whether Ctrl-C stopped them.

    `ready` waits for the target (the mock starting meanwhile) once the workers are started.
    """
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    stop = context.Event()
    processes = {job.worker: context.Process(target=work, args=(job, events, stop),
                                             name=f"fuzz-worker-{job.worker + 1}")
                 for job in jobs}
    for process in processes.values():
        process.start()
    outcomes: dict[int, WorkerOutcome] = {}
    interrupted = overran = False
    give_up = None  # after Ctrl-C: when to stop waiting for the workers
    hard_stop = time.monotonic() + max(job.seconds for job in jobs) * 2 + 120
    unready = ""  # why the target never came up
    while len(outcomes) < len(processes):
        try:
            if ready is not None:
                wait, ready = ready, None
                try:
                    wait()
                except RuntimeError as error:
                    unready = str(error)
                    stop.set()
                    give_up = time.monotonic() + STOP_WAIT_SECONDS
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                if _all_ended(processes, outcomes) or (give_up and time.monotonic() > give_up):
                    break
                if time.monotonic() > hard_stop and not stop.is_set():
                    stop.set()  # a worker far past its time: stop it, keep what it did
                    overran = True
                    give_up = time.monotonic() + STOP_WAIT_SECONDS
                continue
            if event["kind"] == "done":
                outcomes[event["worker"]] = event["outcome"]
            else:
                view.handle(event)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting
                break
            interrupted = True
            stop.set()
            give_up = time.monotonic() + STOP_WAIT_SECONDS
            view.console.print("interrupted: stopping the workers (Ctrl-C again to stop "
                               "waiting)", markup=False)
    for worker, process in processes.items():
        process.join(timeout=5 if worker in outcomes else 1)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
        if worker not in outcomes:
            lost = WorkerOutcome(worker, next(j.seed for j in jobs if j.worker == worker))
            lost.incomplete.append(f"worker {worker + 1} ended without a result "
                                   f"(exit status {process.exitcode})")
            outcomes[worker] = lost
    if unready:
        outcomes[min(outcomes)].incomplete.append(unready)
    if overran:
        for outcome in outcomes.values():
            if outcome.interrupted:
                outcome.incomplete.append(f"worker {outcome.worker + 1} was stopped far past "
                                          "its time")
    return [outcomes[w] for w in sorted(outcomes)], interrupted


def _all_ended(processes: dict[int, Any], outcomes: dict[int, WorkerOutcome]) -> bool:
    return all(not p.is_alive() for w, p in processes.items() if w not in outcomes)


def add_result(report: RunReport, result: SuiteResult, label: str,
               seen: set[tuple[str, str]]) -> None:
    """Add `result` to `report`, keeping only findings of a (suite, rule) not `seen` before:
    a later one is named in a note, as also found by `label`."""
    kept = []
    for finding in result.findings:
        key = (finding.suite, finding.rule)
        if key in seen:
            report.notes.append(f"{finding.rule} ({finding.suite}) also found by {label}")
            continue
        seen.add(key)
        kept.append(finding)
    result.findings = kept
    report.results.append(result)


def fold(report: RunReport, outcomes: list[WorkerOutcome], workers: int) -> None:
    """The workers' outcomes into the one report: one finding per suite and rule (the first
    worker's), the others named in a note."""
    seen: set[tuple[str, str]] = set()
    for outcome in outcomes:
        label = f"worker {outcome.worker + 1} (seed {outcome.seed})"
        for result in outcome.results:
            add_result(report, result, label, seen)
        report.requests = (report.requests or 0) + outcome.requests
        report.invites = (report.invites or 0) + outcome.invites
        prefix = f"{label}: " if workers > 1 else ""
        report.incomplete += [prefix + reason for reason in outcome.incomplete]
        report.notes += [prefix + note for note in outcome.notes]
        report.leftovers += outcome.leftovers
    report.results = merge(report.results)


def add_reached(report: RunReport, reached: Reached) -> None:
    expected = expected_answers()
    report.appendix.append(("Reached", reached.console(expected), reached.markdown(expected)))


class Local:
    """A run of one worker in this process (`FUZZ_WORKERS=1`): the same live view, example
    database, blind spots and summary.json as a campaign's."""

    def __init__(self, args: argparse.Namespace, report: RunReport) -> None:
        self.args, self.report = args, report
        self.database = exampledb.open_database(args.db)
        self.saved = exampledb.saved_failures(self.database)
        self.view = View(seconds=args.minutes * 60, workers=1, out=sys.stdout)
        self.telemetry = Telemetry(worker=0, sink=self.view.handle)
        self.finished: set[str] = set()
        self.verdicts = exampledb.Verdicts([], [], [], [])
        self.reached = Reached()
        report.facts += [("workers", "1 (this process)"),
                         ("example database", exampledb.describe(args.db))]

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        for entries in self.saved.values():
            print(f"replaying first: {entries[0][1].describe()}", flush=True)
        with (exampledb.activated(self.database), self.telemetry.installed(),
              self.view.shown()):
            yield

    @contextlib.contextmanager
    def suite(self, name: str) -> Iterator[None]:
        troubles = len(self.report.incomplete) + len(self.report.notes)
        self.telemetry.set_suite(name, "running")
        yield
        self.telemetry.set_suite(name, "done")
        if len(self.report.incomplete) + len(self.report.notes) == troubles:
            self.finished.add(name)

    def finish(self, interrupted: bool) -> None:
        """Judge the saved failures, and add what the run reached to the report."""
        self.verdicts = exampledb.settle(self.database, self.saved, self.report.findings,
                                         set() if interrupted else self.finished)
        self.report.notes += self.verdicts.notes()
        self.reached.add(self.telemetry.answers.items())
        add_reached(self.report, self.reached)

    def write_json(self, directory: str) -> Path:
        return write_json(self.report, self.reached, Path(directory) / JSON_NAME, workers=1,
                          shard=Shard(), seen=self.view.seen(),
                          verdicts=self.verdicts.as_json())


# -- JSON, for the merge of shards ----------------------------------------------------------------


def write_json(report: RunReport, reached: Reached, path: Path, *, workers: int, shard: Shard,
               seen: list[dict[str, Any]] | None = None,
               verdicts: dict[str, Any] | None = None) -> Path:
    """The report as data (keys redacted): what `python -m harness.merge` folds."""
    data = {
        "title": report.title, "target": report.target, "seed": report.seed,
        "seconds": report.seconds, "requests": report.total_requests,
        "invites": report.total_invites, "workers": workers, "shard": str(shard),
        "facts": [list(fact) for fact in report.facts],
        "results": [{
            "suite": r.suite, "requests": r.requests, "invites": r.invites,
            "seconds": r.seconds, "exercised": dict(r.exercised), "skipped": dict(r.skipped),
            "configured": sorted(r.configured), "incomplete": list(r.incomplete),
            "findings": [dataclasses.asdict(f) for f in r.findings]} for r in report.results],
        "incomplete": report.incomplete, "notes": report.notes, "leftovers": report.leftovers,
        "reached": reached.as_json(),
        "first_seen": seen or [],
        "database": verdicts or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.redact(json.dumps(data, indent=1, sort_keys=True)) + "\n",
                    encoding="utf-8")
    return path
