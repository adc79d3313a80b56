"""The gate's durable ledger: what a run invited, created and removed, on disk as it happens.

A run killed outright (SIGKILL, a lost CI runner) cannot clean up, so whatever it might have
left must already be on disk. The ledger is a JSON-lines file, appended to by every run that
uses it; each line is written, flushed and fsync'd before the gate goes on:

    {"event": "start", "run": "mgc1a2b3c4d", "base_url": ..., "template": ..., "at": ...}
    {"event": "avatar", "run": ..., "key": "A", "avatar_id": ...}
    {"event": "invite", "run": ..., "key": "A", "email": ...}        before the invite is sent
    {"event": "created", "run": ..., "key": "A", "user_id": ..., "email": ..., "new_user": true}
    {"event": "removed", "run": ..., "key": "A", "user_id": ..., "status": 204}
    {"event": "finished", "run": ..., "left": 0}                     cleanup found nothing left

Keys are named "A" and "B", never written. An invite is recorded before it leaves, so a run
killed between sending an invite and reading its answer still names the address, and
`maxgood-contract cleanup` (`gate.cleanup`) finds the member through the list. A line torn by
a kill in the middle of a write is skipped when read.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LEDGER_NAME = "ledger.jsonl"


def default_path(report_dir: str | None) -> Path:
    """Where a run keeps its ledger unless told otherwise: in --report-dir, else in the user's
    state directory (XDG), where `maxgood-contract cleanup` without options looks too."""
    if report_dir:
        return Path(report_dir) / LEDGER_NAME
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "maxgood-contract" / LEDGER_NAME


class Ledger:
    """The ledger of one run, appended to one file (a `harness.guard.Journal`)."""

    def __init__(self, path: str | Path, run: str) -> None:
        self.path = Path(path)
        self.run = run
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        # O_APPEND: several processes appending whole lines never interleave within a line.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if new:  # the file's name must outlive a crash of the machine too, not only its lines
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def record(self, event: str, **fields: Any) -> None:
        """Append one line and fsync it; raises OSError if that fails."""
        line = json.dumps({"event": event, "run": self.run, **fields}, ensure_ascii=False,
                          separators=(",", ":")) + "\n"
        with self._lock:
            os.write(self._fd, line.encode("utf-8"))
            os.fsync(self._fd)

    def start(self, base_url: str, template: str) -> None:
        self.record("start", base_url=base_url, template=template,
                    at=datetime.now(UTC).isoformat(timespec="seconds"))

    def avatar(self, key: str, avatar_id: str | None) -> None:
        # Only a hint (which Avatar a key's name meant, should cleanup get the keys in another
        # order); what cleanup must find is written with each invite, which fails closed.
        with contextlib.suppress(OSError):
            self.record("avatar", key=key, avatar_id=avatar_id)

    def inviting(self, key: str | None, email: str) -> None:
        self.record("invite", key=key, email=email)

    def created(self, key: str, user_id: str, email: str, new_user: bool) -> None:
        self.record("created", key=key, user_id=user_id, email=email, new_user=new_user)

    def removed(self, key: str, user_id: str, status: int) -> None:
        self.record("removed", key=key, user_id=user_id, status=status)

    def finished(self, left: int) -> None:
        self.record("finished", left=left)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


@dataclass
class RunRecord:
    """What one run's lines say, replayed in order."""

    run: str
    base_url: str | None = None
    template: str | None = None
    avatars: dict[str, str | None] = field(default_factory=dict)  # key name -> avatar_id
    invited: dict[str, str | None] = field(default_factory=dict)  # lower-cased email -> key
    active: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, user_id) -> email
    removed: set[tuple[str, str]] = field(default_factory=set)
    finished: bool = False  # the run's own cleanup left nothing

    @property
    def open(self) -> bool:
        """Whether the run may have left something: it never said it left nothing."""
        return not self.finished


def read(path: str | Path) -> list[RunRecord]:
    """Every run the ledger at `path` holds, in the order they started; [] if there is none."""
    runs: dict[str, RunRecord] = {}
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if not isinstance(entry, dict) or not isinstance(entry.get("run"), str):
            continue
        run = runs.setdefault(entry["run"], RunRecord(entry["run"]))
        _replay(run, entry)
    return list(runs.values())


def _replay(run: RunRecord, entry: dict[str, Any]) -> None:
    event, key = entry.get("event"), entry.get("key")
    user_id, email = entry.get("user_id"), entry.get("email")
    if event == "start":
        run.base_url, run.template = entry.get("base_url"), entry.get("template")
    elif event == "avatar" and isinstance(key, str):
        run.avatars[key] = entry.get("avatar_id")
    elif event == "invite" and isinstance(email, str):
        run.invited[email.strip().lower()] = key
    elif event == "created" and isinstance(key, str) and isinstance(user_id, str):
        run.active[key, user_id] = email if isinstance(email, str) else ""
        run.removed.discard((key, user_id))
        run.finished = False
    elif event == "removed" and isinstance(key, str) and isinstance(user_id, str):
        run.active.pop((key, user_id), None)
        run.removed.add((key, user_id))
    elif event == "finished":
        run.finished = entry.get("left") == 0
