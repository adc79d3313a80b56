"""`maxgood-contract`: the CI gate. Judges a deployed server against the contract, safely.

    maxgood-contract --base-url URL --api-key KEY [--api-key-b KEY_B] [--report-dir DIR]
    maxgood-contract cleanup --base-url URL --api-key KEY [--api-key-b KEY_B] [--report-dir DIR]

Exit status: 0 the target keeps the contract; 1 violations found (or the run's own members
could not all be removed although the server answered); 2 misconfigured, unreachable, or the
run could not be completed (the server stopped answering: what is left is listed, with the
`cleanup` command that removes it; a suite that never started or was stopped before its end; a
request the guard refused as unsafe; a rule not judged for want of budget, said with the
--max-minutes that would suffice; or no rule judged at all); 130 / 143 interrupted (SIGINT /
SIGTERM), after cleaning up.

A run, in order:

1. preflight: the URL answers, each key is accepted, GET /users looks like the API; members
   an earlier, killed run left behind are removed (`gate.cleanup`), never counted as anyone's;
2. record every pre-existing member of each Avatar (a full walk of the list);
3. the gate's own checks (`gate.scenarios`), then the suites, all under `harness.guard`: request,
   invite and time budgets, and writes only to members this run invited;
4. always, also after a failure or an interrupt: remove every membership the run created, then
   walk the lists again: each pre-existing member must be exactly as recorded (instants compared
   as instants); anything the run could not remove is listed in the report;
5. reports: a table on stdout, JUnit XML and Markdown in --report-dir.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import requests

from gate import cleanup as sweeper
from gate import ledger as ledgers
from gate.scenarios import GateChecks, Snapshot, walk
from harness.client import ApiClient, reproduction
from harness.guard import (
    Budget,
    BudgetExhausted,
    Guard,
    GuardRefusal,
    UnsafeRequest,
    email_pattern,
)
from harness.options import DEFAULT_EMAIL_TEMPLATE, seed_from_env
from harness.report import Finding, SuiteResult
from harness.reporting import RunReport, merge
from harness.rules import RULES, RuleViolation
from harness.suites import SuiteUnavailable, not_started, run_suite, shortfall
from harness.target import Target
from judge.members import differences

PROG = "maxgood-contract"
EXIT_OK, EXIT_VIOLATIONS, EXIT_UNUSABLE = 0, 1, 2
DEFAULT_MAX_INVITES = 20  # a third of the contract's 60 per Avatar per hour
DEFAULT_MAX_REQUESTS = 3000
DEFAULT_MAX_MINUTES = 10.0
SUITES = ("gate", "contract", "stateful")
# Successful invites the gate's own checks spend when they run to their end (measured on the
# mock; tests/test_gate.py holds this figure to what a run spends).
GATE_CHECK_INVITES = 6
CLEANUP_TIMEOUT = 15.0
# A pre-existing member that changed although nothing this run sent addressed it: the writes
# reached beyond what they named, which R1 (a key changes only its own, addressed scope) forbids.
UNTOUCHED_RULE = "R1"


def progress(message: str) -> None:
    """A line on stderr, so a CI log shows where a long run is."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


