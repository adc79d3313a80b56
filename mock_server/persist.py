"""`--state FILE`: the state saved when the serving process stops, atomically.

The process that serves the requests holds the state, so it is the one that saves: under
waitress the `maxgood-mock` process itself, whose SIGTERM is turned into a normal exit (SIGINT
already is one); under granian its worker, a multiprocessing child that granian stops on
SIGTERM or SIGINT and that runs multiprocessing's finalizers, not `atexit`, on its way out.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

from flask import Flask

from .http.state import EXTENSION, MockState


def save_state(state: MockState, path: Path | str) -> None:
    """Write the dump next to `path`, then rename it over: a reader sees the old file or the
    new one, never half of one. ASCII-escaped JSON, so any character the API accepted (U+0081,
    right-to-left marks...) survives whatever reads it."""
    target = Path(path)
    text = json.dumps(state.dump(), ensure_ascii=True, indent=1)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_at_exit(app: Flask) -> None:
    """Save the app's state to its config's state_file when this process stops."""
    state: MockState = app.extensions[EXTENSION]
    path = state.config.state_file
    if not path:
        return

    def save() -> None:
        try:
            save_state(state, path)
        except OSError as exc:
            print(f"maxgood-mock: the state was not saved to {path}: {exc}", file=sys.stderr)

    if multiprocessing.parent_process() is not None:
        Finalize(None, save, exitpriority=100)
        return
    atexit.register(save)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_normally)


def _exit_normally(signum: int, frame: Any) -> None:
    raise SystemExit(0)
