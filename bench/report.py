"""RESULTS.md and the plots, written from results.json alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import kills, robustness, workers

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
DETECT_PNG = HERE / "time_to_detect.png"
THROUGHPUT_PNG = HERE / "throughput.png"

MOCK = "mock (granian)"
PRISM = "prism"
READS = ("GET /users", "GET /users/{user_id}")
P99_TARGET_MS = 10.0


def write(results: dict[str, Any]) -> None:
    """Rewrite RESULTS.md and the plots from `results`."""
    lines = ["# Measured speed and robustness", ""]
    lines += _preamble(results)
    lines += _targets(results)
    lines += _environment(results)
    lines += _throughput(results)
    lines += _startup_and_reset(results)
    lines += _detect(results)
    lines += robustness.lines(results)
    lines += workers.lines(results)
    lines += kills.lines(results)
    lines += _reading_notes(results)
    RESULTS_MD.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    if results.get("throughput", {}).get("servers"):
        plot_throughput(results["throughput"])
    if results.get("detect", {}).get("faults"):
        plot_detect(results["detect"])


# -- sections ---------------------------------------------------------------------------------


def _preamble(results: dict[str, Any]) -> list[str]:
    return [
        "Written by `make bench` (`python -m bench`) from [results.json](results.json), which "
        "holds every figure and every round. One section can be measured again on its own, "
        "e.g. `make bench BENCH_ARGS='--only detect'`; the report is rewritten from the JSON.",
        "",
        "The robustness checks (concurrency, hostile input, slow clients, sustained load) are "
        "tests: `tests/test_robustness.py`, run by `make test`; their figures are counted under "
        "Robustness below.",
        "",
    ]


def _targets(results: dict[str, Any]) -> list[str]:
    servers = results.get("throughput", {}).get("servers", {})
    if MOCK not in servers or PRISM not in servers:
        return ["## Targets", "", "Not measured yet: run `make bench`.", ""]
    lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for endpoint in READS:
        ratio = _ratio(servers, endpoint)
        verdict = "yes" if ratio >= 1 else f"**no**: {(1 - ratio) * 100:.0f} % short"
        lines.append(
            f"| mock >= Prism on `{endpoint}` (req/s, ratio mock / Prism) | "
            f"{ratio:.2f} | {verdict} |"
        )
    floor = results["throughput"].get("floor", {})
    for endpoint, figures in servers[MOCK]["fixed_rate"].items():
        p99 = figures["p99_ms"]
        verdict = "yes" if p99 < P99_TARGET_MS else f"**no**: {p99 - P99_TARGET_MS:.1f} ms over"
        if p99 >= P99_TARGET_MS and endpoint in floor:
            verdict += (
                f"; a server doing no work measured {floor[endpoint]['p99_ms']:.1f} ms "
                "at the same time (the *floor*, below)"
            )
        rate = results["throughput"]["settings"]["rate"]
        lines.append(
            f"| p99 < {P99_TARGET_MS:g} ms at {rate} req/s, `{endpoint}` | "
            f"{p99:.2f} ms | {verdict} |"
        )
    lines.append("")
    return lines


def _environment(results: dict[str, Any]) -> list[str]:
    machine = results.get("machine", {})
    versions = results.get("versions", {})
    lines = ["## Machine and versions", ""]
    lines.append(
        f"- machine of the last run: {machine.get('nproc')} cores ({machine.get('cpu')}), "
        f"{machine.get('memory_gib')} GiB of memory, Linux {machine.get('kernel')}"
    )
    lines.append("- " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    lines.append(f"- last run: {results.get('date')}")
    lines.append("")
    return lines


def _when_and_where(section: dict[str, Any]) -> str:
    """When a section was measured and, where recorded, on which processor."""
    cpu = section.get("machine", {}).get("cpu")
    return section.get("measured_at", "") + (f" on {cpu}" if cpu else "")


def _throughput(results: dict[str, Any]) -> list[str]:
    measured = results.get("throughput")
    if not measured:
        return []
    settings = measured["settings"]
    servers = measured["servers"]
    lines = [
        "## Throughput and latency",
        "",
        f"Measured {_when_and_where(measured)}. Closed loop: `wrk -t{settings['threads']} "
        f"-c{settings['connections']}`, {settings['seconds']:g} s per run after a "
        f"{settings['warmup_seconds']} s warm-up on the same endpoint; each figure is the median "
        f"of {settings['rounds']} rounds, the servers taking turns round by round. "
        f"`GET /users` asks for `limit=25` of an Avatar of {settings['members']} members; "
        "`POST /users` sends a new email each time (the mock's invite limits raised out of "
        f"reach). The mock serves with {settings['mock_threads']} threads in one process.",
        "",
        "| endpoint | server | req/s | p50 ms | p99 ms | errors | answer bytes | mock / Prism |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for endpoint in servers[next(iter(servers))]["closed"]:
        for label, figures in servers.items():
            run = figures["closed"][endpoint]
            ratio = ""
            if label.startswith("mock") and PRISM in servers:
                ratio = f"{_ratio(servers, endpoint, label):.2f}"
            lines.append(
                f"| `{endpoint}` | {label} | {run['rps']:,.0f} | {run['p50_ms']:.2f} | "
                f"{run['p99_ms']:.2f} | {run['errors']} | "
                f"{figures['answer_bytes'].get(endpoint, 0):,} | {ratio} |"
            )
    lines += [
        "",
        "![requests per second](throughput.png)",
        "",
        f"### At a fixed rate of {settings['rate']} req/s",
        "",
        "An open-loop Python client (asyncio, 16 keep-alive connections): request *i* is due at "
        f"*i* / {settings['rate']} s whatever happened before it, and its latency is counted "
        "from that due time, so a stall shows in the figures instead of slowing the client "
        "down (coordinated omission). The client's own time is included.",
        "",
        "| endpoint | server | sent | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint in servers[next(iter(servers))]["fixed_rate"]:
        for label, figures in servers.items():
            run = figures["fixed_rate"][endpoint]
            lines.append(
                f"| `{endpoint}` | {label} | {run['requests']:,} | {run['p50_ms']:.2f} | "
                f"{run['p99_ms']:.2f} | {run['max_ms']:.1f} | {run['errors']} |"
            )
    for endpoint, run in measured.get("floor", {}).items():
        lines.append(
            f"| `{endpoint}` | *floor* | {run['requests']:,} | {run['p50_ms']:.2f} | "
            f"{run['p99_ms']:.2f} | {run['max_ms']:.1f} | {run['errors']} |"
        )
    if measured.get("floor"):
        lines += [
            "",
            "*floor*: `bench/floor.py`, a server that only sends the mock's answer bytes, "
            "measured by the same client at the same rate right after the servers: what the "
            "machine and the client cost before any server does any work.",
        ]
    loads = [
        run["load_before"]
        for figures in servers.values()
        for kind in ("closed", "fixed_rate")
        for endpoint in figures[kind].values()
        for run in endpoint.get("rounds", [])
        if "load_before" in run
    ]
    if loads:
        lines += [
            "",
            f"Load average (1 min) before the runs: {min(loads):.1f} to {max(loads):.1f} on "
            f"{results['machine']['nproc']} cores; anything above about 2 is other work on the "
            "machine, which slows every server alike since they take turns.",
        ]
    lines.append("")
    return lines


def _startup_and_reset(results: dict[str, Any]) -> list[str]:
    lines = []
    startup = results.get("startup")
    if startup:
        lines += ["## Start-up and reset", ""]
        for label, figures in startup.items():
            if label == "measured_at":
                continue
            runs = ", ".join(f"{s:.2f}" for s in figures["all_s"])
            lines.append(
                f"- start-up of {label}, process start to the first 200 of `GET /users`: "
                f"median **{figures['median_s']:.2f} s** (runs: {runs} s)"
            )
        servers = results.get("throughput", {}).get("servers", {})
        if PRISM in servers:
            lines.append(
                f"- for reference, Prism's start-up in the throughput run: "
                f"{servers[PRISM]['started_seconds']:.2f} s"
            )
    reset = results.get("reset")
    if reset:
        if not lines:
            lines += ["## Start-up and reset", ""]
        lines.append(
            f"- `POST /_mock/reset` on {reset['server']} holding {reset['members']} members: "
            f"median **{reset['median_ms']:.2f} ms**, p90 {reset['p90_ms']:.2f} ms "
            f"over {reset['calls']} calls (round trip included)"
        )
    if lines:
        lines.append("")
    return lines


def _detect(results: dict[str, Any]) -> list[str]:
    detect = results.get("detect")
    lines = ["## Time to detect each fault", ""]
    if not detect or detect.get("status") not in ("measured", "partial"):
        reason = (detect or {}).get("reason", "not measured yet")
        return [*lines, f"Not measured: {reason}.", ""]
    budget = detect["minutes"] * 60
    order = detect.get("suite_order", ["contract", "stateful"])
    lines += [
        f"Measured {_when_and_where(detect)}. Each catalogued fault "
        f"(`mock_server.faults.CATALOGUE`) switched on alone, `make fuzz` run as with "
        f"`FUZZ_FAULTS=<fault> FUZZ_SEED=<seed> FUZZ_MINUTES={detect['minutes']:g}` "
        f"(seeds {detect['seeds'][0]} to {detect['seeds'][-1]}), stopped at the first finding "
        "of the rule the fault breaks: the time from the start of the run to that finding "
        "(after shrinking, as a person sees it) and the requests sent until then. The "
        f"{order[0]} suite runs first for half the budget ({budget / 2:.0f} s), then the "
        f"{order[1]} suite. A seed that did not find the fault counts at the whole budget.",
        "",
    ]
    if detect["status"] == "partial":
        from mock_server.faults import CATALOGUE

        planned = len(detect["seeds"]) * len(CATALOGUE)
        done = len(detect["runs"])
        missing = sorted(set(CATALOGUE) - {row["fault"] for row in detect["faults"]})
        lines += [
            f"**Partial:** {done} of {planned} runs ({len(detect['seeds'])} seeds x "
            f"{len(CATALOGUE)} faults); the table has as many seeds per fault as were run"
            + (f"; not measured yet: {', '.join(f'`{m}`' for m in missing)}" if missing else "")
            + ". `make bench BENCH_ARGS='--only detect'` goes on where this stopped.",
            "",
        ]
    first = any(row.get("median_first_failure_seconds") is not None for row in detect["faults"])
    lines += [
        "| fault | rule | found | median s | min–max s | "
        + ("first failure, median s | " if first else "")
        + "median requests | found by |",
        "|---|---|---:|---:|---:|" + ("---:|" if first else "") + "---:|---|",
    ]
    for row in sorted(detect["faults"], key=lambda r: (r["median_seconds"] or 0, r["fault"])):
        bound = "≥ " if row["median_is_bound"] else ""
        failing = row.get("median_first_failure_seconds")
        lines.append(
            f"| `{row['fault']}` | {row['rule']} | {row['detected']}/{row['runs']} | "
            f"{bound}{row['median_seconds']:.1f} | {row['min_seconds']:.1f}–"
            f"{row['max_seconds']:.1f} | "
            + ((f"{failing:.1f} | " if failing is not None else "— | ") if first else "")
            + f"{row['median_requests']:,.0f} | {', '.join(row['suites']) or '—'} |"
        )
    if first:
        lines += [
            "",
            "*first failure*: when a check first saw the rule broken, before Hypothesis shrank "
            "the failing example to the reproduction that is reported; the time between the two "
            "is shrinking, which the stateful suite caps at a quarter of its share of the budget.",
        ]
    lines += ["", "![time to detect](time_to_detect.png)", ""]
    commits = sorted({run["commit"] for run in detect["runs"] if run.get("commit")})
    if commits:
        unrecorded = any(not run.get("commit") for run in detect["runs"])
        lines += [
            "The suites ran from commit(s) "
            + ", ".join(f"`{c}`" for c in commits)
            + " (`+`: with changes not yet committed)"
            + ("; runs without a commit predate its recording" if unrecorded else "")
            + ". The requests are the steadier figure: the seconds also count whatever else "
            "the machine was doing.",
            "",
        ]
    earlier = results.get("detect_superseded")
    if earlier:
        lines += _superseded(earlier, detect)
    baseline = detect.get("baseline")
    if baseline and "error" not in baseline:
        others = baseline.get("other_findings", [])
        verdict = "no finding" if not others else f"findings: {', '.join(others)}"
        lines += [
            f"The correct mock (no fault, seed {baseline['seed']}, the whole budget: "
            f"{baseline['seconds']:.0f} s, {baseline['requests']:,} requests): {verdict}.",
            "",
        ]
    return lines


def _superseded(earlier: dict[str, Any], detect: dict[str, Any]) -> list[str]:
    """A line comparing with an earlier measurement of another suite order."""
    import statistics

    def typical(runs: list[dict[str, Any]], budget: float) -> tuple[float, float, int, float]:
        seconds = [run["seconds"] if run["detected"] else budget for run in runs]
        requests = [run["requests"] for run in runs]
        slowest = max(
            statistics.median(s for r, s in zip(runs, seconds, strict=True) if r["fault"] == f)
            for f in {run["fault"] for run in runs}
        )
        return statistics.median(seconds), statistics.median(requests), len(runs), slowest

    before = typical(earlier["runs"], earlier["minutes"] * 60)
    after = typical(detect["runs"], detect["minutes"] * 60)
    return [
        f"Earlier, {earlier['suite_order'][0]} suite first ({before[2]} runs, seeds "
        f"{min(r['seed'] for r in earlier['runs'])}–{max(r['seed'] for r in earlier['runs'])}):"
        f" median {before[0]:.1f} s and {before[1]:,.0f} requests over all runs, the slowest "
        f"fault's median {before[3]:.0f} s; now, {detect['suite_order'][0]} suite first "
        f"({after[2]} runs): median {after[0]:.1f} s and {after[1]:,.0f} requests, the slowest "
        f"fault's median {after[3]:.0f} s. Both are in results.json.",
        "",
    ]


def _reading_notes(results: dict[str, Any]) -> list[str]:
    notes = []
    servers = results.get("throughput", {}).get("servers", {})
    posts = servers.get(MOCK, {}).get("closed", {}).get("POST /users", {}).get("rounds", [])
    if len(posts) > 1:
        tails = ", ".join(f"{run['p99_ms']:.0f}" for run in posts)
        notes.append(
            "- `POST /users` at full speed adds tens of thousands of members a round, and the "
            f"mock's closed-loop p99 grows round by round ({tails} ms): Python's full garbage "
            "collections walk an ever larger store. A mock holding a few hundred members, as "
            "tests use it, does not see this; the fixed-rate figures stay far below it."
        )
    return [
        "## Reading these figures",
        "",
        *notes,
        "- Prism (`prism mock openapi/v1beta.yaml`, static examples) validates each request and "
        "answers the spec's example: no state, one member in a list. The mock checks the key, "
        "validates, applies the rules under one lock and answers real members (25 in a list "
        "page), so its answers are larger (see *answer bytes*).",
        "- Prism serves the spec's paths without the `/v1beta` prefix; its per-request log "
        "goes to /dev/null.",
        "- The load generator, the servers and any other work share the same cores, so the "
        "absolute figures are those of a busy 2-core machine; the ratios are the point.",
        "",
    ]


def _ratio(servers: dict[str, Any], endpoint: str, label: str = MOCK) -> float:
    return float(
        servers[label]["closed"][endpoint]["rps"] / servers[PRISM]["closed"][endpoint]["rps"]
    )


# -- plots ------------------------------------------------------------------------------------


def plot_throughput(measured: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = measured["servers"]
    labels = list(servers)
    endpoints = list(servers[labels[0]]["closed"])
    width = 0.8 / len(labels)
    figure, axis = plt.subplots(figsize=(8, 4.2), dpi=120)
    colours = {"mock (granian)": "#1b7837", "mock (waitress)": "#7fbf7b", "prism": "#762a83"}
    for index, label in enumerate(labels):
        values = [servers[label]["closed"][endpoint]["rps"] for endpoint in endpoints]
        positions = [i + (index - (len(labels) - 1) / 2) * width for i in range(len(endpoints))]
        bars = axis.bar(positions, values, width, label=label, color=colours.get(label))
        axis.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8, padding=2)
    axis.set_xticks(range(len(endpoints)), endpoints)
    axis.set_ylabel("requests per second (higher is better)")
    settings = measured["settings"]
    axis.set_title(
        f"wrk -t{settings['threads']} -c{settings['connections']}, {settings['seconds']:g} s, "
        f"median of {settings['rounds']} rounds"
    )
    axis.legend(frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    axis.margins(y=0.12)
    figure.tight_layout()
    figure.savefig(THROUGHPUT_PNG)
    plt.close(figure)


def plot_detect(detect: dict[str, Any]) -> None:
    import matplotlib
    import matplotlib.patches

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = detect["minutes"] * 60
    rows = sorted(detect["faults"], key=lambda r: (-(r["median_seconds"] or 0), r["fault"]))
    figure, axis = plt.subplots(figsize=(9, 0.34 * len(rows) + 1.6), dpi=120)
    for index, row in enumerate(rows):
        found_all = row["detected"] == row["runs"]
        colour = "#1b7837" if found_all else ("#e08214" if row["detected"] else "#b2182b")
        axis.barh(index, row["median_seconds"], color=colour, height=0.6)
        axis.plot(
            [row["min_seconds"], row["max_seconds"]], [index, index], color="#333333", linewidth=1
        )
        axis.text(
            min(row["max_seconds"], budget) + budget * 0.01,
            index,
            f"{row['detected']}/{row['runs']} · {row['median_requests']:,.0f} req",
            va="center",
            fontsize=8,
        )
    axis.set_yticks(range(len(rows)), [f"{r['fault']} ({r['rule']})" for r in rows], fontsize=8)
    axis.set_ylim(-0.7, len(rows) - 0.3)
    second = detect.get("suite_order", ["contract", "stateful"])[1]
    for x, label in ((budget / 2, f"{second} suite starts"), (budget, "end of the budget")):
        axis.axvline(x, color="#888888", linestyle="--", linewidth=1)
        axis.text(
            x,
            1.01,
            label,
            transform=axis.get_xaxis_transform(),
            fontsize=7,
            color="#555555",
            ha="center",
            va="bottom",
        )
    axis.set_xlim(0, budget * 1.3)
    axis.set_xlabel(
        f"seconds from the start of `make fuzz` (FUZZ_MINUTES={detect['minutes']:g}) to the first "
        "finding of the fault's rule\nbar: median over seeds; line: fastest to slowest seed; "
        "text: seeds that found it, median requests",
        fontsize=8,
    )
    handles = [
        matplotlib.patches.Patch(color=c, label=t)
        for c, t in (("#1b7837", "every seed"), ("#e08214", "some seeds"), ("#b2182b", "no seed"))
    ]
    axis.legend(
        handles=handles,
        frameon=False,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        title="found by",
        title_fontsize=8,
    )
    axis.set_title("Time to detect each injected fault", fontsize=10, pad=16)
    axis.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(DETECT_PNG)
    plt.close(figure)
