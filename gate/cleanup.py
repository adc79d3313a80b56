"""`maxgood-contract cleanup`: remove what gate runs left behind, from their ledger and the lists.

    maxgood-contract cleanup --base-url URL --api-key KEY [--api-key-b KEY_B] [--report-dir DIR]

A run killed outright cannot remove its members; its ledger (`gate.ledger`) still names every
address it was about to invite and every member it created. The sweep removes, through the key
of the Avatar that holds it,

- every membership an unfinished run's ledger says it created and did not remove;
- every listed member whose address an unfinished run invited, though no answer was recorded
  (the run died between sending the invite and reading the answer);
- every listed member whose address is made from the email template with a gate run's marker
  (`qa+mgc1a2b3c4d…@example.com`): only a gate run makes those, and a finished run removes
  all of its own, so with one run at a time any still listed was left by a run that died.

It is idempotent: a member already gone answers 404 and is reported as such; a second sweep
finds nothing. Every DELETE goes through the guard in its cleanup mode, which admits only
removals of the members the sweep adopted. The same sweep runs at the start of every gate run,
before it records the pre-existing members, so a leftover is never counted as one.

Exit status: 0 nothing is left; 1 a member could not be removed although the server answered;
2 misconfigured, or the server stopped answering (run the command again later).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from gate import ledger as ledgers
from harness.client import ApiClient
from harness.guard import TOKEN_PATTERN, Guard, email_pattern
from harness.options import DEFAULT_EMAIL_TEMPLATE

if TYPE_CHECKING:
    from gate.cli import Run, Settings
    from gate.scenarios import Snapshot

PROG = "maxgood-contract cleanup"
# Every address a gate run invites carries its marker, "mgc" and 8 hex digits (gate.cli).
MARKER = r"mgc[0-9a-f]{8}"
EXIT_OK, EXIT_LEFT, EXIT_UNUSABLE = 0, 1, 2
ATTEMPTS = 3


def leftover_pattern(template: str) -> re.Pattern[str]:
    """Addresses a gate run makes from `template`: its token starts with a run marker."""
    email_pattern(template)  # the same validation as a run's
    before, after = template.split("{token}")
    rest = TOKEN_PATTERN.removesuffix("+") + "*"
    return re.compile(re.escape(before) + f"({MARKER}){rest}" + re.escape(after),
                      re.IGNORECASE | re.ASCII)


def member_email(member: dict[str, Any]) -> str:
    profile = member.get("profile")
    email = profile.get("email") if isinstance(profile, dict) else None
    return email.strip() if isinstance(email, str) else ""


@dataclass
class Target:
    """One member to remove, and why it is one."""

    key: str
    user_id: str
    email: str
    why: str
    run: str | None = None  # the ledger's run it belongs to, if any
    outcome: str = "pending"  # removed, gone, failed, skipped
    detail: str = ""


@dataclass
class Sweep:
    """What a sweep found and did."""

    ledger: Path | None
    runs: list[ledgers.RunRecord] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lost: str | None = None  # the server stopped answering: why

    def count(self, outcome: str) -> int:
        return sum(1 for t in self.targets if t.outcome == outcome)

    @property
    def left(self) -> list[Target]:
        return [t for t in self.targets if t.outcome in ("failed", "skipped")]

    def summary(self) -> str:
        return (f"found {len(self.targets)}, removed {self.count('removed')}, already gone "
                f"{self.count('gone')}, failed {len(self.left)}")

    def lines(self) -> list[str]:
        out = []
        if self.ledger is not None:
            open_runs = [r.run for r in self.runs if r.open]
            named = f": {', '.join(open_runs)}" if open_runs else ""
            out.append(f"ledger: {self.ledger} ({len(self.runs)} run(s), {len(open_runs)} "
                       f"unfinished{named})")
        for t in self.targets:
            label = {"removed": "removed", "gone": "already gone", "failed": "FAILED",
                     "skipped": "NOT TRIED"}.get(t.outcome, t.outcome)
            detail = f" ({t.detail})" if t.detail else ""
            out.append(f"  {label:<12} Avatar {t.key}: user {t.user_id} <{t.email}>: "
                       f"{t.why}{detail}")
        out += [f"note: {n}" for n in self.notes]
        out.append(self.summary())
        return out


def sweep(clients: dict[str, ApiClient], guard: Guard, templates: list[str],
          ledger_path: Path | None, base_url: str, skip: str | None = None) -> Sweep:
    """Find and remove what earlier runs left (see the module docstring); never raises for an
    answer or a lost connection: those are in the result."""
    result = Sweep(ledger_path)
    if ledger_path is not None:
        result.runs = ledgers.read(ledger_path)
    mine = [r for r in result.runs if r.open and r.run != skip
            and _same_server(r.base_url, base_url)]
    elsewhere = [r.run for r in result.runs if r.open and r.run != skip and r not in mine]
    if elsewhere:
        result.notes.append(f"unfinished run(s) {', '.join(elsewhere)} of the ledger were "
                            "against another base URL: left for a cleanup there")
    patterns = [leftover_pattern(t) for t in dict.fromkeys(
        templates + [r.template for r in mine if r.template])]
    by_avatar = {name: _avatar_of(client) for name, client in clients.items()}
    _find(result, clients, by_avatar, mine, patterns)
    previous = guard.teardown
    guard.teardown = True  # only reads, and removing what the sweep adopted
    try:
        for target in result.targets:
            _remove(result, clients, guard, target)
    finally:
        guard.teardown = previous
    if result.lost is None and result.targets:
        _verify(result, clients)
    _record(result, mine)
    return result


def _verify(result: Sweep, clients: dict[str, ApiClient]) -> None:
    """Walk the lists again: a member removed (204) or gone (404) must no longer be listed."""
    done = {(t.key, t.user_id): t for t in result.targets if t.outcome in ("removed", "gone")}
    for name in sorted({key for key, _ in done}):
        try:
            listed = {m.get("user_id") for m in clients[name].list_all()}
        except requests.RequestException as error:
            result.lost = f"the list walk of Avatar {name} after removing got no answer " \
                f"({type(error).__name__})"
            return
        except Exception as error:  # an answer that is not a page
            result.notes.append(f"could not list Avatar {name} to verify the removals: {error}")
            continue
        for (key, user_id), target in done.items():
            if key == name and user_id in listed:
                target.outcome = "failed"
                target.detail = "DELETE answered 204 or 404, yet the list still shows it"


def _same_server(recorded: str | None, base_url: str) -> bool:
    return recorded is None or recorded.rstrip("/").lower() == base_url.rstrip("/").lower()


def _avatar_of(client: ApiClient) -> str | None:
    try:
        page = client.list_page(1)
    except requests.RequestException:
        return None
    data = page.body.get("data") if isinstance(page.body, dict) else None
    for member in data or []:
        avatar = (member.get("membership") or {}).get("avatar_id")
        if isinstance(avatar, str):
            return avatar
    return None


def _client_name(run: ledgers.RunRecord, key: str, by_avatar: dict[str, str | None],
                 clients: dict[str, ApiClient]) -> str | None:
    """Which of this sweep's keys holds what `run` did through its key `key`: the one of the
    same Avatar (keys given in another order), none if every key's Avatar is known and none is
    that one, else the key of the same name."""
    avatar = run.avatars.get(key)
    for name, seen in by_avatar.items():
        if avatar is not None and seen == avatar:
            return name
    if avatar is not None and None not in by_avatar.values():
        return None  # a DELETE through another Avatar's key would answer 404: not "gone"
    return key if key in clients else None


def _find(result: Sweep, clients: dict[str, ApiClient], by_avatar: dict[str, str | None],
          runs: list[ledgers.RunRecord], patterns: list[re.Pattern[str]]) -> None:
    chosen: dict[tuple[str, str], Target] = {}
    for run in runs:
        for (key, user_id), email in run.active.items():
            name = _client_name(run, key, by_avatar, clients)
            if name is None:
                result.targets.append(Target(
                    key, user_id, email, f"created by run {run.run}", run.run, "skipped",
                    f"no key was given for its Avatar ({run.avatars.get(key) or key})"))
                continue
            chosen.setdefault((name, user_id), Target(
                name, user_id, email, f"created by run {run.run} (ledger)", run.run))
    invited = {email: run.run for run in runs for email in run.invited}
    for name, client in clients.items():
        try:
            members = client.list_all()
        except requests.RequestException as error:
            result.lost = f"listing Avatar {name} got no answer ({type(error).__name__})"
            break
        except Exception as error:  # an answer that is not a page: say so, keep going
            result.notes.append(f"could not list Avatar {name}: {error}")
            continue
        for member in members:
            user_id, email = member.get("user_id"), member_email(member)
            if not isinstance(user_id, str) or (name, user_id) in chosen:
                continue
            run_id = invited.get(email.lower())
            if run_id is not None:
                chosen[name, user_id] = Target(name, user_id, email, f"invited by run {run_id}"
                                               ", its answer never recorded (ledger)", run_id)
                continue
            for pattern in patterns:
                match = pattern.fullmatch(email)
                if match:
                    chosen[name, user_id] = Target(
                        name, user_id, email, f"made from the template by run "
                        f"{match.group(1).lower()}, which never removed it")
                    break
    result.targets[:0] = list(chosen.values())


def _remove(result: Sweep, clients: dict[str, ApiClient], guard: Guard, target: Target) -> None:
    if target.outcome != "pending":
        return
    if result.lost is not None:
        target.outcome, target.detail = "skipped", f"not tried: {result.lost}"
        return
    client = clients[target.key]
    guard.adopt(target.key, target.user_id, target.email)
    for attempt in range(ATTEMPTS):
        try:
            answer = client.remove(target.user_id)
        except requests.RequestException as error:
            target.outcome, target.detail = "failed", f"no answer: {type(error).__name__}"
            if attempt == ATTEMPTS - 1:
                result.lost = f"DELETE of {target.user_id} got no answer ({type(error).__name__})"
            else:
                time.sleep(0.5 * (attempt + 1))
            continue
        if answer.status in (204, 404):
            target.outcome = "removed" if answer.status == 204 else "gone"
            target.detail = ""
            guard.retire(target.key, target.user_id)
            return
        target.outcome, target.detail = "failed", f"DELETE answered {answer.status}"
        if answer.status == 429:
            time.sleep(min(float(answer.headers.get("Retry-After") or 1), 10))
        elif answer.status < 500:
            return


def _record(result: Sweep, runs: list[ledgers.RunRecord]) -> None:
    """Write to the ledger what each unfinished run's sweep removed, and that it is finished."""
    if result.ledger is None or not runs:
        return
    for run in runs:
        book = ledgers.Ledger(result.ledger, run.run)
        try:
            mine = [t for t in result.targets if t.run == run.run]
            for t in mine:
                if t.outcome in ("removed", "gone"):
                    book.removed(t.key, t.user_id, 204 if t.outcome == "removed" else 404)
            if result.lost is None and not any(t.outcome in ("failed", "skipped")
                                               for t in mine):
                book.finished(0)
        finally:
            book.close()


