"""`make fuzz` on one core and on two: requests per minute and time to the first failure.

Each run is `python -m harness.fuzz` as `make fuzz` starts it, with FUZZ_WORKERS=1 (the suites
in one process, each against a mock of its own in a thread) or 2 (two worker processes against
one mock served by granian in a process of its own), no example database, the fuzz profile:

- throughput: no fault, MINUTES each; the requests every suite sent (summary.json) over the
  run's wall time, from the launch of the process to its exit;
- time to the first failure: each fault of FAULTS on, from the launch of the process to the
  first failing check of the fault's rule (before shrinking), as the live view announced it.

Runs of 1 and 2 workers alternate, so that a change in the machine's load falls on both; the
load average (1 min) is recorded before each run. The figures are medians over the rounds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MINUTES = 1.0
DETECT_MINUTES = 0.5
WORKERS = (1, 2)
TARGET_RATIO = 1.7
# One fault the stateful suite finds (R2), one the contract suite finds on its own (R12), one
# of pagination (R10).
FAULTS = ("invite_overwrites_identity", "problem_without_request_id",
          "pagination_drops_boundary_item")


def fuzz_once(workers: int, minutes: float, fault: str | None, seed: int) -> dict[str, Any]:
    """One `make fuzz` run; its wall time, requests, and the first failing check of each rule."""
    with tempfile.TemporaryDirectory(prefix="maxgood-bench-fuzz-") as scratch:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MAXGOOD_", "FUZZ_", "HYPOTHESIS_"))}
        env |= {"FUZZ_WORKERS": str(workers), "FUZZ_DB": "none", "FUZZ_SEED": str(seed),
                "FUZZ_MINUTES": f"{minutes:g}", "HYPOTHESIS_PROFILE": "fuzz"}
        if fault:
            env["FUZZ_FAULTS"] = fault
        load = os.getloadavg()[0]
        launched = time.time()
        done = subprocess.run([sys.executable, "-m", "harness.fuzz", "--report-dir", scratch],
                              capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=minutes * 60 * 4 + 300)
        wall = time.time() - launched
        summary = Path(scratch) / "summary.json"
        if not summary.exists():
            return {"workers": workers, "error": (done.stdout + done.stderr)[-2000:],
                    "exit": done.returncode}
        data = json.loads(summary.read_text(encoding="utf-8"))
    fuzzing = sum(result["seconds"] for result in data["results"]) / workers
    first, shown = {}, {}
    for event in data.get("first_seen", []):
        first.setdefault(event["rule"], event["seen_at"] - launched)
        shown.setdefault(event["rule"], event["shown_at"] - event["seen_at"])
    return {
        "workers": workers, "fault": fault, "seed": seed, "exit": done.returncode,
        "wall_seconds": round(wall, 2), "run_seconds": round(data["seconds"], 2),
        "requests": data["requests"], "invites": data["invites"],
        "requests_per_minute": round(data["requests"] / wall * 60),
        # while the suites ran: requests over each worker's time in its suites (start-up and
        # the summary aside)
        "fuzzing_seconds": round(fuzzing, 2),
        "requests_per_fuzzing_second": round(data["requests"] / fuzzing, 1) if fuzzing else None,
        "first_failure_seconds": {rule: round(t, 2) for rule, t in first.items()},
        # from a check's first violation to the live view's line announcing it
        "announced_after_seconds": {rule: round(t, 3) for rule, t in shown.items()},
        "rules_failed": sorted({f["rule"] for r in data["results"] for f in r["findings"]}),
        "load_before": round(load, 2),
    }


def measure(say: Callable[[str], None], rounds: int = 3) -> dict[str, Any]:
    from mock_server.faults import CATALOGUE

    throughput: list[dict[str, Any]] = []
    for index in range(rounds):
        for workers in WORKERS:
            run = fuzz_once(workers, MINUTES, None, 5001 + index)
            throughput.append(run)
            say(f"  {workers} worker(s): {run.get('requests_per_minute')} requests/min "
                f"(load {run['load_before']})")
    detect: list[dict[str, Any]] = []
    for index in range(rounds):
        for fault in FAULTS:
            for workers in WORKERS:
                run = fuzz_once(workers, DETECT_MINUTES, fault, 7001 + index)
                run["rule"] = CATALOGUE[fault].rule
                run["first_failure"] = run.get("first_failure_seconds", {}).get(run["rule"])
                detect.append(run)
                say(f"  {fault}, {workers} worker(s): first failing check at "
                    f"{run['first_failure']}s (load {run['load_before']})")
    return {"minutes": MINUTES, "detect_minutes": DETECT_MINUTES, "rounds": rounds,
            "cores": os.cpu_count(), "throughput": throughput, "detect": detect,
            "summary": summarise(throughput, detect)}


def summarise(throughput: list[dict[str, Any]], detect: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for workers in WORKERS:
        runs = [r for r in throughput if r["workers"] == workers and "requests_per_minute" in r]
        found = [r["first_failure"] for r in detect
                 if r["workers"] == workers and r.get("first_failure") is not None]
        announced = [r["announced_after_seconds"][r["rule"]] for r in detect
                     if r["workers"] == workers
                     and r["rule"] in r.get("announced_after_seconds", {})]
        per[str(workers)] = {
            "requests_per_minute": statistics.median([r["requests_per_minute"] for r in runs])
            if runs else None,
            "requests_per_second": round(statistics.median(
                [r["requests_per_minute"] for r in runs]) / 60, 1) if runs else None,
            "requests_per_fuzzing_second": statistics.median(
                [r["requests_per_fuzzing_second"] for r in runs]) if runs else None,
            "median_first_failure_seconds": round(statistics.median(found), 2) if found else None,
            "detected": f"{len(found)}/{sum(r['workers'] == workers for r in detect)}",
            "max_announced_after_seconds": max(announced) if announced else None,
            "median_load": statistics.median([r["load_before"] for r in runs]) if runs else None,
        }
    one, two = per["1"]["requests_per_minute"], per["2"]["requests_per_minute"]
    per["ratio"] = round(two / one, 2) if one and two else None
    one, two = (per["1"]["requests_per_fuzzing_second"], per["2"]["requests_per_fuzzing_second"])
    per["fuzzing_ratio"] = round(two / one, 2) if one and two else None
    per["target_met"] = per["ratio"] is not None and per["ratio"] >= TARGET_RATIO
    return per


def lines(results: dict[str, Any]) -> list[str]:
    """The report's section."""
    measured = results.get("workers")
    out = ["## make fuzz on 1 and 2 workers", ""]
    if not measured:
        return [*out, "Not measured yet: `make bench BENCH_ARGS='--only workers'`.", ""]
    summary = measured["summary"]
    out += [
        f"Measured {measured.get('measured_at', '?')} by `make bench BENCH_ARGS='--only "
        f"workers'` (`bench/workers.py`) on {measured.get('cores')} cores: `make fuzz` with "
        f"FUZZ_WORKERS=1 and 2, alternating, {measured['rounds']} rounds; throughput runs of "
        f"{measured['minutes']:g} min with no fault, detection runs of "
        f"{measured['detect_minutes']:g} min with each of {', '.join(FAULTS)}. Times run from "
        "the launch of `make fuzz`'s process (start-up included) to the first failing check of "
        "the fault's rule, before shrinking.",
        "",
        "| workers | requests/min (wall) | requests/s (wall) | requests/s (suites running) "
        "| median first failure | detected | announced at most | load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers in WORKERS:
        row = summary[str(workers)]
        out.append(f"| {workers} | {row['requests_per_minute']} | {row['requests_per_second']} "
                   f"| {row.get('requests_per_fuzzing_second')} "
                   f"| {row['median_first_failure_seconds']} s | {row['detected']} | "
                   f"{row.get('max_announced_after_seconds')} s after the check | "
                   f"{row['median_load']} |")
    out += ["", f"2 workers / 1 worker: **{summary['ratio']}x** the requests per minute of "
            f"wall time (target {TARGET_RATIO}x: "
            f"{'met' if summary['target_met'] else 'NOT met'}); "
            f"{summary.get('fuzzing_ratio')}x while the suites run. The machine's load during "
            "the runs is in the last column: on a machine shared with other work the workers "
            "share its cores with it.", ""]
    return out