class Unusable(Exception):
    """The gate cannot judge this target: misconfigured or unreachable. Exit 2."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; cleanup still runs."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


# -- configuration ------------------------------------------------------------------------------


@dataclass
class Settings:
    base_url: str
    key_a: str
    key_b: str | None
    email_template: str
    budget: Budget
    read_only: bool
    suites: tuple[str, ...]
    report_dir: str | None
    junit: str | None
    markdown: str | None
    seed: int | None
    profile: str
    ledger: str | None = None
    probe_owner: bool = False

    @property
    def target(self) -> Target:
        return Target(base_url=self.base_url, key_a=self.key_a, key_b=self.key_b)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Judge a MaxGood.work v1beta server against the contract (R1–R14), writing "
        "only to members it creates and removing them at the end.",
        epilog="Exit status: 0 keeps the contract, 1 violations found, 2 misconfigured, "
        "unreachable or incomplete. `maxgood-contract cleanup --help`: remove what a killed "
        "run left. See docs/GATE.md.",
    )
    env = os.environ.get
    parser.add_argument("--base-url", default=env("MAXGOOD_BASE_URL"),
                        help="the API's base URL, ending in /v1beta [MAXGOOD_BASE_URL]")
    parser.add_argument("--api-key", default=env("MAXGOOD_API_KEY"),
                        help="an Avatar API key (Avatar A) [MAXGOOD_API_KEY]")
    parser.add_argument("--api-key-b", default=env("MAXGOOD_API_KEY_B"),
                        help="a key of a second Avatar, for the cross-Avatar rules R1/R14 "
                        "[MAXGOOD_API_KEY_B]")
    parser.add_argument("--email-template", default=env("MAXGOOD_EMAIL_TEMPLATE")
                        or DEFAULT_EMAIL_TEMPLATE,
                        help="addresses to invite; {token} is replaced by a unique token "
                        "(default %(default)s) [MAXGOOD_EMAIL_TEMPLATE]")
    parser.add_argument("--max-invites", type=int, default=DEFAULT_MAX_INVITES,
                        help="successful invites the run may spend, all Avatars together "
                        "(default %(default)s)")
    parser.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS,
                        help="requests the run may send, cleanup aside (default %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES,
                        help="time the run may take, cleanup aside (default %(default)s)")
    parser.add_argument("--retry-after-cap", type=float, default=60.0,
                        help="longest Retry-After wait honoured, in seconds (default %(default)s)")
    parser.add_argument("--read-only", action="store_true",
                        help="only checks that write nothing (a smoke test of production)")
    parser.add_argument("--probe-owner", action="store_true",
                        default=env("MAXGOOD_PROBE_OWNER") == "1",
                        help="also check R9 by trying to demote and remove each Avatar's owner; "
                        "an accepted write is undone at once, but a removed owner comes back "
                        "without is_owner: see docs/GATE.md before using it "
                        "[MAXGOOD_PROBE_OWNER=1]")
    parser.add_argument("--suites", default=env("MAXGOOD_GATE_SUITES") or ",".join(SUITES),
                        help="which to run, comma-separated, of gate (the gate's own checks), "
                        "contract, stateful (default %(default)s) [MAXGOOD_GATE_SUITES]")
    parser.add_argument("--report-dir", help="write junit.xml and summary.md here, and keep "
                        f"the run's ledger there ({ledgers.LEDGER_NAME})")
    parser.add_argument("--ledger", help="the ledger file, if not the one in --report-dir")
    parser.add_argument("--request-timeout", type=float, default=30.0,
                        help="the longest wait for one answer, in seconds (default %(default)s)")
    parser.add_argument("--junit", help="write the JUnit XML report to this file")
    parser.add_argument("--markdown", help="write the Markdown summary to this file")
    parser.add_argument("--seed", type=int, default=seed_from_env(),
                        help="the suites' random seed, to replay a run [FUZZ_SEED]")
    parser.add_argument("--profile", default=env("HYPOTHESIS_PROFILE") or "ci",
                        choices=("dev", "ci", "fuzz"),
                        help="the suites' effort (default %(default)s) [HYPOTHESIS_PROFILE]")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Validated settings; raises Unusable naming what is missing or wrong."""
    if not args.base_url:
        raise Unusable("no base URL: pass --base-url or set MAXGOOD_BASE_URL "
                       "(e.g. https://stageapi.maxgood.work/v1beta)")
    url = args.base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Unusable(f"the base URL {url!r} is not an http(s) URL "
                       "(e.g. https://stageapi.maxgood.work/v1beta)")
    if not args.api_key:
        raise Unusable("no API key: pass --api-key or set MAXGOOD_API_KEY")
    key_b = args.api_key_b or None
    if key_b == args.api_key:
        raise Unusable("--api-key-b is the same key as --api-key: the cross-Avatar checks need "
                       "a key of another Avatar")
    try:
        email_pattern(args.email_template)
    except ValueError as error:
        raise Unusable(str(error)) from None
    if "@" not in args.email_template:
        raise Unusable(f"the email template {args.email_template!r} is not an address")
    for name in ("max_invites", "max_requests", "max_minutes", "request_timeout"):
        if getattr(args, name) <= 0:
            raise Unusable(f"--{name.replace('_', '-')} must be positive")
    suites = tuple(s.strip() for s in args.suites.split(",") if s.strip())
    unknown = sorted(set(suites) - set(SUITES))
    if unknown or not suites:
        raise Unusable(f"unknown suite(s) {unknown}; choose from {', '.join(SUITES)}")
    if args.probe_owner and (args.read_only or "gate" not in suites):
        raise Unusable("--probe-owner writes to the owners through the gate's own checks: it "
                       "cannot go with --read-only, and --suites must include gate")
    return Settings(
        base_url=url,
        key_a=args.api_key.strip(),
        key_b=key_b.strip() if key_b else None,
        email_template=args.email_template,
        budget=Budget(max_requests=args.max_requests, max_invites=args.max_invites,
                      seconds=args.max_minutes * 60, retry_after_cap=args.retry_after_cap,
                      request_timeout=args.request_timeout),
        read_only=args.read_only,
        suites=suites,
        report_dir=args.report_dir,
        junit=args.junit,
        markdown=args.markdown,
        seed=args.seed,
        profile=args.profile,
        ledger=args.ledger,
        probe_owner=args.probe_owner,
    )


