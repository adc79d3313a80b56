"""Date-times: the one parser, strict, and the judgements over instants.

Implementations may differ in the precision and notation of date-times (CONTRACT.md), so values
are compared as instants, never as strings. Anything that is not an RFC 3339 date-time with an
offset, within the spec's range (years 1 to 9999 in UTC, no leap second), is no instant: the
parser answers None and a judgement reports it; nothing here raises on what a server sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from judge.findings import Finding, finding_if

# RFC 3339 `date-time`: the fraction may be longer than Python keeps (microseconds).
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})\Z",
    re.ASCII,
)


def instant(value: Any) -> datetime | None:
    """The instant an RFC 3339 date-time names, in UTC; None for anything else."""
    if not isinstance(value, str):
        return None
    match = _DATE_TIME.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                         micro, tzinfo=UTC)
        if offset in ("Z", "z"):
            return local
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        return local - sign * timedelta(hours=hours, minutes=minutes)
    except (ValueError, OverflowError):  # day 31 of April, second 60, beyond year 1 to 9999
        return None


def is_utc(value: Any) -> bool:
    """Whether an answered date-time is written in UTC (answers are, CONTRACT.md)."""
    return instant(value) is not None and (value[-1] in "Zz" or value.endswith("+00:00"))


def same_instant(a: Any, b: Any, *, within: timedelta = timedelta(0)) -> bool:
    """Whether two date-times name the same instant (`within` for a value a server may keep
    at less precision than it was sent); None equals only None."""
    if a is None or b is None:
        return a is None and b is None
    first, second = instant(a), instant(b)
    return first is not None and second is not None and abs(first - second) <= within


def date_time(value: Any, what: str, rule: str = "SPEC", *, nullable: bool = False,
              utc: bool = True) -> list[Finding]:
    """A finding unless `value` is a date-time (in UTC, for an answer), or null if allowed."""
    if value is None and nullable:
        return []
    if instant(value) is None:
        return [Finding(rule, f"{what} is {value!r}, not an RFC 3339 date-time", "date-time")]
    return finding_if(utc and not is_utc(value), rule, f"{what} {value!r} is not in UTC",
                      "utc")


def not_before(earlier: Any, later: Any, rule: str, what: str) -> list[Finding]:
    """A finding unless `later` is a date-time at or after `earlier` (e.g. updated_at moves
    forward); nothing to judge when `earlier` is no date-time."""
    start, end = instant(earlier), instant(later)
    if start is None:
        return []
    return finding_if(end is None or end < start, rule,
                      f"{what}: {later!r} is before {earlier!r}")
