"""Time to detect: how long `make fuzz` takes to report each catalogued fault, over seeds.

Each (fault, seed) runs in a child process (`python -m bench.detect FAULT SEED MINUTES`) with
its own Hypothesis database directory, so that no run replays what an earlier one found. The
child drives `harness.fuzz` exactly as `make fuzz FUZZ_FAULTS=fault FUZZ_SEED=seed` does (the
suites in order, each its share of the budget) and watches for the first finding of the rule
the fault breaks: the moment a suite reports it (after Hypothesis has shrunk the example, as a
person would see it) and the requests sent until then. It also notes when a check first raised
that rule's violation, before any shrinking: the time to the first failing example. The run
stops at the report; a fault not reported within the budget counts as not detected.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 5
FIRST_SEED = 1001
MINUTES = 2.0  # the budget of one run, as `make fuzz`'s default FUZZ_MINUTES
RESULT_PREFIX = "DETECT_JSON "


class Detected(BaseException):
    """Raised inside a suite at its first finding of the watched rule, to end the run there.

    A BaseException, so that the fuzz harness (which turns a suite's own Exceptions into a
    stopped result) lets it through.
    """


def run_once(fault: str | None, seed: int, minutes: float) -> dict[str, Any]:
    """One `make fuzz` run with `fault` on, stopped at the first finding of its rule."""
    os.environ["HYPOTHESIS_PROFILE"] = "fuzz"
    from harness import fuzz
    from harness.report import Finding
    from harness.reporting import RunReport
    from harness.rules import RuleViolation
    from mock_server.faults import CATALOGUE

    rule = CATALOGUE[fault].rule if fault else None
    started = time.monotonic()
    guards: list[Any] = []
    seen: list[dict[str, Any]] = []

    def requests_so_far() -> int:
        return sum(getattr(guard, "requests", 0) for guard in guards)

    real_counted = fuzz.counted

    @contextlib.contextmanager
    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real_counted(*args, **kwargs) as guard:
            guards.append(guard)
            yield guard

    first_failure: dict[str, Any] = {}
    real_violation_init = RuleViolation.__init__

    def watched_violation(self: Any, rule_id: str, message: str) -> None:
        real_violation_init(self, rule_id, message)
        if rule_id == rule and not first_failure:
            first_failure.update(seconds=time.monotonic() - started, requests=requests_so_far())

    real_init = Finding.__init__

    def watched_init(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        seen.append(
            {
                "rule": self.rule,
                "suite": self.suite,
                "seconds": time.monotonic() - started,
                "requests": requests_so_far(),
                "message": self.message[:300],
            }
        )
        if self.rule == rule:
            raise Detected

    fuzz.counted = counted
    Finding.__init__ = watched_init  # type: ignore[method-assign]
    RuleViolation.__init__ = watched_violation  # type: ignore[method-assign]
    report = RunReport(title="time to detect", target="the embedded mock", seed=seed)
    report.requests, report.invites = 0, 0
    faults = (fault,) if fault else ()
    try:
        for index, name in enumerate(fuzz.SUITES):
            remaining = minutes * 60 - (time.monotonic() - started)
            share = max(remaining / (len(fuzz.SUITES) - index), 1.0)
            fuzz.fuzz_suite(name, None, faults, share, seed, "fuzz", report)
    except Detected:
        pass
    finally:
        fuzz.counted = real_counted
        Finding.__init__ = real_init  # type: ignore[method-assign]
        RuleViolation.__init__ = real_violation_init  # type: ignore[method-assign]
    first = next((finding for finding in seen if finding["rule"] == rule), None)
    return {
        "fault": fault,
        "rule": rule,
        "seed": seed,
        "detected": first is not None,
        "seconds": first["seconds"] if first else time.monotonic() - started,
        "requests": first["requests"] if first else requests_so_far(),
        "suite": first["suite"] if first else None,
        "first_failure_seconds": first_failure.get("seconds") if first else None,
        "first_failure_requests": first_failure.get("requests") if first else None,
        "message": first["message"] if first else None,
        "other_findings": [f"{f['suite']} {f['rule']}" for f in seen if f is not first],
        "notes": list(report.notes),
        "commit": _commit(),
    }


def _commit() -> str:
    """The commit the suites ran from ("+" when the work tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except OSError:
        return "unknown"
    return head + ("+" if dirty.strip() else "")


def _child(fault: str | None, seed: int, minutes: float) -> dict[str, Any]:
    """Run `run_once` in a fresh process with its own Hypothesis database."""
    with tempfile.TemporaryDirectory(prefix="maxgood-detect-") as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HYPOTHESIS_STORAGE_DIRECTORY": str(Path(scratch) / "hypothesis"),
        }
        command = [sys.executable, "-m", "bench.detect", fault or "-", str(seed), str(minutes)]
        began = time.monotonic()
        try:
            done = subprocess.run(
                command, cwd=scratch, env=env, capture_output=True, text=True,
                timeout=minutes * 60 * 2 + 120,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"fault": fault, "seed": seed, "error": "the run overran its budget twice"}
        lines = [x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
        if not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            return {"fault": fault, "seed": seed, "error": " | ".join(tail)[-600:]}
        result = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
        result["process_seconds"] = time.monotonic() - began
        return result


def measure(
    seeds: int,
    say: Callable[[str], None],
    minutes: float = MINUTES,
    previous: dict[str, Any] | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every catalogued fault over `seeds` seeds, and one run of the correct mock.

    Seeds go round the faults (every fault's first seed, then every fault's second...), so a
    run cut short still covers every fault; runs already in `previous` (same budget) are kept
    and not run again, and `checkpoint` gets the figures after each run.
    """
    try:
        from harness import fuzz
        from mock_server.faults import CATALOGUE
    except ImportError as error:
        return {"status": "unavailable", "reason": f"harness.fuzz cannot be imported: {error}"}
    chosen = list(range(FIRST_SEED, FIRST_SEED + seeds))
    runs: list[dict[str, Any]] = []
    baseline: dict[str, Any] | None = None
    if (
        previous
        and previous.get("minutes") == minutes
        and previous.get("suite_order") == list(fuzz.SUITES)
    ):
        runs = [run for run in previous.get("runs", []) if "error" not in run]
        baseline = previous.get("baseline")
    done = {(run["fault"], run["seed"]) for run in runs}

    def figures() -> dict[str, Any]:
        measured = {run["fault"] for run in runs}
        catalogue = {name: fault for name, fault in CATALOGUE.items() if name in measured}
        return {
            "status": "measured" if len(runs) >= len(CATALOGUE) * seeds else "partial",
            "suite_order": list(fuzz.SUITES),
            "minutes": minutes,
            "seeds": chosen,
            "faults": summarise(runs, catalogue, minutes),
            "runs": runs,
            "baseline": baseline,
        }

    if baseline is None:
        say("  the correct mock, for false alarms")
        baseline = _child(None, FIRST_SEED, minutes)
    for seed in chosen:
        for fault in CATALOGUE:
            if (fault, seed) in done:
                continue
            run = _child(fault, seed, minutes)
            if "error" in run:
                say(f"  {fault:36} seed {seed}: could not run: {run['error'][:200]}")
                continue
            runs.append(run)
            found = "found" if run["detected"] else "NOT found"
            say(f"  {fault:36} seed {seed}: {found} in {run['seconds']:6.1f} s, "
                f"{run['requests']} requests ({run['suite'] or '-'})")  # fmt: skip
            if checkpoint:
                checkpoint(figures())
    return figures()


def summarise(runs: list[dict[str, Any]], catalogue: Any, minutes: float) -> list[dict[str, Any]]:
    """Per fault: how many seeds found it, the median time and requests over the seeds.

    A run that did not find the fault counts at the full budget, so a median is a lower bound
    when fewer than half of the seeds found it (`median_is_bound`).
    """
    table = []
    for name, fault in catalogue.items():
        mine = [run for run in runs if run.get("fault") == name and "error" not in run]
        found = [run for run in mine if run["detected"]]
        times = [run["seconds"] if run["detected"] else minutes * 60 for run in mine]
        table.append(
            {
                "fault": name,
                "rule": fault.rule,
                "runs": len(mine),
                "detected": len(found),
                "median_seconds": statistics.median(times) if times else None,
                "min_seconds": min(times) if times else None,
                "max_seconds": max(times) if times else None,
                "median_requests": statistics.median(run["requests"] for run in mine)
                if mine
                else None,
                "median_is_bound": len(found) * 2 < len(mine),
                # Before shrinking: when a check first saw the rule broken (where recorded).
                "median_first_failure_seconds": statistics.median(failing)
                if (failing := [run["first_failure_seconds"] for run in found
                                if run.get("first_failure_seconds") is not None])
                else None,
                "suites": sorted({run["suite"] for run in found}),
            }
        )
    return table


if __name__ == "__main__":
    fault_name, seed_text, minutes_text = sys.argv[1:4]
    chosen = None if fault_name == "-" else fault_name
    outcome = run_once(chosen, int(seed_text), float(minutes_text))
    print(RESULT_PREFIX + json.dumps(outcome), flush=True)