# -- preflight ----------------------------------------------------------------------------------


def unreachable(url: str, error: requests.RequestException) -> Unusable:
    """A message naming why `url` could not be reached."""
    text = str(error)
    host = urlsplit(url).netloc
    if isinstance(error, requests.exceptions.SSLError):
        why = f"the TLS handshake with {host} failed ({_root(error)})"
    elif isinstance(error, requests.exceptions.Timeout):
        why = f"{host} did not answer in time"
    elif any(s in text for s in ("Name or service not known", "nodename nor servname",
                                 "getaddrinfo failed", "Temporary failure in name resolution",
                                 "No address associated", "NameResolutionError")):
        why = f"the host name {urlsplit(url).hostname!r} does not resolve (DNS)"
    elif "Connection refused" in text or "ECONNREFUSED" in text or "Errno 111" in text:
        why = f"connection refused by {host}: nothing listens there"
    else:
        why = f"{type(error).__name__}: {_root(error)}"
    return Unusable(f"cannot reach {url}: {why}")


def _root(error: BaseException) -> str:
    while error.__context__ is not None and error.__context__ is not error:
        error = error.__context__
    return " ".join(str(error).split())[:200]


def preflight(client: ApiClient, target: Target, which: str) -> None:
    """One GET /users with the key; raises Unusable unless it looks like the API accepting it."""
    url = f"{target.base_url}/users"
    try:
        answer = client.list_page(1)
    except requests.RequestException as error:
        raise unreachable(target.base_url, error) from None
    hint = "the base URL is the API's root, ending in /v1beta (e.g. " \
        "https://stageapi.maxgood.work/v1beta)"
    if answer.status == 401:
        raise Unusable(f"{which} was rejected: GET {url} answered 401. Check that the key is "
                       "current (a revoked key is refused at once) and belongs to this "
                       "environment")
    if answer.status == 404:
        raise Unusable(f"{target.base_url} does not look like the v1beta API: GET {url} "
                       f"answered 404; {hint}")
    if 300 <= answer.status < 400:
        raise Unusable(f"GET {url} answered {answer.status}, a redirect to "
                       f"{answer.headers.get('Location')!r}: use the final URL")
    if answer.status == 403:
        raise Unusable(f"{which} may not list members: GET {url} answered 403")
    if answer.status >= 500:
        raise Unusable(f"GET {url} answered {answer.status}: the service is failing; try "
                       "again later")
    body = answer.body
    if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"),
                                                                            list):
        raise Unusable(f"{target.base_url} does not look like the v1beta API: GET {url} "
                       f"answered {answer.status} "
                       f"{(answer.headers.get('Content-Type') or '').split(';')[0]} without a "
                       f"page of members ({answer.text[:120]!r}); {hint}")


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """One gate run: its guard, clients, what existed before, and what it found."""

    settings: Settings
    guard: Guard
    marker: str  # in every address this run invites, so its members can be told apart
    clients: dict[str, ApiClient] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    results: list[SuiteResult] = field(default_factory=list)
    safety: SuiteResult = field(default_factory=lambda: SuiteResult(suite="cleanup"))
    notes: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    unauthenticated_emails: set[str] = field(default_factory=set)
    incomplete: list[str] = field(default_factory=list)  # what kept the run from judging all
    shares: dict[str, float] = field(default_factory=dict)  # seconds each suite was given
    suites_began: float | None = None  # seconds into the run when the suites started
    lost: str | None = None  # the server stopped answering during cleanup: why
    stranded: list[str] = field(default_factory=list)  # left because the server did not answer
    interrupted: int | None = None
    _emails: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))

    def fresh_email(self) -> str:
        return self.settings.email_template.format(token=f"{self.marker}g{next(self._emails)}")

    @property
    def suite_template(self) -> str:
        """The template handed to the suites: theirs too carry the run's marker."""
        return self.settings.email_template.replace("{token}", self.marker + "{token}")