# -- around a gate run ---------------------------------------------------------------------------


def ledger_path(settings: Settings) -> Path:
    return Path(settings.ledger) if settings.ledger else ledgers.default_path(settings.report_dir)


def open_ledger(settings: Settings, marker: str, say: Callable[[str], None]) -> ledgers.Ledger:
    """The run's ledger, its start written; raises cli.Unusable if it cannot be written."""
    from gate.cli import Unusable

    path = ledger_path(settings)
    try:
        book = ledgers.Ledger(path, marker)
        book.start(settings.base_url, settings.email_template)
    except OSError as error:
        raise Unusable(f"cannot write the ledger {path}: {error} (--ledger or --report-dir "
                       "choose where it goes)") from None
    say(f"run {marker}: ledger {path.resolve()}")
    return book


@dataclass
class Earlier:
    """Members earlier runs left, found before this run records what exists."""

    sweep: Sweep | None = None

    def exclude(self, snapshot: Snapshot) -> None:
        """Drop what the sweep found from the pre-existing members: never counted as anyone's
        (one it could not remove, or a read-only run left alone, is still listed)."""
        if self.sweep is None:
            return
        found = {t.user_id for t in self.sweep.targets if t.key == snapshot.key}
        snapshot.members = [m for m in snapshot.members if m.get("user_id") not in found]


