"""A gate killed at many points, then `maxgood-contract cleanup`: members left, before and after.

The machinery is that of `tests/test_gate_safety.py` (imported, not copied): a proxy between
the gate and the mock counts requests and sends SIGKILL to the gate once the request numbered
`at` has reached the mock, before its answer goes back. Kill points are spread evenly over a
full run of the three suites (about 540 requests). After each kill the members the lists hold
beyond the seed's are counted, `cleanup` runs, and they are counted again; then the mock's
clock moves an hour on, so that no run is shaped by the hourly invite limit of the one before.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KILL_POINTS = tuple(range(2, 541, 22))  # 25 points, request 2 to request 530


def measure(say: Callable[[str], None]) -> dict[str, Any]:
    import requests

    from tests.test_gate import SEED, MockProcess, free_port
    from tests.test_gate_safety import RUN, Proxy, cleanup, foreign, kill_when, start_gate

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "seed.yaml").write_text(SEED, encoding="utf-8")
        port = free_port()
        mock_process = subprocess.Popen(
            [str(Path(sys.executable).parent / "maxgood-mock"), "--port", str(port), "--seed",
             str(work / "seed.yaml"), "--quiet"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            mock = MockProcess(f"http://127.0.0.1:{port}/v1beta", mock_process)
            _wait(mock.base_url)
            before = mock.lists()
            proxy = Proxy(mock.base_url)
            rows = []
            started = time.monotonic()
            for at in KILL_POINTS:
                gate: list[subprocess.Popen[str]] = []
                proxy.count = 0
                proxy.forwarded = kill_when(gate, lambda n, _k, _c, at=at: n == at)
                gate.append(start_gate(proxy.base_url, work / "reports", *RUN))
                gate[0].communicate(timeout=600)
                proxy.forwarded = None
                left = foreign(mock, before)
                done = cleanup("--base-url", proxy.base_url, "--report-dir",
                               str(work / "reports"), cwd=work)
                after = foreign(mock, before)
                rows.append({"at": at, "killed": gate[0].returncode == -signal.SIGKILL,
                             "left": left, "after_cleanup": after,
                             "unchanged": mock.lists() == before,
                             "cleanup_exit": done.returncode})
                say(f"  kill at request {at}: {left} left, {after} after cleanup")
                requests.post(f"http://127.0.0.1:{port}/_mock/clock/advance",
                              json={"seconds": 3600}, timeout=10)
            proxy.stop_listening()
        finally:
            mock_process.terminate()
            mock_process.wait(10)
    killed = [r for r in rows if r["killed"]]
    return {
        "points": len(rows),
        "killed": len(killed),
        "left_behind": sum(r["left"] for r in rows),
        "runs_leaving_some": sum(1 for r in rows if r["left"]),
        "after_cleanup": sum(r["after_cleanup"] for r in rows),
        "lists_as_before": sum(1 for r in rows if r["unchanged"]),
        "seconds": round(time.monotonic() - started),
        "rows": rows,
    }


def _wait(base_url: str) -> None:
    import requests

    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{base_url}/users", timeout=1)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def lines(results: dict[str, Any]) -> list[str]:
    """The report's section."""
    measured = results.get("kills")
    out = ["## A gate killed, then cleaned up", ""]
    if not measured:
        return [*out, "Not measured yet: `make bench BENCH_ARGS='--only kills'`.", ""]
    return [
        *out,
        f"Measured {measured['measured_at']} by `make bench BENCH_ARGS='--only kills'` "
        "(`bench/kills.py`, with the proxy and helpers of `tests/test_gate_safety.py`): a gate "
        "run of all three suites against the mock, killed with SIGKILL once request *n* reached "
        "the server (before its answer came back), then `maxgood-contract cleanup` with the "
        "same target and report directory.",
        "",
        "| kill points | killed | members left behind | runs that left some | left after "
        "cleanup | lists exactly as before |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {measured['points']} | {measured['killed']} | {measured['left_behind']} | "
        f"{measured['runs_leaving_some']} | {measured['after_cleanup']} | "
        f"{measured['lists_as_before']} of {measured['points']} |",
        "",
        "Per kill point (request number: members left): "
        + ", ".join(f"{r['at']}: {r['left']}" for r in measured["rows"]) + ".",
        "",
    ]