def snapshot(client: ApiClient, key: str) -> Snapshot:
    members, pages = walk(client)
    return Snapshot(key, members, pages)


def run_checks(run: Run) -> None:
    """The gate's own checks, then the suites, each within what is left of the budget."""
    settings, target = run.settings, run.settings.target
    if "gate" in settings.suites:
        progress("running the gate's own checks")
        checks = GateChecks(target, run.guard, run.snapshots, run.fresh_email,
                            probe_owner=settings.probe_owner)
        try:
            run.results.append(checks.run(read_only=settings.read_only))
        except (GuardRefusal, RuntimeError) as error:
            run.results.append(not_started("gate", f"its checks stopped: {error}"))
        finally:
            run.unauthenticated_emails |= checks.unauthenticated_emails
            # An owner the R9 probe could not wholly put back: first among the notes (R9 fails).
            run.notes[:0] = checks.damage
        if checks.budget_spent:
            run.incomplete.append(f"the gate's checks stopped before their end: "
                                  f"{checks.budget_spent}{_would_suffice(checks.budget_spent)}")
        # A check that stopped on an answer it could not read judged less than it promised.
        run.incomplete += checks.errors
    suites = [s for s in settings.suites if s != "gate"]
    run.suites_began = run.guard.clock() - run.guard.started
    for index, name in enumerate(suites):
        if run.interrupted:
            raise Interrupted(run.interrupted)
        with run.guard.share(len(suites) - index):
            seconds, requests_left, invites_left = run.guard.left()
            run.shares[name] = max(seconds or 0.0, 0.0) if seconds is not None else float("inf")
            if (seconds is not None and seconds <= 1) or requests_left == 0:
                spent = "time" if seconds is not None and seconds <= 1 else "requests"
                run.results.append(not_started(name, f"the run's budget ({spent}) was spent "
                                               "before it"))
                continue
            progress(f"running the {name} suite (up to {seconds or 0:.0f}s, {requests_left} "
                     f"requests, {invites_left} invites)")
            try:
                outcome = run_suite(
                    name, target, seconds=seconds, seed=settings.seed, profile=settings.profile,
                    email_template=run.suite_template, max_invites=invites_left,
                    max_requests=requests_left, read_only=settings.read_only)
            except SuiteUnavailable as missing:
                run.results.append(not_started(name, str(missing)))
                continue
        if run.interrupted:
            raise Interrupted(run.interrupted)
        # A suite stopped early (the guard, a crash, a target that stopped answering) says so
        # in its result: the rules it left unjudged cannot pass.
        run.results.append(outcome.result)


