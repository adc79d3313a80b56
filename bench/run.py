"""`make bench`: the mock against Prism on the same machine, its start-up and reset times, and
the time `make fuzz` takes to detect each catalogued fault.

Every figure lands in bench/results.json; bench/RESULTS.md and the plots are written from that
file alone (bench/report.py), so a section can be measured again without the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

from . import detect, kills, loadgen, report, robustness, servers, workers
from .servers import API_KEY, Server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
WRK_DIR = HERE / "wrk"

SECONDS = 10  # each measured run
ROUNDS = 3  # each figure is the median of this many runs
WARMUP = 3  # before each closed-loop run, on the same endpoint
THREADS, CONNECTIONS = 2, 32  # wrk -t2 -c32
RATE = 500  # requests per second, for the fixed-rate runs
STARTS = 5  # start-ups measured per mock server
RESETS = 200  # POST /_mock/reset calls measured
MOCK_THREADS = 2  # granian's blocking threads / waitress's threads (see RESULTS.md)
ENDPOINTS = ("GET /users", "GET /users/{user_id}", "POST /users")


class InviteBody:
    """A new email on every request (picklable, for the load generator's processes)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __call__(self, number: int) -> bytes:
        return json.dumps({"email": f"{self.tag}-{number}@bench.example"}).encode()


def endpoint_request(server: Server, endpoint: str, member_id: str, tag: str) -> loadgen.Request:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if endpoint == "GET /users":
        return loadgen.Request("GET", server.base_url + "/users?limit=25", headers)
    if endpoint == "GET /users/{user_id}":
        return loadgen.Request("GET", f"{server.base_url}/users/{member_id}", headers)
    headers["Content-Type"] = "application/json"
    return loadgen.Request("POST", server.base_url + "/users", headers, InviteBody(tag))


# -- closed loop: wrk -t2 -c32, or the Python load generator without wrk ------------------------


def closed_loop(request: loadgen.Request, seconds: float, tag: str) -> dict[str, Any]:
    """Requests per second and latency percentiles with CONNECTIONS connections kept busy."""
    load = os.getloadavg()[0]  # other work on the machine, for the record
    if shutil.which("wrk"):
        return {**_wrk(request, seconds, tag), "load_before": load}
    sample = loadgen.run_closed(request, seconds, CONNECTIONS, THREADS)
    return {
        "tool": f"python asyncio, {THREADS} processes, {CONNECTIONS} connections",
        "requests": sample.requests,
        "rps": sample.rate,
        "p50_ms": sample.percentile(50) * 1e3,
        "p99_ms": sample.percentile(99) * 1e3,
        "max_ms": max(sample.latencies, default=0.0) * 1e3,
        "errors": sample.errors,
        "load_before": load,
    }


def _wrk(request: loadgen.Request, seconds: float, tag: str) -> dict[str, Any]:
    script = WRK_DIR / ("invite.lua" if request.method == "POST" else "report.lua")
    command = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "5s",
        "-s", str(script),
        *(arg for name, value in request.headers.items() if name != "Content-Type"
          for arg in ("-H", f"{name}: {value}")),
        request.url, "--", tag,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(raw[k] for k in raw if k.endswith("_errors") or k == "timeouts")
    return {
        "tool": f"wrk -t{THREADS} -c{CONNECTIONS}",
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
        "errors": errors,
    }


def fixed_rate(request: loadgen.Request, seconds: float) -> dict[str, Any]:
    load = os.getloadavg()[0]
    sample = loadgen.run_fixed_rate(request, RATE, seconds)
    return {
        "tool": f"python asyncio open loop, {RATE} req/s, latency from each due time",
        "requests": sample.requests,
        "rps": sample.rate,
        "p50_ms": sample.percentile(50) * 1e3,
        "p99_ms": sample.percentile(99) * 1e3,
        "max_ms": max(sample.latencies, default=0.0) * 1e3,
        "errors": sample.errors,
        "load_before": load,
    }


# -- the sections ------------------------------------------------------------------------------


def measure_servers(
    starters: dict[str, Callable[[], Server]],
    member_id: str,
    seconds: float,
    rounds: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Closed-loop and fixed-rate figures for each endpoint on each server.

    All servers run at once (an idle one costs nothing) and take turns, endpoint by endpoint and
    round by round, so that a slow spell of the machine falls on all of them alike; each figure
    is the median over the rounds (all rounds are kept in the JSON).
    """
    results: dict[str, Any] = {}
    floor_runs: dict[str, list[dict[str, Any] | None]] = {}
    with contextlib.ExitStack() as stack:
        running = {}
        for label, start in starters.items():
            running[label] = stack.enter_context(servers.running(start()))
            results[label] = {
                "started_seconds": running[label].started_seconds,
                "answer_bytes": {}, "closed": {}, "fixed_rate": {},
            }  # fmt: skip
        for endpoint in ENDPOINTS:
            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                label: {"closed": [], "fixed_rate": []} for label in running
            }
            for round_number in range(rounds):
                for label, server in running.items():
                    tag = f"e{ENDPOINTS.index(endpoint)}r{round_number}t{int(time.time())}"
                    request = endpoint_request(server, endpoint, member_id, tag)
                    results[label]["answer_bytes"][endpoint] = _answer_size(request)
                    warm = endpoint_request(server, endpoint, member_id, tag + "w")
                    closed_loop(warm, WARMUP, tag + "w")
                    say(f"  {label:16} {endpoint:22} round {round_number + 1}: closed loop")
                    runs[label]["closed"].append(closed_loop(request, seconds, tag + "m"))
                    time.sleep(1)
                    say(f"  {label:16} {endpoint:22} round {round_number + 1}: {RATE} req/s")
                    paced = endpoint_request(server, endpoint, member_id, tag + "f")
                    runs[label]["fixed_rate"].append(fixed_rate(paced, seconds))
                    time.sleep(1)
                floor_runs.setdefault(endpoint, []).append(
                    measure_floor(endpoint, results[MOCK_LABEL]["answer_bytes"][endpoint], seconds)
                    if MOCK_LABEL in results
                    else None
                )
            for label in running:
                for kind in ("closed", "fixed_rate"):
                    results[label][kind][endpoint] = _median_run(runs[label][kind])
    floor = {e: _median_run(r) for e, r in floor_runs.items() if None not in r}
    return {"servers": results, "floor": floor}


MOCK_LABEL = "mock (granian)"


def measure_floor(endpoint: str, size: int, seconds: float) -> dict[str, Any]:
    """The fixed-rate run against bench/floor.py, which answers `size` bytes and does nothing."""
    port = servers.free_port()
    command = [sys.executable, "-m", "bench.floor", str(port), str(size), str(seconds + 30)]
    process = subprocess.Popen(command, cwd=servers.ROOT)
    try:
        deadline = time.perf_counter() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((servers.HOST, port), 1):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError("the floor server did not start")
            time.sleep(0.02)
        fake = Server("floor", f"http://{servers.HOST}:{port}/v1beta", process, 0.0)
        return fixed_rate(endpoint_request(fake, endpoint, "usr_floor", "floor"), seconds)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds, with every round kept."""
    summary: dict[str, Any] = {"tool": runs[0]["tool"], "rounds": runs}
    for name in ("rps", "p50_ms", "p99_ms", "max_ms"):
        summary[name] = statistics.median(run[name] for run in runs)
    summary["requests"] = sum(run["requests"] for run in runs)
    summary["errors"] = sum(run["errors"] for run in runs)
    return summary


def _answer_size(request: loadgen.Request) -> int:
    body = request.body(-1) if request.body else None
    answer = requests.request(request.method, request.url, headers=request.headers, data=body)
    if answer.status_code >= 300:
        raise RuntimeError(f"{request.method} {request.url}: {answer.status_code} {answer.text}")
    return len(answer.content)


def measure_startup(seed: Path, log: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Process start to first 200 of GET /users, STARTS times per mock server."""
    figures: dict[str, Any] = {}
    for kind in ("granian", "waitress"):
        times = []
        for _ in range(STARTS):
            server = servers.start_mock(kind, seed, log, MOCK_THREADS)
            server.stop()
            times.append(server.started_seconds)
        figures[f"mock ({kind})"] = {"median_s": statistics.median(times), "all_s": times}
        say(f"  start-up {kind}: median {statistics.median(times):.3f} s")
    return figures


def measure_reset(seed: Path, log: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """POST /_mock/reset on the granian mock holding the 100-member seed, RESETS times."""
    with servers.running(servers.start_mock("granian", seed, log, MOCK_THREADS)) as server:
        url = server.root_url + "/_mock/reset"
        with requests.Session() as session:
            for _ in range(10):
                session.post(url).raise_for_status()
            times = []
            for _ in range(RESETS):
                began = time.perf_counter()
                answer = session.post(url)
                times.append(time.perf_counter() - began)
                if answer.status_code != 204:
                    raise RuntimeError(f"reset answered {answer.status_code}")
    times.sort()
    figures = {
        "server": "mock (granian)",
        "members": servers.MEMBERS,
        "calls": RESETS,
        "median_ms": statistics.median(times) * 1e3,
        "p90_ms": times[int(len(times) * 0.9)] * 1e3,
    }
    say(f"  reset: median {figures['median_ms']:.2f} ms")
    return figures


# -- the environment ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        kib = int(next(x for x in info if x.startswith("MemTotal")).split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gib": round(kib / 2**20, 1),
        "kernel": platform.release(),
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("flask", "werkzeug", "granian", "waitress", "jsonschema-rs"):
        found[package] = metadata.version(package)
    found["prism"] = _first_line([str(servers.PRISM), "--version"])
    if shutil.which("wrk"):  # "wrk debian/4.1.0-3+b2 [epoll] Copyright ..."
        found["wrk"] = [*_first_line(["wrk", "--version"]).split(), "?", "?"][1]
    else:
        found["wrk"] = "absent (the Python load generator stood in)"
    found["node"] = _first_line(["node", "--version"])
    return found


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError:
        return "absent"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


# -- main --------------------------------------------------------------------------------------


SECTIONS = ("throughput", "startup", "reset", "detect", "robustness", "workers", "kills")
ENVIRONMENT = ("machine", "versions", "date")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="each measured run")
    parser.add_argument("--servers", default="granian,waitress,prism")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per figure")
    parser.add_argument("--seeds", type=int, default=detect.SEEDS, help="fuzz seeds per fault")
    parser.add_argument("--fresh", action="store_true",
                        help="measure time to detect anew, keeping none of the runs on record")
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md only")
    args = parser.parse_args(argv)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.report_only:
        names = args.servers.split(",")
        run(results, args.only.split(","), args.seconds, names, args.rounds, args.seeds,
            fresh=args.fresh)
    report.write(results)


def run(
    results: dict[str, Any],
    sections: list[str],
    seconds: float,
    names: list[str],
    rounds: int,
    seeds: int,
    *,
    fresh: bool = False,
) -> None:
    def say(text: str) -> None:
        print(text, flush=True)

    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {sorted(unknown)}")
    results["machine"] = machine()
    results["versions"] = versions()
    results["date"] = now()
    with tempfile.TemporaryDirectory(prefix="maxgood-bench-") as scratch:
        seed = Path(scratch) / "seed.yaml"
        log = Path(scratch) / "servers.log"
        member_id = servers.write_seed(seed)[servers.MEMBERS // 2]
        starters: dict[str, Callable[[], Server]] = {
            "granian": lambda: servers.start_mock("granian", seed, log, MOCK_THREADS),
            "waitress": lambda: servers.start_mock("waitress", seed, log, MOCK_THREADS),
            "prism": servers.start_prism,
        }
        if "throughput" in sections:
            say(f"throughput: {', '.join(names)}")
            measured = results.setdefault("throughput", {})
            measured["settings"] = {
                "seconds": seconds, "warmup_seconds": WARMUP, "threads": THREADS,
                "connections": CONNECTIONS, "rate": RATE, "mock_threads": MOCK_THREADS,
                "members": servers.MEMBERS, "limit": 25, "rounds": rounds,
            }  # fmt: skip
            measured["measured_at"] = now()
            measured["machine"] = results["machine"]
            chosen = {starters_label(name): starters[name] for name in names}
            figures = measure_servers(chosen, member_id, seconds, rounds, say)
            measured.setdefault("servers", {}).update(figures["servers"])
            if figures["floor"]:
                measured["floor"] = figures["floor"]
        if "startup" in sections:
            say("start-up")
            results["startup"] = {"measured_at": now(), **measure_startup(seed, log, say)}
        if "reset" in sections:
            say("reset")
            results["reset"] = {"measured_at": now(), **measure_reset(seed, log, say)}
        if "detect" in sections:
            say("time to detect")

            previous = None if fresh else results.get("detect")

            def checkpoint(figures: dict[str, Any]) -> None:
                results["detect"] = {"measured_at": now(), "machine": results["machine"],
                                     **figures}
                save(results, sections)

            figures = detect.measure(seeds, say, previous=previous, checkpoint=checkpoint)
            if previous and (previous.get("runs"), previous.get("baseline")) == (
                    figures["runs"], figures["baseline"]):
                say("  every run is on record already: nothing measured (--fresh measures anew)")
            else:
                results["detect"] = {"measured_at": now(), "machine": results["machine"],
                                     **figures}
        if "robustness" in sections:
            say("robustness")
            results["robustness"] = {"measured_at": now(), **robustness.measure(say)}
        if "workers" in sections:
            say("make fuzz on 1 and 2 workers")
            results["workers"] = {"measured_at": now(), "machine": results["machine"],
                                  **workers.measure(say, rounds)}
        if "kills" in sections:
            say("a gate killed, then cleaned up")
            results["kills"] = {"measured_at": now(), **kills.measure(say)}
    save(results, sections)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save(results: dict[str, Any], sections: list[str] | None = None) -> None:
    """Write results.json, taking from `results` only the sections this run measured (and the
    environment), so that two runs measuring different sections do not undo each other."""
    merged = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    keep = ENVIRONMENT + tuple(sections if sections is not None else SECTIONS)
    merged.update({name: value for name, value in results.items() if name in keep})
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    results.update(merged)


def starters_label(name: str) -> str:
    return "prism" if name == "prism" else f"mock ({name})"
