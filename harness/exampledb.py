"""The example database of fuzz runs: every failing example kept, and replayed first next time.

`FUZZ_DB` names it: unset, a directory (`.hypothesis/fuzz`); a path, that directory;
`redis://host:port/n`, Hypothesis's own `RedisExampleDatabase`, shared by every worker, shard
and machine that names it; `none`, no database (a run then depends on its seed alone).

While `activated`, both suites use it: Hypothesis saves each failing example under its test's
key and, in the next run, replays the saved ones before it generates anything new. Beside
Hypothesis's entries the database keeps a register of the failures themselves (suite, rule, the
first line of the message), so that a run can say which saved failures it replayed, and report
those that no longer fail as fixed instead of dropping them silently, as Hypothesis does.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from harness.report import Finding

DEFAULT_DIRECTORY = Path(".hypothesis") / "fuzz"
REGISTER_KEY = b"maxgood-fuzz.failures"
REDIS_PREFIX = b"maxgood-fuzz:"
PROFILE = "maxgood-fuzz-db"

_active: ExampleDatabase | None = None
Register = dict[tuple[str, str], list[tuple[bytes, "Saved"]]]  # (suite, rule) -> entries


def describe(spec: str | None) -> str:
    """Where the database named by `spec` lives, for a person (no password)."""
    spec = (spec or "").strip()
    if spec.lower() == "none":
        return "none (the run depends on its seed alone)"
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from urllib.parse import urlsplit

        parts = urlsplit(spec)
        return f"redis {parts.hostname or ''}:{parts.port or 6379}{parts.path}"
    return f"directory {spec or DEFAULT_DIRECTORY}"


def open_database(spec: str | None) -> ExampleDatabase | None:
    """The database `spec` names (see the module docstring); None for `none`."""
    spec = (spec or "").strip()
    if spec.lower() == "none":
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            from hypothesis.extra.redis import RedisExampleDatabase
            from redis import Redis
        except ImportError as error:  # pragma: no cover - the extra is a dependency
            raise SystemExit(f"FUZZ_DB={describe(spec)} needs hypothesis[redis]: {error}"
                             ) from error
        client = Redis.from_url(spec)
        try:
            client.ping()
        except Exception as error:
            raise SystemExit(f"FUZZ_DB: cannot reach {describe(spec)}: {error}") from error
        return RedisExampleDatabase(client, key_prefix=REDIS_PREFIX)
    return DirectoryBasedExampleDatabase(str(spec or DEFAULT_DIRECTORY))


def active_database() -> ExampleDatabase | None:
    """The database the suites of this process save to and replay from, if any."""
    return _active


@contextlib.contextmanager
def activated(database: ExampleDatabase | None) -> Iterator[ExampleDatabase | None]:
    """Both suites use `database` in the block: the stateful suite through its settings, the
    contract suite (Schemathesis) through Hypothesis's default profile."""
    global _active
    previous = hypothesis.settings.get_current_profile_name()
    _active = database
    if database is not None:
        hypothesis.settings.register_profile(PROFILE, parent=hypothesis.settings.default,
                                             database=database)
        hypothesis.settings.load_profile(PROFILE)
    try:
        yield database
    finally:
        _active = None
        if database is not None:
            hypothesis.settings.load_profile(previous)


# -- the register of failures ---------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """A failure some earlier run found and saved."""

    suite: str
    rule: str
    message: str
    saved_at: str

    def encode(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> Saved | None:
        try:
            data = json.loads(raw.decode("utf-8"))
            return cls(str(data["suite"]), str(data["rule"]), str(data["message"]),
                       str(data.get("saved_at", "")))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None

    def describe(self) -> str:
        return f"{self.rule} ({self.suite}, saved {self.saved_at}): {self.message}"


def saved_failures(database: ExampleDatabase | None) -> Register:
    """The failures earlier runs saved, by (suite, rule), each with its raw entry."""
    found: Register = {}
    if database is None:
        return found
    for raw in database.fetch(REGISTER_KEY):
        saved = Saved.decode(raw)
        if saved is not None:
            found.setdefault((saved.suite, saved.rule), []).append((raw, saved))
    return found


@dataclass
class Verdicts:
    """What became of the saved failures in this run, and what it saved."""

    replayed: list[Saved]  # saved failures that failed again
    fixed: list[Saved]  # saved failures that no longer fail
    unjudged: list[Saved]  # their suite did not run to its end: neither
    saved: list[Saved]  # failures this run found, now saved

    def notes(self) -> list[str]:
        lines = [f"saved failure replayed first, still failing: {s.describe()}"
                 for s in self.replayed]
        lines += [f"FIXED: a saved failure no longer fails: {s.describe()}" for s in self.fixed]
        lines += [f"saved failure not judged (its suite did not run to its end): {s.describe()}"
                  for s in self.unjudged]
        lines += [f"saved for the next runs: {s.rule} ({s.suite})" for s in self.saved
                  if not any(s.rule == r.rule and s.suite == r.suite for r in self.replayed)]
        return lines

    def as_json(self) -> dict[str, Any]:
        return {name: [s.__dict__ for s in getattr(self, name)]
                for name in ("replayed", "fixed", "unjudged", "saved")}


def settle(database: ExampleDatabase | None, before: Register, findings: Iterable[Finding],
           finished_suites: set[str]) -> Verdicts:
    """Judge the failures saved before the run against what it found, and save the new ones.

    A saved failure of a suite that ran to its end without finding its rule broken is fixed:
    Hypothesis replayed its example first and it passed. Its entry leaves the register.
    """
    verdicts = Verdicts([], [], [], [])
    if database is None:
        return verdicts
    found: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        found.setdefault((finding.suite, finding.rule), finding)
    for key, entries in sorted(before.items()):
        saved = entries[0][1]
        if key in found:
            verdicts.replayed.append(saved)
        elif key[0] in finished_suites:
            verdicts.fixed.append(saved)
            for raw, _ in entries:
                database.delete(REGISTER_KEY, raw)
        else:
            verdicts.unjudged.append(saved)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for (suite, rule), finding in sorted(found.items()):
        if (suite, rule) in before:
            continue
        first_line = " ".join(finding.message.split("\n", 1)[0].split())[:200]
        saved = Saved(suite, rule, first_line, stamp)
        database.save(REGISTER_KEY, saved.encode())
        verdicts.saved.append(saved)
    return verdicts