def clean_up(run: Run) -> None:
    """Remove every membership the run created; verify what existed before is untouched."""
    guard = run.guard
    guard.teardown = True
    created = guard.entries(active=True)
    progress(f"cleaning up: removing {len(created)} membership(s) this run created, then "
             "verifying the pre-existing members")
    for entry in created:
        client = run.clients.get(entry.key)
        if client is None:
            run.leftovers.append(f"user {entry.user_id} ({entry.email}), created through an "
                                 "unknown key: no key to remove it with")
            continue
        _remove(run, client, entry.user_id, entry.email)
    for key, client in run.clients.items():
        before = run.snapshots.get(key)
        if before is None:
            continue
        if run.lost is not None:
            run.stranded.append(f"Avatar {key}: unverified, the server stopped answering")
            continue
        try:
            after, _ = walk(client)
        except requests.RequestException as error:
            run.lost = f"the final list walk of Avatar {key} got no answer ({error})"
            run.stranded.append(f"Avatar {key}: unverified, the final list walk got no answer")
            continue
        except RuleViolation as error:
            run.notes.append(f"could not list Avatar {key} after the run to verify it: {error}")
            run.leftovers.append(f"Avatar {key}: unverified, the final list walk failed")
            continue
        _verify_untouched(run, key, before, after, client)


def _remove(run: Run, client: ApiClient, user_id: str, email: str) -> bool:
    if run.lost is not None:
        # One member whose removals got no answer is enough: the rest wait for `cleanup`
        # rather than each costing the run three timeouts.
        run.stranded.append(f"Avatar {client.name}: user {user_id} ({email}); not tried: "
                            f"{run.lost}")
        return False
    attempts = 1 if run.guard.lost else 3  # a server already lost gets one more chance
    for attempt in range(attempts):
        try:
            answer = client.remove(user_id)
        except requests.RequestException as error:
            answer = None
            problem = f"{type(error).__name__}"
            if attempt == attempts - 1:
                run.lost = f"DELETE of {user_id} got no answer ({problem})"
                run.stranded.append(f"Avatar {client.name}: user {user_id} ({email}); DELETE "
                                    f"got no answer ({problem})")
                return False
        else:
            if answer.status in (204, 404):
                return True
            problem = f"{answer.status}"
        if answer is not None and answer.status == 429:
            time.sleep(min(float(answer.headers.get("Retry-After") or 1), 10))
        elif attempt < 2:
            time.sleep(0.5 * (attempt + 1))
    run.leftovers.append(f"Avatar {client.name}: user {user_id} ({email}); DELETE answered "
                         f"{problem}")
    return False


def _verify_untouched(run: Run, key: str, before: Snapshot, after: list[dict[str, Any]],
                      client: ApiClient) -> None:
    now = {m.get("user_id"): m for m in after}
    for member in before.members:
        user_id = member.get("user_id")
        run.safety.exercised[UNTOUCHED_RULE] += 1
        if user_id not in now:
            _untouched_failed(run, f"the pre-existing member {user_id} of Avatar {key} is no "
                              "longer listed after the run", client)
            continue
        moved = list(differences(member, now[user_id]))
        if moved:
            _untouched_failed(run, f"the pre-existing member {user_id} of Avatar {key} changed "
                              f"during the run, which never wrote to it: {'; '.join(moved[:6])}",
                              client)
    ours = run.marker.lower()
    known = {m.get("user_id") for m in before.members}
    ledger = {(e.key, e.user_id): e for e in run.guard.entries()}
    others = 0
    still_listed: list[str] = []
    for user_id, member in now.items():
        if user_id in known:
            continue
        email = str((member.get("profile") or {}).get("email") or "")
        if (key, user_id) in ledger:
            still_listed.append(user_id)
            run.leftovers.append(f"Avatar {key}: user {user_id} ({email}): DELETE answered "
                                 "204 or 404, yet the list still shows it")
        elif ours in email.lower():
            run.guard.adopt(key, user_id, email)
            if email.strip().lower() in run.unauthenticated_emails:
                run.safety.findings.append(Finding(
                    "R13", "cleanup", f"R13 {RULES['R13']}: {email} is a member of Avatar {key}"
                    ", although it was only ever invited without a valid key", ""))
            else:
                run.notes.append(f"removed {user_id} ({email}) from Avatar {key}: created by "
                                 "this run, though no answer said so")
            _remove(run, client, user_id, email)
        else:
            others += 1
    if still_listed:
        # Removed (204 or 404 above) yet still listed: the removal did not take, or the list
        # shows removed members (R1: the list holds only the key's active members).
        run.safety.findings.append(Finding(
            "R1", "cleanup", f"R1 {RULES['R1']}: Avatar {key} still lists {len(still_listed)} "
            f"member(s) after their DELETE: {', '.join(still_listed[:5])}",
            reproduction(e for e in client.exchanges if any(u in e.url for u in still_listed))))
    if others:
        run.notes.append(f"{others} member(s) joined Avatar {key} during the run that this run "
                         "did not invite (someone else's activity); left alone")


