"""R7: the invite limits as an answer announces them (Retry-After, RateLimit-*)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.spec import LIMIT_CODES, RATE_LIMIT_HEADERS, RATE_LIMIT_RESET_MAX, RETRY_AFTER_MIN

_WHOLE_SECONDS = re.compile(r"[0-9]{1,9}\Z")  # a header value, not a number Python could choke on
LIMIT, REMAINING, RESET = RATE_LIMIT_HEADERS


def whole_number(answer: Answer, name: str) -> int | None:
    """A header's value as a whole number; None when absent or anything else."""
    value = (answer.headers.get(name) or "").strip()
    return int(value) if _WHOLE_SECONDS.match(value) else None


@dataclass(frozen=True)
class RateLimits:
    """The per-Avatar limit as one invite answer announced it."""

    limit: int
    remaining: int
    reset: int

    @classmethod
    def of(cls, answer: Answer) -> RateLimits | None:
        values = [whole_number(answer, name) for name in RATE_LIMIT_HEADERS]
        if None in values:
            return None
        limit, remaining, reset = values
        assert limit is not None and remaining is not None and reset is not None
        return cls(limit, remaining, reset)


def retry_after(answer: Answer) -> list[Finding]:
    """Every 429 carries Retry-After in whole seconds, at least one, and names a limit."""
    if answer.status != 429:
        return []
    seconds = whole_number(answer, "Retry-After")
    return [
        *finding_if(seconds is None or seconds < RETRY_AFTER_MIN, "R7",
                    f"{answer.where} with Retry-After "
                    f"{answer.headers.get('Retry-After') or 'missing'!r}: want whole seconds "
                    f">= {RETRY_AFTER_MIN}", "Retry-After"),
        *finding_if(answer.code not in LIMIT_CODES, "R7", f"{answer.where} with code "
                    f"{answer.code!r}: a 429 is one of the invite limits {sorted(LIMIT_CODES)}",
                    "429 code"),
    ]


def rate_limit_headers(answer: Answer) -> list[Finding]:
    """An invite's 201 and 429 carry RateLimit-* (whole seconds, Remaining <= Limit, Reset <=
    the spec's maximum); other refused invites may go without them, but not with wrong ones;
    invite_rate_limited says nothing remains. Answers other than an invite's: Retry-After."""
    found = retry_after(answer)
    if not answer.is_invite:
        return found
    present = [name for name in RATE_LIMIT_HEADERS if name in answer.headers]
    if answer.status not in (201, 429) and not present:
        return found  # the contract lets refused invites other than 429 go without them
    for name in RATE_LIMIT_HEADERS:
        found += finding_if(whole_number(answer, name) is None, "R7",
                            f"{answer.where} with {name} {answer.headers.get(name) or 'missing'!r}"
                            ": want a whole number", name)
    limits = RateLimits.of(answer)
    if limits is None:
        return found
    found += finding_if(limits.reset > RATE_LIMIT_RESET_MAX, "R7",
                        f"{answer.where} with {RESET} {limits.reset}, over "
                        f"{RATE_LIMIT_RESET_MAX} seconds", RESET)
    found += finding_if(limits.remaining > limits.limit, "R7",
                        f"{answer.where} with {REMAINING} {limits.remaining} over the {LIMIT} "
                        f"{limits.limit}", REMAINING)
    found += finding_if(answer.status == 429 and answer.code == "invite_rate_limited"
                        and limits.remaining != 0, "R7",
                        f"{answer.where} invite_rate_limited with {REMAINING} "
                        f"{limits.remaining}, not 0", "remaining at the limit")
    return found


def invites_counted(answer: Answer, invites_this_hour: int) -> list[Finding]:
    """A 201 after this many successful invites of one key within the rolling hour: the limit
    holds them, and what remains is no more than what they left (others may invite too, which
    only lowers it)."""
    limits = RateLimits.of(answer)
    if answer.status != 201 or limits is None:
        return []
    return [
        *finding_if(invites_this_hour > limits.limit, "R7",
                    f"{answer.where}: {invites_this_hour} invites succeeded within an hour, over "
                    f"{LIMIT} {limits.limit}", "over the limit"),
        *finding_if(limits.remaining > limits.limit - invites_this_hour + 1, "R7",
                    f"{answer.where} with {REMAINING} {limits.remaining} after "
                    f"{invites_this_hour} invites within the hour (limit {limits.limit})",
                    "remaining"),
    ]


def invite_used_one(before: RateLimits | None, answer: Answer) -> list[Finding]:
    """A 201 soon after an invite answer that announced `before` (while no invite can have
    left the window): there was room, and one invite was used up."""
    after = RateLimits.of(answer)
    if answer.status != 201 or before is None or after is None:
        return []
    return [
        *finding_if(before.remaining <= 0, "R7",
                    f"{answer.where} although the invite before said {REMAINING}: 0 (reset in "
                    f"{before.reset}s)", "room"),
        *finding_if(after.remaining >= before.remaining, "R7",
                    f"{answer.where}, yet {REMAINING} went from {before.remaining} to "
                    f"{after.remaining}", "used one"),
    ]
