"""Figures of robustness on each of the mock's servers: the hostile corpus and slow clients.

The corpora and the probes are those of `tests/test_robustness.py` (imported, not copied);
the tests assert, this counts. For each server (`maxgood-mock --server granian|waitress`, the
default seed): every hostile request once, on its own connection, with the state exported
before and after it (and the mock reset after it); then slow clients held open while a client
asks for the list one request after another.
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

SERVERS = ("granian", "waitress")
# (slow bodies, slow heads) held at once; the first is what the tests hold.
SLOW_LEVELS = ((32, 32), (256, 256))
PROBES = 200


def measure(say: Callable[[str], None]) -> dict[str, Any]:
    from tests.test_robustness import spawned_mock

    figures: dict[str, Any] = {"load_average": round(os.getloadavg()[0], 1), "servers": {}}
    for server in SERVERS:
        with spawned_mock("--server", server) as spawned:
            say(f"  {server}: hostile corpus")
            hostile = measure_hostile(spawned.served)
            say(f"  {server}: slow clients")
            slow = [measure_slow(spawned.served, bodies, heads) for bodies, heads in SLOW_LEVELS]
        figures["servers"][server] = {"hostile": hostile, "slow": slow}
    return figures


def measure_hostile(mock: Any) -> dict[str, Any]:
    """Every request of the corpora once: what came back, and whether the state moved."""
    import requests

    from tests.test_robustness import (
        EDGE_OF_HTTP,
        HOSTILE,
        MAY_BE_ANSWERED,
        SECRET,
        SERVER_LAYER,
        TIMEOUT,
        everything_sent_back,
        parse_answer,
    )

    corpora = {"app": HOSTILE, "edge of HTTP": EDGE_OF_HTTP, "HTTP layer": SERVER_LAYER}
    kinds: Counter[str] = Counter()
    state_changed: list[str] = []
    unanswered: list[str] = []
    outside: list[str] = []
    for corpus, requests_of in corpora.items():
        for name, raw_request in requests_of.items():
            where = f"{corpus}: {name}"
            before = mock.state()
            raw = everything_sent_back(mock.port, raw_request)
            answer = parse_answer(raw)
            if SECRET.encode() in raw:
                kinds["echoed the key"] += 1
            if answer is None:
                kinds["closed without an answer"] += 1
                unanswered.append(where)
            elif answer.status >= 500:
                kinds["5xx"] += 1
                outside.append(f"{where}: {answer.status}")
            elif answer.status < 400:
                kinds["answered 2xx (HTTP allows it)"] += 1
                if name not in MAY_BE_ANSWERED and corpus == "HTTP layer":
                    outside.append(f"{where}: {answer.status}")
            elif answer.headers.get("content-type", "").startswith("application/problem+json"):
                kinds["4xx problem+json"] += 1
            elif not answer.body and answer.headers.get("connection") == "close":
                kinds["4xx without a body, connection closed"] += 1
                outside.append(f"{where}: {answer.status} without a body")
            else:
                kinds["4xx of another shape"] += 1
                outside.append(f"{where}: {answer.status} {answer.headers.get('content-type')}")
            if mock.state() != before:
                state_changed.append(where)
            requests.post(mock.root_url + "/_mock/reset", timeout=TIMEOUT).raise_for_status()
    return {
        "tried": sum(len(corpus) for corpus in corpora.values()),
        "answers": dict(kinds),
        "5xx": kinds["5xx"],
        "state_changed": state_changed,
        "unanswered": unanswered,
        "outside_the_contract": outside,
    }


def measure_slow(mock: Any, bodies: int, heads: int) -> dict[str, Any]:
    """Latency of GET /users, quiet and with the slow clients held."""
    from tests.test_robustness import hold_slow_clients, list_latencies, still_open

    quiet = list_latencies(mock, PROBES)
    held = hold_slow_clients(mock.port, bodies, heads)
    try:
        loaded = list_latencies(mock, PROBES)
        still_held = sum(still_open(sock) for sock in held)
    finally:
        for sock in held:
            sock.close()
    return {
        "slow_bodies": bodies,
        "slow_heads": heads,
        "still_held": still_held,
        "quiet": summary(quiet),
        "held": summary(loaded),
    }


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(0, round(len(ordered) * 0.99) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def lines(results: dict[str, Any]) -> list[str]:
    """The report's section."""
    measured = results.get("robustness")
    out = ["## Robustness", ""]
    if not measured:
        return [*out, "Not measured yet: `make bench BENCH_ARGS='--only robustness'`.", ""]
    out += [
        f"Measured {measured['measured_at']} by `make bench BENCH_ARGS='--only robustness'` "
        "(`bench/robustness.py`), with the requests and probes of `tests/test_robustness.py`, "
        "against `maxgood-mock` on each server. Each hostile request is sent once on its own "
        "connection; the state is exported before and after it.",
        "",
        "| server | hostile requests | 5xx | state changed | answers outside the contract "
        "| echoed the key | answers |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for server, figures in measured["servers"].items():
        hostile = figures["hostile"]
        answers = ", ".join(f"{kind} {count}" for kind, count in sorted(hostile["answers"].items()))
        out.append(
            f"| {server} | {hostile['tried']} | {hostile['5xx']} | "
            f"{len(hostile['state_changed'])} | {len(hostile['outside_the_contract'])} | "
            f"{hostile['answers'].get('echoed the key', 0)} | {answers} |"
        )
    out += [
        "",
        "*4xx without a body*: granian's HTTP layer (hyper) refuses a request it cannot parse "
        "(a bad target, a NUL or a CR in a header, a space in a header name, conflicting "
        "lengths, over 100 headers, a TLS hello...) itself, with an empty 400 (414 for a target "
        "over 64 KiB, 431 for too many headers) and a closed connection, before any Python "
        "runs: these are the answers outside the contract on granian, and nothing else is. "
        "Waitress hands the same refusals to the app, which answers them as problem details "
        "(docs/SERVERS.md). *2xx*: requests HTTP lets a server read (a bare LF ending a line, "
        "a folded header, 500 headers, a 100 KiB header line).",
        "",
        f"Slow clients: connections that sent a head announcing 1000 bytes of body and one byte "
        f"of it, and connections that sent half a head; one client sends {PROBES} `GET /users` "
        "one after another, first with nobody held (*quiet*), then with them all held. "
        f"Load average (1 min) at the start: {measured.get('load_average', '?')} on "
        f"{results.get('machine', {}).get('nproc', '?')} cores: on a busy machine the quiet "
        "figures move as much as the held ones.",
        "",
        "| server | slow bodies + slow heads | still held at the end | p50 ms | p99 ms | max ms "
        "| quiet p50 ms | quiet p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for server, figures in measured["servers"].items():
        for level in figures["slow"]:
            held, quiet = level["held"], level["quiet"]
            out.append(
                f"| {server} | {level['slow_bodies']} + {level['slow_heads']} | "
                f"{level['still_held']} | {held['p50_ms']} | {held['p99_ms']} | "
                f"{held['max_ms']} | {quiet['p50_ms']} | {quiet['p99_ms']} |"
            )
    out.append("")
    return out