def _untouched_failed(run: Run, message: str, client: ApiClient) -> None:
    run.safety.findings.append(Finding(
        UNTOUCHED_RULE, "cleanup", f"{UNTOUCHED_RULE} {RULES[UNTOUCHED_RULE]}: {message} "
        "(another person's concurrent edit also shows here: gate an Avatar nobody else edits)",
        ""))


# -- signals ------------------------------------------------------------------------------------


@contextmanager
def signals_interrupt(run: Run) -> Iterator[Callable[[], None]]:
    """SIGINT/SIGTERM raise Interrupted until cleanup starts; during cleanup they are noted."""
    shielded = False

    def handler(signum: int, frame: FrameType | None) -> None:
        run.interrupted = run.interrupted or signum
        if shielded:
            print(f"{PROG}: {signal.Signals(signum).name}: removing what the run created "
                  "first", file=sys.stderr, flush=True)
            return
        raise Interrupted(signum)

    def shield() -> None:
        nonlocal shielded
        shielded = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield shield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# -- main ---------------------------------------------------------------------------------------


def execute(settings: Settings) -> tuple[RunReport, int]:
    """Run the gate; the report and the exit status. Raises Unusable before any write."""
    started = time.monotonic()
    target = settings.target
    keys = {"A": settings.key_a} | ({"B": settings.key_b} if settings.key_b else {})
    guard = Guard(target.base_url, keys, settings.email_template, settings.budget,
                  read_only=settings.read_only)
    run = Run(settings, guard, marker=f"mgc{secrets.token_hex(4)}")
    run.clients = {name: ApiClient(target.base_url, key, name=name,
                                   timeout=CLEANUP_TIMEOUT * 2) for name, key in keys.items()}
    book = sweeper.open_ledger(settings, run.marker, progress)
    guard.journal = book
    with guard.installed(), signals_interrupt(run) as shield:
        try:
            for name, client in run.clients.items():
                preflight(client, target, f"key {name} (--api-key{'-b' if name == 'B' else ''})")
            earlier = sweeper.before_run(run, book, progress)
            for name, client in run.clients.items():
                run.snapshots[name] = snapshot(client, name)
                earlier.exclude(run.snapshots[name])
                book.avatar(name, run.snapshots[name].avatar_id)
                progress(f"key {name}: Avatar {run.snapshots[name].avatar_id}, "
                         f"{len(run.snapshots[name].members)} pre-existing member(s) recorded")
            avatars = {name: snap.avatar_id for name, snap in run.snapshots.items()}
            if "B" in avatars and avatars["B"] is not None and avatars["A"] == avatars["B"]:
                raise Unusable("keys A and B belong to the same Avatar "
                               f"{run.snapshots['A'].avatar_id!r}: --api-key-b must be a key "
                               "of another Avatar")
        except RuleViolation as violation:
            raise Unusable(f"the list of members cannot be walked: {violation}") from None
        except BudgetExhausted as spent:
            raise Unusable(f"the budget is too small even to start: {spent.reason}") from None
        except requests.RequestException as error:
            raise unreachable(target.base_url, error) from None
        try:
            run_checks(run)
        except Interrupted as stop:
            run.interrupted = stop.signum
        except GuardRefusal as refusal:
            run.incomplete.append(f"the run was stopped by the guard: {refusal.reason}")
        except requests.RequestException as error:
            run.incomplete.append(str(unreachable(target.base_url, error)))
        finally:
            shield()
            clean_up(run)
            sweeper.after_run(run, book, progress)
    results = merge(run.results)
    if run.safety.findings or run.safety.exercised:
        results.append(run.safety)
    report = RunReport(
        title=f"{PROG}{' (read-only)' if settings.read_only else ''}",
        target=target.base_url,
        results=results,
        requests=guard.requests,
        invites=guard.invites,
        refusals=len(guard.refusals),
        seconds=time.monotonic() - started,
        seed=settings.seed,
        facts=_facts(settings, run),
        notes=run.notes + _guard_notes(guard),
        leftovers=run.leftovers + run.stranded,
        incomplete=run.incomplete + _unsafe_refusals(guard),
        shortfall=shortfall(run.shares, run.suites_began or 0.0,
                            settings.budget.seconds or 0.0, "--max-minutes {}")
        if settings.budget.seconds else [],
        secrets=[k for k in (settings.key_a, settings.key_b) if k],
    )
    if run.interrupted:
        report.notes.insert(0, f"interrupted by {signal.Signals(run.interrupted).name}; the "
                            "members created so far were removed")
        return report, 128 + run.interrupted
    if report.findings or run.leftovers:  # broken while the server answered
        return report, EXIT_VIOLATIONS
    if report.incompleteness() or run.lost:
        return report, EXIT_UNUSABLE
    return report, EXIT_OK


