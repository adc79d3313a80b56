"""R13: the authorizations no server may accept, and how a refusal of one must look."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.problems import problem_details


def bad_authorizations(key: str, token: Callable[[int], str] = secrets.token_hex
                       ) -> list[tuple[str, str | None]]:
    """(what it is, Authorization value or None for no header): missing, malformed, unknown,
    and key A's own credential id with a wrong secret or none. `token(n)` makes n random bytes
    as hex (a fixed one makes the list the same on every call, for a replay)."""
    credential = key.split(".", 1)[0] if key.startswith("mgak_") and "." in key else None
    bad: list[tuple[str, str | None]] = [
        ("no Authorization header", None),
        ("a Bearer scheme without a token", "Bearer"),
        ("a malformed key", f"Bearer not-a-key-{token(4)}"),
        ("key A sent as Basic credentials", f"Basic {key}"),
        ("an unknown key", f"Bearer mgak_{token(6)}.{token(16)}"),
    ]
    if credential:
        bad += [("key A's credential id without its secret", f"Bearer {credential}"),
                ("key A's credential id with a wrong secret", f"Bearer {credential}.{token(16)}")]
    return bad


def unauthenticated(answer: Answer, what: str) -> list[Finding]:
    """401 unauthenticated with WWW-Authenticate: Bearer, as a problem detail."""
    where = f"{answer.where} with {what}"
    if answer.status != 401:
        return [Finding("R13", f"{where}; want 401 unauthenticated", "status")]
    challenge = answer.headers.get("WWW-Authenticate") or ""
    return [
        *finding_if(answer.code != "unauthenticated", "R13",
                    f"{where} with code {answer.code!r}, want unauthenticated", "code"),
        *finding_if(challenge.split(" ")[0].lower() != "bearer", "R13",
                    f"{where} with WWW-Authenticate {challenge!r}, want Bearer", "challenge"),
        *problem_details(answer),
    ]
