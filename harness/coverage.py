"""What a run reached: per operation, the statuses and error codes it saw, and the blind spots.

The spec names, for each operation, the statuses it may answer and, in each error response's
description and example, the error codes (`invalid_cursor`, `seat_limit_reached`...). A run
that never saw one of them never judged the server there: those are its blind spots, flagged
in the summary so that a green run does not look more thorough than it was.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "delete", "patch")
CODE = re.compile(r"`([a-z][a-z_]+)`")


@dataclass(frozen=True)
class Expected:
    """What the spec says one operation may answer."""

    operation: str  # "POST /users"
    operation_id: str
    statuses: tuple[int, ...]
    codes: dict[int, tuple[str, ...]]  # status -> error codes the spec names for it


def expected_answers(spec: dict[str, Any] | None = None) -> list[Expected]:
    """Every operation of the spec, with the statuses and codes it documents."""
    if spec is None:
        from openapi import load_api_spec

        spec = load_api_spec()
    responses = spec.get("components", {}).get("responses", {})
    known = _known_codes(spec)
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            statuses, codes = [], {}
            for status, response in operation.get("responses", {}).items():
                if not str(status).isdigit():
                    continue
                if "$ref" in response:
                    response = responses.get(response["$ref"].rsplit("/", 1)[-1], {})
                statuses.append(int(status))
                named = _codes_of(response, known)
                if int(status) >= 400 and named:
                    codes[int(status)] = named
            found.append(Expected(f"{method.upper()} {path}", operation.get("operationId", ""),
                                  tuple(sorted(statuses)), codes))
    return found


def _known_codes(spec: dict[str, Any]) -> set[str]:
    """The error codes the spec uses: its ErrorCode enum, examples and `code` enums."""
    known: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            code = node.get("code")
            if isinstance(code, str):
                known.add(code)
            elif isinstance(code, dict) and isinstance(code.get("enum"), list):
                known.update(c for c in code["enum"] if isinstance(c, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec.get("components", {}))
    error_code = spec.get("components", {}).get("schemas", {}).get("ErrorCode", {})
    known.update(c for c in error_code.get("enum", []) if isinstance(c, str))
    return known


def _codes_of(response: dict[str, Any], known: set[str]) -> tuple[str, ...]:
    """The codes one response names: in its example, or in `backticks` in its description."""
    codes = {c for c in CODE.findall(response.get("description", "")) if c in known}
    for content in response.get("content", {}).values():
        example = content.get("example")
        if isinstance(example, dict) and isinstance(example.get("code"), str):
            codes.add(example["code"])
    return tuple(sorted(codes))


@dataclass
class Reached:
    """The answers a run saw: (operation, status, code) -> how many."""

    answers: Counter[tuple[str, int, str]] = field(default_factory=Counter)

    def add(self, answers: Iterable[tuple[tuple[str, int, str], int]]) -> None:
        for key, count in answers:
            self.answers[(str(key[0]), int(key[1]), str(key[2]))] += int(count)

    def as_json(self) -> list[list[Any]]:
        return [[op, status, code, n] for (op, status, code), n in sorted(self.answers.items())]

    @classmethod
    def from_json(cls, rows: Iterable[list[Any]]) -> Reached:
        reached = cls()
        reached.add(((row[0], row[1], row[2]), row[3]) for row in rows)
        return reached

    def blind_spots(self, expected: list[Expected]) -> list[str]:
        """Each status and code of the spec that no answer reached, as `OP status [code]`."""
        spots = []
        for op in expected:
            seen = {(s, c) for (o, s, c) in self.answers if o == op.operation}
            statuses = {s for s, _ in seen}
            for status in op.statuses:
                if status not in statuses:
                    spots.append(f"{op.operation} {status}")
                    continue
                spots += [f"{op.operation} {status} {code}" for code in op.codes.get(status, ())
                          if (status, code) not in seen]
        return spots

    def _rows(self, expected: list[Expected]) -> list[tuple[str, str, str]]:
        rows = []
        for op in expected:
            seen: Counter[tuple[int, str]] = Counter()
            for (o, status, code), n in self.answers.items():
                if o == op.operation:
                    seen[(status, code)] += n
            shown = ", ".join(f"{s}{' ' + c if c else ''} x{n}"
                              for (s, c), n in sorted(seen.items()))
            spots = [spot.removeprefix(op.operation + " ") for spot in self.blind_spots([op])]
            rows.append((op.operation, shown or "nothing", ", ".join(spots) or "none"))
        others: Counter[str] = Counter()
        known = {op.operation for op in expected}
        for (o, status, _), n in self.answers.items():
            if o not in known:
                others[f"{o} {status}"] += n
        if others:
            rows.append(("(not in the spec)", ", ".join(f"{k} x{n}" for k, n in sorted(
                others.items())), "-"))
        return rows

    def console(self, expected: list[Expected]) -> str:
        lines = ["reached (per operation: statuses and error codes seen; NOT REACHED: the spec's "
                 "statuses and codes no request got):"]
        for operation, seen, spots in self._rows(expected):
            lines.append(f"  {operation}: {seen}")
            if spots != "none":
                lines.append(f"    NOT REACHED: {spots}")
        return "\n".join(lines)

    def markdown(self, expected: list[Expected]) -> str:
        lines = ["| operation | statuses and codes seen | not reached (blind spots) |",
                 "|---|---|---|"]
        for operation, seen, spots in self._rows(expected):
            flagged = f"**{spots}**" if spots not in ("none", "-") else spots
            lines.append(f"| {operation} | {seen} | {flagged} |")
        return "\n".join(lines)