def _would_suffice(spent: str) -> str:
    """The budget that lets the gate's own checks run to their end, after what ran out."""
    if spent.startswith("invite budget"):
        return f"; --max-invites {GATE_CHECK_INVITES} would suffice for the gate's own checks"
    if spent.startswith("request budget"):
        return "; a larger --max-requests would let them end"
    return "; a larger --max-minutes would let them end"


def _unsafe_refusals(guard: Guard) -> list[str]:
    """A request refused as unsafe: a suite tried to touch what the run did not create."""
    unsafe = [r for r in guard.refusals if isinstance(r, UnsafeRequest)]
    if not unsafe:
        return []
    return [f"the guard refused {len(unsafe)} unsafe request(s), first: {unsafe[0]}"]


def _facts(settings: Settings, run: Run) -> list[tuple[str, str]]:
    budget = settings.budget
    return [
        ("mode", "read-only" if settings.read_only else
         "read and write (own members; the owners too: --probe-owner)" if settings.probe_owner
         else "read and write (own members only)"),
        ("keys", "A and B" if settings.key_b else "A only (cross-Avatar rules skipped)"),
        ("suites", ", ".join(settings.suites)),
        ("budget", f"{budget.max_requests} requests, {budget.max_invites} invites, "
                   f"{(budget.seconds or 0) / 60:g} min"),
        ("pre-existing members", ", ".join(f"{k} {len(s.members)}"
                                            for k, s in run.snapshots.items())),
        ("email template", run.suite_template.replace("{token}", "…")),
    ]


def _guard_notes(guard: Guard) -> list[str]:
    notes = []
    if guard.rate_limited:
        notes.append(f"{len(guard.rate_limited)} answer(s) were 429; Retry-After was honoured "
                     "and each was judged against R7")
    if guard.errors:
        notes.append(f"{guard.errors} request(s) got no answer (connection error or timeout)")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["cleanup"]:
        return sweeper.main(args[1:])
    try:
        settings = settings_from(parse_args(argv))
        report, status = execute(settings)
    except Unusable as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Interrupted as stop:  # during preflight: nothing was written yet
        print(f"{PROG}: interrupted by {signal.Signals(stop.signum).name} before any write",
              file=sys.stderr)
        return 128 + stop.signum
    print(report.console())
    written = []
    if settings.report_dir:
        written += report.write(settings.report_dir)
    for path, text in ((settings.junit, report.junit), (settings.markdown, report.markdown)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w", encoding="utf-8") as out:
                out.write(text())
            written.append(path)
    if written:
        print("reports: " + ", ".join(str(p) for p in written))
    return status


if __name__ == "__main__":
    sys.exit(main())