def before_run(run: Run, book: ledgers.Ledger, say: Callable[[str], None]) -> Earlier:
    """Remove what earlier runs left (a read-only run only reports it), before the snapshot."""
    settings, guard = run.settings, run.guard
    path = ledger_path(settings)
    if settings.read_only:
        # Find only: a read-only run writes nothing, so it names what it would remove.
        found = Sweep(path)
        found.runs = ledgers.read(path)
        mine = [r for r in found.runs if r.open and r.run != run.marker
                and _same_server(r.base_url, settings.base_url)]
        _find(found, run.clients, {n: _avatar_of(c) for n, c in run.clients.items()}, mine,
              [leftover_pattern(settings.email_template)])
        for target in found.targets:
            target.outcome, target.detail = "skipped", "a read-only run removes nothing"
    else:
        found = sweep(run.clients, guard, [settings.email_template],
                      path if path.exists() else None, settings.base_url, skip=run.marker)
    if not found.targets:
        return Earlier(found)
    say(f"found {len(found.targets)} member(s) an earlier run left: {found.summary()}")
    run.notes.append(f"before the run: {len(found.targets)} member(s) left by earlier runs "
                     f"that never removed them ({found.summary()}); not counted as "
                     "pre-existing")
    run.notes += [line.strip() for line in found.lines() if line.startswith("  ")]
    if found.lost is not None:
        from gate.cli import Unusable

        raise Unusable(f"the server stopped answering while removing what earlier runs left "
                       f"({found.lost}); nothing of this run was written. Remove the rest with: "
                       f"{cleanup_command(settings)}")
    return Earlier(found)


