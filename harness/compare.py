"""Comparing JSON answers of a server the gate has never seen.

Implementations may differ in the precision and notation of date-times and in the key order of
objects (CONTRACT.md, "Where implementations may differ"), so values are compared as instants
and as unordered objects; nothing else is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

# RFC 3339 date-time with an offset; the fraction may be longer than Python keeps (6 digits).
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def instant(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset as an aware datetime; None for anything else."""
    if not isinstance(value, str):
        return None
    match = _DATE_TIME.match(value.strip())
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    text = f"{day}T{clock}"
    if fraction:
        text += "." + fraction[:6].ljust(6, "0")
    text += "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def same(before: Any, after: Any) -> bool:
    """Equal as JSON: date-times as instants, objects ignoring key order, true is not 1."""
    return next(differences(before, after), None) is None


def differences(before: Any, after: Any, path: str = "") -> Iterator[str]:
    """JSON Pointers (with the two values) where `after` differs from `before`."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            where = f"{path}/{key}"
            if key not in after:
                yield f"{where}: {_short(before[key])} -> (absent)"
            elif key not in before:
                yield f"{where}: (absent) -> {_short(after[key])}"
            else:
                yield from differences(before[key], after[key], where)
        return
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            yield f"{path or '/'}: {len(before)} items -> {len(after)} items"
            return
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from differences(old, new, f"{path}/{index}")
        return
    if _scalar_equal(before, after):
        return
    yield f"{path or '/'}: {_short(before)} -> {_short(after)}"


def _scalar_equal(before: Any, after: Any) -> bool:
    if isinstance(before, bool) or isinstance(after, bool):
        return type(before) is type(after) and before == after
    if isinstance(before, int | float) and isinstance(after, int | float):
        return before == after
    if isinstance(before, str) and isinstance(after, str):
        if before == after:
            return True
        old, new = instant(before), instant(after)
        return old is not None and new is not None and old == new
    return type(before) is type(after) and before == after


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
