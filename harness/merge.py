"""`make fuzz-merge` (`python -m harness.merge`): the shards of a campaign, one report.

    python -m harness.merge shards/*/summary.json --report-dir reports

Each shard of a CI matrix writes `summary.json` (make fuzz with FUZZ_SHARD=i/n and a report
dir); this folds them into one per-rule summary, as one run over every shard would have given:
a rule fails if any shard found it broken (each finding once, the other shards that found it
named in a note), the counts add up, and what each operation reached is the union of every
shard's. A shard of the campaign that left no result makes the report incomplete (exit 2): a
campaign that judged less than it promised never passes.

Exit status: 0 no rule broken, 1 some rule broken, 2 incomplete or unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from harness.campaign import JSON_NAME, Shard, add_reached, add_result, write_json
from harness.coverage import Reached
from harness.report import Finding, SuiteResult
from harness.reporting import RunReport, merge


def load(path: Path) -> dict[str, Any]:
    """One shard's summary.json (a directory holding one will do)."""
    if path.is_dir():
        path = path / JSON_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "results" not in data:
        raise ValueError(f"{path}: not a summary.json of make fuzz")
    data["_path"] = str(path)
    return data


def results_of(data: dict[str, Any]) -> list[SuiteResult]:
    results = []
    for raw in data["results"]:
        result = SuiteResult(suite=raw["suite"], requests=int(raw.get("requests", 0)),
                             invites=int(raw.get("invites", 0)),
                             seconds=float(raw.get("seconds", 0.0)))
        result.exercised.update({k: int(v) for k, v in raw.get("exercised", {}).items()})
        for rule, reason in raw.get("skipped", {}).items():
            result.skip(rule, reason, configured=rule in raw.get("configured", ()))
        result.incomplete = [str(reason) for reason in raw.get("incomplete", [])]
        result.findings = [Finding(**finding) for finding in raw.get("findings", [])]
        results.append(result)
    return results


def merge_shards(shards: list[dict[str, Any]]) -> tuple[RunReport, Reached, int]:
    """One report of every shard: rules, counts, notes, what was reached; and the workers."""
    targets = sorted({str(s.get("target", "")) for s in shards})
    seeds = sorted({s.get("seed") for s in shards if s.get("seed") is not None})
    report = RunReport(title="make fuzz (campaign)", target=", ".join(targets),
                       seed=seeds[0] if len(seeds) == 1 else None)
    report.requests = sum(int(s.get("requests", 0)) for s in shards)
    report.invites = sum(int(s.get("invites", 0)) for s in shards)
    report.seconds = max((float(s.get("seconds", 0.0)) for s in shards), default=0.0)
    workers = sum(int(s.get("workers", 1)) for s in shards)
    reached = Reached()
    seen: set[tuple[str, str]] = set()
    counts = Counter(str(s.get("shard", "1/1")) for s in shards)
    for shard in sorted(shards, key=lambda s: Shard.parse(str(s.get("shard", "1/1"))).index):
        label = f"shard {shard.get('shard', '1/1')}"
        for result in results_of(shard):
            add_result(report, result, label, seen)
        report.incomplete += [f"{label}: {reason}" for reason in shard.get("incomplete", [])]
        report.notes += [f"{label}: {note}" for note in shard.get("notes", [])]
        report.leftovers += [f"{label}: {item}" for item in shard.get("leftovers", [])]
        reached.add(((row[0], row[1], row[2]), row[3]) for row in shard.get("reached", []))
    report.results = merge(report.results)
    report.incomplete += missing_shards(counts)
    report.facts = [
        ("shards", ", ".join(f"{name}" for name in sorted(counts))),
        ("workers", f"{workers} in all"),
        ("seeds", ", ".join(str(seed) for seed in seeds) or "unknown"),
        ("time", f"{report.seconds:.1f}s for the longest shard, "
                 f"{sum(float(s.get('seconds', 0.0)) for s in shards):.1f}s in all"),
    ]
    add_reached(report, reached)
    return report, reached, workers


def missing_shards(counts: Counter[str]) -> list[str]:
    """Shards of the campaign with no result, or with more than one."""
    problems = []
    totals = {Shard.parse(name).count for name in counts}
    if len(totals) > 1:
        problems.append(f"the shards disagree on how many there are: {sorted(counts)}")
    for total in sorted(totals):
        for index in range(1, total + 1):
            name = f"{index}/{total}"
            if counts[name] == 0:
                problems.append(f"shard {name} left no result")
            elif counts[name] > 1:
                problems.append(f"shard {name} has {counts[name]} results")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.merge", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("shards", nargs="+", type=Path,
                        help="each shard's summary.json, or the directory holding it")
    parser.add_argument("--report-dir", type=Path,
                        help="write junit.xml, summary.md and summary.json of the whole here")
    args = parser.parse_args(argv)
    shards, unreadable = [], []
    for path in args.shards:
        try:
            shards.append(load(path))
        except (OSError, ValueError) as error:
            unreadable.append(f"no result can be read from {path}: {error}")
    report, reached, workers = merge_shards(shards)
    report.incomplete += unreadable
    print(report.console())
    if args.report_dir:
        report.write(args.report_dir)
        write_json(report, reached, args.report_dir / JSON_NAME, workers=workers,
                   shard=Shard())
    if report.findings:
        return 1
    return 2 if report.incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