def after_run(run: Run, book: ledgers.Ledger, say: Callable[[str], None]) -> None:
    """Close the run's ledger: finished if nothing is left, else how to clean up. A server
    lost mid-run makes the run incomplete, whatever was removed."""
    if run.guard.lost is not None and run.lost is None:
        run.incomplete.append(f"the server stopped answering mid-run ({run.guard.lost}): the "
                              "checks after that judged nothing")
    left = run.leftovers + run.stranded
    with contextlib.suppress(OSError):  # then the run reads as unfinished: swept again later
        book.finished(len(left))
    book.close()
    if not left:
        return
    unverified = sum(1 for line in left if ": unverified" in line)
    what = ", ".join(part for part in (
        f"{len(left) - unverified} member(s) not removed" if len(left) > unverified else "",
        f"{unverified} Avatar(s) not verified" if unverified else "") if part)
    command = cleanup_command(run.settings)
    say(f"{what}; once the server answers, remove what is left with: {command}")
    run.notes.append(f"remove what is left with: {command}")
    if run.lost is not None:
        run.incomplete.append(f"the server stopped answering ({run.lost}): {what}; remove "
                              f"what is left with: {command}")


def cleanup_command(settings: Settings) -> str:
    """The command that removes what this run left, keys from the same variables."""
    words = ["maxgood-contract", "cleanup", "--base-url", settings.base_url]
    if settings.ledger:
        words += ["--ledger", settings.ledger]
    elif settings.report_dir:
        words += ["--report-dir", settings.report_dir]
    if settings.email_template != DEFAULT_EMAIL_TEMPLATE:
        words += ["--email-template", settings.email_template]
    keys = "MAXGOOD_API_KEY" + (", MAXGOOD_API_KEY_B" if settings.key_b else "")
    return f"{shlex.join(words)}  (keys from {keys}, as for the run)"


# -- the command --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Remove the members gate runs left behind (a run that was killed, or lost "
        "its server): those their ledger names, and those made from the email template with "
        "a run's marker. Safe to run again.",
        epilog="Exit status: 0 nothing left, 1 something could not be removed, 2 misconfigured "
        "or unreachable. See docs/GATE.md.")
    parser.add_argument("--base-url", default=env("MAXGOOD_BASE_URL"),
                        help="the API's base URL, ending in /v1beta [MAXGOOD_BASE_URL]")
    parser.add_argument("--api-key", default=env("MAXGOOD_API_KEY"),
                        help="the key of Avatar A [MAXGOOD_API_KEY]")
    parser.add_argument("--api-key-b", default=env("MAXGOOD_API_KEY_B"),
                        help="the key of Avatar B, if the runs used one [MAXGOOD_API_KEY_B]")
    parser.add_argument("--report-dir", help="the runs' report directory, which holds the "
                        f"ledger ({ledgers.LEDGER_NAME})")
    parser.add_argument("--ledger", help="the ledger file, if not the one in --report-dir")
    parser.add_argument("--email-template", default=env("MAXGOOD_EMAIL_TEMPLATE")
                        or DEFAULT_EMAIL_TEMPLATE,
                        help="the runs' email template (default %(default)s) "
                        "[MAXGOOD_EMAIL_TEMPLATE]")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from gate import cli

    args = parse_args(argv)
    try:
        # A run's own checks of the URL, keys and template, with its other options at default.
        run_args = cli.parse_args([])
        run_args.base_url, run_args.api_key, run_args.api_key_b = (
            args.base_url, args.api_key, args.api_key_b)
        run_args.email_template = args.email_template
        target = cli.settings_from(run_args).target
    except cli.Unusable as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    path = Path(args.ledger) if args.ledger else ledgers.default_path(args.report_dir)
    if args.ledger and not path.exists():
        print(f"{PROG}: error: no ledger at {path}", file=sys.stderr)
        return EXIT_UNUSABLE
    keys = {"A": target.key_a} | ({"B": target.key_b} if target.key_b else {})
    clients = {name: ApiClient(target.base_url, key, name=name, timeout=15.0)
               for name, key in keys.items()}
    guard = Guard(target.base_url, keys, args.email_template)
    guard.teardown = True  # reads, and removing only what the sweep adopts
    with guard.installed():
        try:
            for name, client in clients.items():
                cli.preflight(client, target,
                              f"key {name} (--api-key{'-b' if name == 'B' else ''})")
        except cli.Unusable as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
        result = sweep(clients, guard, [args.email_template], path if path.exists() else None,
                       target.base_url)
    if result.ledger is None:
        result.notes.insert(0, f"no ledger at {path}: members found through the list only")
    text = "\n".join([f"{PROG}: {target.base_url}", *result.lines()])
    print(text)
    if args.report_dir:
        Path(args.report_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.report_dir) / "cleanup.txt").write_text(text + "\n", encoding="utf-8")
    if result.lost is not None:
        print(f"{PROG}: the server stopped answering ({result.lost}); run the command again "
              "once it answers", file=sys.stderr)
        return EXIT_UNUSABLE
    return EXIT_LEFT if result.left else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
