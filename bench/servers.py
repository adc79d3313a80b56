"""Starting and stopping the servers under measurement: the mock (granian, waitress) and Prism.

Each runs as its own process group on a free loopback port; `started_seconds` is the time from
spawning the process to the first 200 answer of GET /users.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PRISM = ROOT / "bench" / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "openapi" / "v1beta.yaml"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0

AVATAR_ID = "avt_bench"
API_KEY = "mgak_benchkey01.bench-secret-for-local-measurement-only"
MEMBERS = 100
# Limits high enough that POST /users at full speed for a whole run never hits one (R7).
UNLIMITED = 10_000_000


@dataclass
class Server:
    """A running server: `base_url` is where /users lives."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    started_seconds: float

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1beta")

    def stop(self) -> None:
        """End this server's own process group (it may have spawned workers)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def write_seed(path: Path, members: int = MEMBERS) -> list[str]:
    """A seed with one enterprise Avatar of `members` active members; their user ids."""
    users = []
    for n in range(members):
        joined = f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00Z"
        membership = {"avatar_id": AVATAR_ID, "joined_at": joined, "is_coach": n % 3 == 0}
        if n == 0:
            membership.update(is_owner=True, is_admin=True)
        else:
            membership.update(
                notes=f"Cohort {n % 7}; mentor pairing pending.",
                structured_data={"crm_id": f"BENCH-{n:04d}", "cohort": n % 7},
                license_expires_at="2027-06-30T23:59:59Z",
            )
        users.append(
            {
                "user_id": f"usr_01JDBENCH{n:016d}",
                "email": f"member{n:03d}@bench.example",
                "name": f"Member {n:03d}",
                "role": "Team lead",
                "expertise": "Coaching first-time managers",
                "locale": "en-CA",
                "created_at": joined,
                "memberships": [membership],
            }
        )
    avatar = {"avatar_id": AVATAR_ID, "name": "Bench Academy", "type": "enterprise"}
    seed = {"avatars": [{**avatar, "keys": [API_KEY]}], "users": users}
    path.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")
    return [user["user_id"] for user in users]


def wait_for_first_200(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from `started` to the first 200 of GET url; polls every 5 ms, bounded."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    deadline = started + START_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        try:
            if requests.get(url, headers=headers, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except requests.ConnectionError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"no 200 from {url} within {START_TIMEOUT:.0f} s")


def _spawn(command: list[str], log: Path | None) -> tuple[subprocess.Popen[bytes], float]:
    """Start `command` in its own session; its output goes to `log` (None: discarded)."""
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
    return process, started


def start_mock(kind: str, seed: Path, log: Path, threads: int) -> Server:
    """`maxgood-mock --server kind` on the bench seed, with the invite limits out of reach."""
    port = free_port()
    command = [
        str(BIN / "maxgood-mock"),
        *("--server", kind, "--host", HOST, "--port", str(port), "--quiet"),
        *("--seed", str(seed), "--threads", str(threads)),
        *("--invites-per-hour", str(UNLIMITED), "--safety-cap", str(UNLIMITED)),
        *("--enterprise-seats", str(UNLIMITED)),
    ]
    process, started = _spawn(command, log)
    base = f"http://{HOST}:{port}/v1beta"
    try:
        seconds = wait_for_first_200(base + "/users", process, started)
    except BaseException:
        Server(kind, base, process, 0.0).stop()
        raise
    return Server(f"mock ({kind})", base, process, seconds)


def start_prism(log: Path | None = None) -> Server:
    """`prism mock openapi/v1beta.yaml`: validates requests, answers the spec's examples.

    Prism logs several lines per request; they are discarded (by default) so that a disk
    does not slow it down.
    """
    port = free_port()
    command = [str(PRISM), "mock", "-h", HOST, "-p", str(port), str(SPEC)]
    process, started = _spawn(command, log)
    base = f"http://{HOST}:{port}"  # Prism serves the spec's paths without the server's prefix
    try:
        seconds = wait_for_first_200(base + "/users", process, started)
    except BaseException:
        Server("prism", base, process, 0.0).stop()
        raise
    return Server("prism", base, process, seconds)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()
