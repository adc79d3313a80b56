"""One verdict per rule from several suites' results, and the reports a person and CI read.

`RunReport.outcomes()` folds the suites' `SuiteResult`s into one line per rule (R1–R14 and
SPEC): FAIL if any suite found it broken, pass if some check exercised it, skipped when every
suite left it out because of the target's configuration (one key, read-only), and otherwise
NOT JUDGED. The same report renders as a console table, as JUnit XML (one testcase per rule: a
failure element carrying each reproduction, a skipped element with its reason, or an error for
a rule not judged) and as Markdown for a CI job summary.

Fail closed: `RunReport.incompleteness()` lists everything that kept the run from judging what
it promised (a suite that never started or was stopped, a rule not judged for want of time or
budget, a run that judged nothing), and any of it makes the run INCOMPLETE: exit 2, never 0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.report import Finding, SuiteResult
from harness.rules import RULES

PASS, FAIL, SKIPPED, UNJUDGED = "pass", "FAIL", "skipped", "NOT JUDGED"
REDACTED = "<redacted>"


@dataclass
class RuleOutcome:
    """The verdict on one rule across every suite of a run."""

    rule: str
    title: str
    exercised: int
    findings: list[Finding]
    reasons: list[str]  # why it was skipped, by the suites that skipped it
    # The reasons that are not the target's configuration: any of them, or no reason at all,
    # and a rule nobody exercised was not judged rather than skipped.
    unconfigured: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.findings:
            return FAIL
        if self.exercised:
            return PASS
        return SKIPPED if self.reasons and not self.unconfigured else UNJUDGED

    @property
    def reason(self) -> str:
        """Why it was not judged: for a rule NOT JUDGED, only the reasons that make it so."""
        reasons = self.unconfigured if self.status == UNJUDGED else self.reasons
        return "; ".join(reasons) or "no check exercised it"


@dataclass
class RunReport:
    """Everything a run's reports say: per-rule results, budgets spent, cleanup."""

    title: str
    target: str
    results: list[SuiteResult] = field(default_factory=list)
    requests: int | None = None  # counted on the wire; else the suites' own counts
    invites: int | None = None
    refusals: int | None = None  # requests the guard refused to send (None: no guard)
    seconds: float = 0.0
    seed: int | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)  # extra "what: value" lines
    notes: list[str] = field(default_factory=list)  # cleanup, refusals, interruptions
    leftovers: list[str] = field(default_factory=list)  # memberships it could not remove
    # Why the run could not judge the target whole: a suite that crashed, a target that went
    # away. An incomplete run never passes, whatever the rules it did check say.
    incomplete: list[str] = field(default_factory=list)
    # What budget would have judged what was left unjudged ("FUZZ_MINUTES=2 would suffice");
    # said only when the run is incomplete.
    shortfall: list[str] = field(default_factory=list)
    # More sections, each (title, console text, Markdown text): what the run reached...
    appendix: list[tuple[str, str, str]] = field(default_factory=list)
    # Keys never appear in a report, whatever a suite put in a message or reproduction.
    secrets: list[str] = field(default_factory=list, repr=False)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def outcomes(self) -> list[RuleOutcome]:
        exercised: Counter[str] = Counter()
        findings: dict[str, list[Finding]] = {rule: [] for rule in RULES}
        reasons: dict[str, list[str]] = {rule: [] for rule in RULES}
        unconfigured: dict[str, list[str]] = {rule: [] for rule in RULES}
        for result in self.results:
            exercised.update(result.exercised)
            for finding in result.findings:
                findings.setdefault(finding.rule, []).append(finding)
            for rule, reason in result.skipped.items():
                reasons.setdefault(rule, []).append(f"{result.suite}: {reason}")
                if rule not in result.configured:
                    unconfigured.setdefault(rule, []).append(f"{result.suite}: {reason}")
        return [
            RuleOutcome(rule, RULES.get(rule, rule), exercised[rule], findings[rule],
                        reasons.get(rule, []), unconfigured.get(rule, []))
            for rule in findings
        ]

    def incompleteness(self) -> list[str]:
        """Everything that kept this run from judging what it promised; empty when complete."""
        reasons = list(self.incomplete)
        for result in self.results:
            reasons += [r for r in result.incomplete if r not in reasons]
        outcomes = self.outcomes()
        by_reason: dict[str, list[str]] = {}
        for o in outcomes:
            if o.status == UNJUDGED:
                why = "; ".join(o.unconfigured) or "no check exercised it"
                by_reason.setdefault(why, []).append(o.rule)
        for why, rules in by_reason.items():
            reasons.append(f"{', '.join(rules)} {'was' if len(rules) == 1 else 'were'} not "
                           f"judged: {why}")
        if not any(o.status in (PASS, FAIL) for o in outcomes):
            reasons.append("no rule was judged")
        if reasons:
            reasons += self.shortfall
        return reasons

    @property
    def findings(self) -> list[Finding]:
        return [finding for result in self.results for finding in result.findings]

    @property
    def ok(self) -> bool:
        return not self.findings and not self.incompleteness()

    def exit_status(self) -> int:
        """1 when a rule is broken, else 2 when the run is incomplete, else 0."""
        if self.findings:
            return 1
        return 2 if self.incompleteness() else 0

    @property
    def total_requests(self) -> int:
        if self.requests is not None:
            return self.requests
        return sum(result.requests for result in self.results)

    @property
    def total_invites(self) -> int:
        if self.invites is not None:
            return self.invites
        return sum(result.invites for result in self.results)

    def headline(self) -> str:
        outcomes = self.outcomes()
        failed = [o.rule for o in outcomes if o.status == FAIL]
        passed = sum(o.status == PASS for o in outcomes)
        skipped = sum(o.status == SKIPPED for o in outcomes)
        unjudged = sum(o.status == UNJUDGED for o in outcomes)
        verdict = (f"FAILED: {', '.join(failed)}" if failed
                   else "INCOMPLETE" if self.incompleteness() else "passed")
        return (f"{verdict} ({passed} passed, {len(failed)} failed, {skipped} skipped, "
                f"{unjudged} not judged; {self.total_requests} requests, "
                f"{self.total_invites} invites, {self.seconds:.1f}s)")

    # -- console ------------------------------------------------------------------------------

    def console(self, *, width: int = 100) -> str:
        lines = [f"{self.title}: {self.target}"]
        lines += [f"  {what}: {value}" for what, value in self.facts]
        lines.append("")
        lines.append(f"{'rule':<5} {'':<34} {'exercised':>9}  result")
        for o in self.outcomes():
            result = (f"skipped: {o.reason}" if o.status == SKIPPED
                      else f"NOT JUDGED: {o.reason}" if o.status == UNJUDGED else o.status)
            line = f"{o.rule:<5} {o.title[:34]:<34} {o.exercised:>9}  {result}"
            lines.append(line if len(line) <= width * 2 else line[: width * 2 - 3] + "...")
        lines.append("")
        per_suite = ", ".join(f"{r.suite} {r.requests}" for r in self.results)
        refused = "" if self.refusals is None else f"; refused by the guard: {self.refusals}"
        lines.append(f"requests sent: {self.total_requests} ({per_suite}); "
                     f"invites used: {self.total_invites}{refused}; {self.seconds:.1f}s")
        if self.seed is not None:
            lines.append(f"seed: {self.seed}")
        lines += [f"INCOMPLETE: {reason}" for reason in self.incompleteness()]
        lines += [f"note: {note}" for note in self.notes]
        if self.leftovers:
            lines.append("NOT REMOVED:")
            lines += [f"  {item}" for item in self.leftovers]
        for _, text, _ in self.appendix:
            lines += ["", text]
        for finding in self.findings:
            lines += ["", f"FAIL {finding.rule} [{finding.suite}] {finding.message}"]
            if finding.reproduction:
                lines += ["  " + row for row in finding.reproduction.splitlines()]
        lines += ["", self.headline()]
        return self.redact("\n".join(lines))

    # -- JUnit XML ----------------------------------------------------------------------------

    def junit(self) -> str:
        outcomes = self.outcomes()
        # The rules not judged are errors of their own testcase; the rest of what kept the run
        # from completing is one testcase "the run is complete" with an error each.
        incomplete = [r for r in self.incompleteness() if " not judged: " not in r]
        suite = ET.Element("testsuite", {
            "name": "maxgood-contract",
            "tests": str(len(outcomes) + len(incomplete)),
            "failures": str(sum(o.status == FAIL for o in outcomes)),
            "errors": str(len(incomplete) + sum(o.status == UNJUDGED for o in outcomes)),
            "skipped": str(sum(o.status == SKIPPED for o in outcomes)),
            "time": f"{self.seconds:.3f}",
        })
        properties = ET.SubElement(suite, "properties")
        refusals = [] if self.refusals is None else [("refusals", str(self.refusals))]
        for name, value in [("target", self.target), ("requests", str(self.total_requests)),
                            *refusals,
                            ("invites", str(self.total_invites)),
                            *((what, value) for what, value in self.facts),
                            *([("seed", str(self.seed))] if self.seed is not None else [])]:
            ET.SubElement(properties, "property", {"name": name, "value": value})
        for o in outcomes:
            case = ET.SubElement(suite, "testcase", {
                "classname": "maxgood-contract", "name": f"{o.rule} {o.title}", "time": "0"})
            if o.status == FAIL:
                first = o.findings[0].message
                failure = ET.SubElement(case, "failure", {
                    "message": _one_line(first), "type": o.rule})
                failure.text = "\n\n".join(_finding_text(f) for f in o.findings)
            elif o.status == SKIPPED:
                ET.SubElement(case, "skipped", {"message": _one_line(o.reason)})
            elif o.status == UNJUDGED:
                ET.SubElement(case, "error", {"message": _one_line(f"not judged: {o.reason}"),
                                              "type": "incomplete"})
            out = ET.SubElement(case, "system-out")
            out.text = f"exercised {o.exercised} times" + (
                f"; skipped by {o.reason}" if o.reasons else "")
        for reason in incomplete:
            case = ET.SubElement(suite, "testcase", {
                "classname": "maxgood-contract", "name": "the run is complete", "time": "0"})
            ET.SubElement(case, "error", {"message": _one_line(reason), "type": "incomplete"})
        if self.notes or self.leftovers:
            out = ET.SubElement(suite, "system-out")
            out.text = "\n".join(self.notes + [f"not removed: {x}" for x in self.leftovers])
        # Redact each text before serialising: "<redacted>" is markup once inside the XML.
        for element in suite.iter():
            element.text = self.redact(element.text) if element.text else element.text
            for name, value in element.attrib.items():
                element.set(name, self.redact(value))
        ET.indent(suite)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
            suite, encoding="unicode") + "\n"

    # -- Markdown -----------------------------------------------------------------------------

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", f"**{self.headline()}**", "", f"Target: `{self.target}`"]
        lines += [f"- {what}: {value}" for what, value in self.facts]
        lines += ["", "| rule | | exercised | result |", "|---|---|---:|---|"]
        for o in self.outcomes():
            result = {PASS: "pass", FAIL: "**FAIL**", UNJUDGED: f"**NOT JUDGED**: {o.reason}"
                      }.get(o.status, f"skipped: {o.reason}")
            lines.append(f"| {o.rule} | {o.title} | {o.exercised} | {_cell(result)} |")
        lines += ["", f"Requests sent: {self.total_requests}; invites used: "
                      f"{self.total_invites}; time: {self.seconds:.1f}s."]
        for result in self.results:
            lines.append(f"- {result.suite}: {result.requests} requests, {result.invites} "
                         f"invites, {len(result.findings)} findings, {result.seconds:.1f}s")
        if self.seed is not None:
            lines += ["", f"Seed: `{self.seed}`"]
        incomplete = self.incompleteness()
        if incomplete:
            lines += ["", "## Incomplete", ""] + [f"- {reason}" for reason in incomplete]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        if self.leftovers:
            lines += ["", "## Not removed", ""]
            lines += [f"- `{item}`" for item in self.leftovers]
        for title, _, text in self.appendix:
            lines += ["", f"## {title}", "", text]
        if self.findings:
            lines += ["", "## Failures"]
            for finding in self.findings:
                lines += ["", f"### {finding.rule} ({finding.suite})", "", finding.message]
                if finding.reproduction:
                    lines += ["", "```sh", finding.reproduction, "```"]
        return self.redact("\n".join(lines) + "\n")

    def write(self, directory: Path | str) -> tuple[Path, Path]:
        """Write junit.xml and summary.md into `directory`; their paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        junit, summary = folder / "junit.xml", folder / "summary.md"
        junit.write_text(self.junit(), encoding="utf-8")
        summary.write_text(self.markdown(), encoding="utf-8")
        return junit, summary


def _finding_text(finding: Finding) -> str:
    text = f"[{finding.suite}] {finding.message}"
    if finding.reproduction:
        text += "\nReproduce (key redacted):\n" + finding.reproduction
    return text


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _cell(text: str) -> str:
    return _one_line(text, 400).replace("|", "\\|")


def merge(results: Iterable[SuiteResult]) -> list[SuiteResult]:
    """The results in a stable order for reports: the gate's own checks first."""
    return sorted(results, key=lambda r: (r.suite != "gate", r.suite))
