"""`make fuzz` (`python -m harness.fuzz`): both suites at fuzzing effort for a time budget.

    FUZZ_MINUTES=2 FUZZ_SEED=1234 FUZZ_FAULTS=invite_overwrites_identity python -m harness.fuzz

The budget is split evenly between the contract suite and the stateful suite, each run with
HYPOTHESIS_PROFILE=fuzz (unless another profile is set) against the embedded mock, a fresh one
per suite, with the named faults switched on; or against MAXGOOD_BASE_URL with MAXGOOD_API_KEY
[MAXGOOD_API_KEY_B], where `harness.guard` keeps every write on members the run created. The
seed is printed first, so a run can be replayed; the summary names each rule, how often it was
exercised, and for each failure the reproduction as curl commands (keys redacted).

FUZZ_WORKERS (default: the cores), FUZZ_SHARD and FUZZ_DB make it a campaign: harness.campaign.

With FUZZ_PROBE_OWNER=1 (off by default) against a real server, R9 is judged too: each
Avatar's owner is sent the writes R9 forbids (`maxgood-contract --probe-owner` does the same; its
risk is in docs/GATE.md), and one that is accepted is undone at once.

Exit status: 0 no rule broken, 1 some rule broken, 2 misconfigured or incomplete (a suite that
never started or was stopped before its end, by the guard, a crash or an answer it could not
handle; a request the guard refused as unsafe; a rule not judged for want of time or budget,
said with the FUZZ_MINUTES that would suffice; or no rule judged at all), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import sys
import time
from collections.abc import Iterator

from harness import campaign, exampledb
from harness.client import ApiClient
from harness.guard import Budget, Guard, UnsafeRequest
from harness.options import resolve_email_template, seed_from_env
from harness.report import SuiteResult
from harness.reporting import RunReport, merge
from harness.suites import SuiteUnavailable, not_started, run_suite, shortfall
from harness.target import Target, embedded_mock, target_from_env

# The stateful suite first: it reaches every rule within seconds (tests/test_suites_catch_faults),
# so a broken rule shows early, before the contract suite fuzzes the spec at length.
SUITES = ("stateful", "contract")
# A suite keeps its own time but may overrun by up to a batch; the guard's stop loses what it
# found, so the guard stops a suite only well past its share: twice it, and a minute and a half.
GRACE_FACTOR, GRACE_SECONDS = 2.0, 90.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m harness.fuzz",
        description="Both suites with the fuzz profile for a time budget, then a summary per "
        "rule. Against the embedded mock unless MAXGOOD_BASE_URL is set.")
    parser.add_argument("--minutes", type=float, default=float(env("FUZZ_MINUTES") or 2),
                        help="the time budget, split between the suites [FUZZ_MINUTES]")
    parser.add_argument("--seed", type=int, default=seed_from_env(),
                        help="replay a run with its seed [FUZZ_SEED]")
    parser.add_argument("--fault", action="append", default=None, metavar="NAME",
                        help="switch on a fault of the embedded mock (repeatable) [FUZZ_FAULTS]")
    parser.add_argument("--base-url", default=None,
                        help="fuzz this server instead of the mock [MAXGOOD_BASE_URL]")
    parser.add_argument("--probe-owner", action="store_true",
                        default=env("FUZZ_PROBE_OWNER") == "1",
                        help="against a real server, also try to demote and remove each "
                        "Avatar's owner (R9), undoing an accepted write at once; see "
                        "docs/GATE.md for the risk [FUZZ_PROBE_OWNER=1]")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help="which suites, comma-separated (default %(default)s)")
    parser.add_argument("--report-dir",
                        help="also write junit.xml, summary.md and summary.json here")
    campaign.add_options(parser)
    return parser.parse_args(argv)


def faults_from(args: argparse.Namespace) -> tuple[str, ...]:
    from mock_server.faults import CATALOGUE

    named = args.fault if args.fault is not None else re.split(
        r"[\s,]+", os.environ.get("FUZZ_FAULTS", "").strip())
    faults = tuple(name for name in named if name)
    unknown = sorted(set(faults) - set(CATALOGUE))
    if unknown:
        raise SystemExit(f"unknown fault(s) {unknown}; see `maxgood-mock --list-faults`")
    return faults


def email_template() -> str:
    return resolve_email_template()


@contextlib.contextmanager
def counted(target: Target | None, seconds: float, template: str) -> Iterator[Guard]:
    """Count every request and invite on the wire; against a real server, keep writes to what
    the run created; stop a suite that overruns its share of the time."""
    external = target is not None and target.admin_url is None
    keys: dict[str, str] = {}
    if target is not None:
        keys = {"A": target.key_a} | ({"B": target.key_b} if target.key_b else {})
    guard = Guard(
        base_url=target.base_url if target else "http://embedded.invalid",
        keys=keys,
        email_template=template,
        budget=Budget(seconds=seconds * GRACE_FACTOR + GRACE_SECONDS),
        enforce_ledger=external,
        honour_retry_after=external,
    )
    with guard.installed():
        yield guard


def remove_leftovers(guard: Guard, target: Target) -> list[str]:
    """Remove what a suite created on a real server and did not remove itself."""
    guard.teardown = True
    clients = {"A": ApiClient(target.base_url, target.key_a, name="A")}
    if target.key_b:
        clients["B"] = ApiClient(target.base_url, target.key_b, name="B")
    leftovers = []
    for entry in guard.entries(active=True):
        client = clients.get(entry.key)
        answer = client.remove(entry.user_id) if client else None
        if answer is None or answer.status not in (204, 404):
            leftovers.append(f"Avatar {entry.key}: user {entry.user_id} ({entry.email})")
    return leftovers


def fuzz_suite(name: str, external: Target | None, faults: tuple[str, ...], seconds: float,
               seed: int, profile: str, report: RunReport) -> SuiteResult:
    """Fuzz one suite for `seconds` against `external`, or a fresh embedded mock with `faults`."""
    template = email_template()
    with contextlib.ExitStack() as stack:
        target = external
        if target is None and name == "contract":
            target = stack.enter_context(embedded_mock(faults))
        guard = stack.enter_context(counted(target, seconds, template))
        # Given no target, the stateful suite starts its own mock, with limits it can reach.
        try:
            outcome = run_suite(name, target, seconds=seconds, seed=seed, profile=profile,
                                email_template=template, faults=faults if target is None else ())
        finally:  # also when interrupted: what the run created goes
            if external is not None:
                report.leftovers += remove_leftovers(guard, external)
            report.requests = (report.requests or 0) + guard.requests
            report.invites = (report.invites or 0) + guard.invites
            report.refusals = (report.refusals or 0) + len(guard.refusals)
    result = outcome.result
    result.requests = result.requests or guard.requests
    unsafe = [r for r in guard.refusals if isinstance(r, UnsafeRequest)]
    if unsafe:
        # The suite tried to touch data it did not create: whatever it judged, it did not run
        # as it promised, and the guard's refusal may have cut a check short.
        result.incomplete.append(f"the guard refused {len(unsafe)} unsafe request(s) of the "
                                 f"{name} suite, first: {unsafe[0]}")
    # Said at the run's level too, where the campaign tells a suite that ran to its end.
    report.incomplete += [r for r in result.incomplete if r not in report.incomplete]
    return result


def owner_probe(target: Target, report: RunReport) -> SuiteResult:
    """R9 on a real server, by choice: the gate's own probe of the owners (--probe-owner)."""
    from gate.scenarios import owner_protection  # the gate's check, not a copy of it

    with counted(target, 60.0, email_template()) as guard:
        try:
            result, notes = owner_protection(target, guard)
        finally:
            report.requests = (report.requests or 0) + guard.requests
            report.invites = (report.invites or 0) + guard.invites
    report.notes[:0] = notes  # an owner not wholly put back comes first
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    faults = faults_from(args)
    if not os.environ.get("HYPOTHESIS_PROFILE"):  # make exports it empty when unset
        os.environ["HYPOTHESIS_PROFILE"] = "fuzz"
    profile = os.environ["HYPOTHESIS_PROFILE"]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    # No suite at all judges nothing, unless the owner probe is asked for: then it runs alone.
    if (not suites and not args.probe_owner) or set(suites) - set(SUITES):
        print(f"--suites names no suite or an unknown one ({args.suites!r}); "
              f"the suites are {', '.join(SUITES)}", file=sys.stderr)
        return 2
    try:
        external = target_from_env(args.base_url)
    except SystemExit as error:
        print(f"harness.fuzz: {error}", file=sys.stderr)
        return 2
    if external is not None and faults:
        print("harness.fuzz: faults switch on only in the embedded mock; unset MAXGOOD_BASE_URL",
              file=sys.stderr)
        return 2
    try:  # a database it cannot reach, a shard it cannot read: misconfigured
        exampledb.open_database(args.db)
        shard = campaign.Shard.parse(args.shard)
    except SystemExit as error:
        print(f"harness.fuzz: {error}", file=sys.stderr)
        return 2
    if args.probe_owner and external is None:
        print("harness.fuzz: FUZZ_PROBE_OWNER=1 is for a real server (MAXGOOD_BASE_URL); the "
              "stateful suite judges R9 on the embedded mock anyway", file=sys.stderr)
    probe = external if args.probe_owner else None
    if args.workers > 1 or shard.count > 1:
        return campaign.run(args, faults=faults, external=external, seed=seed, profile=profile,
                            suites=suites, template=email_template(),
                            first=(lambda report: owner_probe(probe, report)) if probe else None)
    where = external.base_url if external else (
        f"the embedded mock{' with ' + ', '.join(faults) if faults else ''}")
    print(f"FUZZ_SEED={seed}  (replay: make fuzz FUZZ_SEED={seed} FUZZ_MINUTES={args.minutes:g}"
          f"{' FUZZ_FAULTS=' + ','.join(faults) if faults else ''})", flush=True)
    print(f"fuzzing {where} for {args.minutes:g} min with HYPOTHESIS_PROFILE={profile}: "
          f"{', '.join(suites)}", flush=True)
    started = time.monotonic()
    report = RunReport(title="make fuzz", target=where, seed=seed,
                       facts=[("profile", profile), ("minutes", f"{args.minutes:g}")],
                       secrets=[k for k in (external.key_a, external.key_b) if k]
                       if external else [])
    report.requests, report.invites, report.refusals = 0, 0, 0
    budget = args.minutes * 60
    shares: dict[str, float] = {}
    interrupted = False
    local = campaign.Local(args, report)  # the live view, example database and what was reached
    try:
        with local.watching():
            if probe is not None:
                print("-- the owners (FUZZ_PROBE_OWNER=1): R9", flush=True)
                report.results.append(owner_probe(external, report))
            for index, name in enumerate(suites):
                remaining = budget - (time.monotonic() - started)
                share = remaining / (len(suites) - index)
                shares[name] = max(share, 0.0)
                if share < 1.0:
                    print(f"-- {name} suite: no time left", flush=True)
                    report.results.append(not_started(name, (
                        f"the suites before it used the whole budget of {budget:.0f}s" if index
                        else f"its share of the budget of {budget:.0f}s is under a second")))
                    continue
                print(f"-- {name} suite: up to {share:.0f}s", flush=True)
                try:
                    with local.suite(name):
                        result = fuzz_suite(name, external, faults, share, seed, profile,
                                            report)
                except SuiteUnavailable as missing:
                    report.results.append(not_started(name, str(missing)))
                    continue
                report.results.append(result)
                print(f"   {name}: {len(result.findings)} finding(s), {result.requests} "
                      f"requests, {result.seconds:.0f}s", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        report.notes.append("interrupted: the summary covers the suites that finished")
    report.results = merge(report.results)
    report.seconds = time.monotonic() - started
    report.shortfall = shortfall(shares, 0.0, budget, "FUZZ_MINUTES={}")
    local.finish(interrupted)
    print()
    print(report.console())
    print(f"\nreplay: make fuzz FUZZ_SEED={seed} FUZZ_MINUTES={args.minutes:g}"
          f"{' FUZZ_FAULTS=' + ','.join(faults) if faults else ''}")
    if args.report_dir:
        report.write(args.report_dir)
        local.write_json(args.report_dir)
    if interrupted:
        return 130
    return report.exit_status()


if __name__ == "__main__":
    sys.exit(main())
