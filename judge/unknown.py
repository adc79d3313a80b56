"""R1/R14: a user id the key may not see answers exactly like an id nobody has.

The one definition of "answers like an unknown id": what two 404s must share once the id asked
for and the request's own id are taken out. Extension members may carry per-request values, so
only their names are compared; the contract lets ids and request ids take any shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.problems import refusal

_RFC9457 = ("type", "title", "status", "detail", "code")


def _scrub(value: Any, asked_id: str, request_ids: list[str]) -> Any:
    if not isinstance(value, str):
        return value
    for text, placeholder in ((asked_id, "{user_id}"), *((r, "{request_id}") for r in request_ids)):
        if text:
            value = value.replace(text, placeholder)
    return value


def unknown_id_view(answer: Answer, asked_id: str) -> dict[str, Any]:
    """What of an answer may not depend on whether the id asked for exists elsewhere."""
    body = answer.json
    request_ids = [r for r in (answer.headers.get("X-Request-Id"),
                               body.get("request_id") if isinstance(body, dict) else None)
                   if isinstance(r, str) and r]
    view: dict[str, Any] = {"status": answer.status, "media_type": answer.media_type}
    if not isinstance(body, dict):
        view["text"] = _scrub(answer.text, asked_id, request_ids)
        return view
    view["members"] = sorted(body)
    view |= {name: _scrub(body.get(name), asked_id, request_ids) for name in _RFC9457}
    return view


def not_found(answer: Answer, rule: str, why: str) -> list[Finding]:
    """404 user_not_found (else `rule` is broken, or R12 for another code), a problem detail."""
    return refusal(answer, 404, "user_not_found", rule, why)


def indistinguishable(answer: Answer, asked_id: str, control: Answer, control_id: str,
                      rule: str, what: str) -> list[Finding]:
    """`answer` (for `asked_id`, `what`) shows nothing `control` (for an id nobody has) does not."""
    seen, reference = unknown_id_view(answer, asked_id), unknown_id_view(control, control_id)
    differ = {k: (seen.get(k), reference.get(k)) for k in seen.keys() | reference.keys()
              if seen.get(k) != reference.get(k)}
    return finding_if(differ, rule, f"{answer.where} for {what}, unlike the answer for an id "
                      f"nobody has ({control_id}): {differ} (seen, for nobody); the answers must "
                      "not tell them apart", "unknown id")


def no_trace(answer: Answer, traces: Iterable[tuple[str, str]], rule: str = "R14",
             shortest: int = 6) -> list[Finding]:
    """No trace (text, what it is) of another Avatar in the body or a header of `answer`.
    Traces shorter than `shortest` could appear by chance (in an id, a word) and are passed."""
    text = "\n".join([answer.text, *answer.headers.values()])
    return [Finding(rule, f"{answer.where} with {what} ({trace!r})", f"trace {what}")
            for trace, what in traces if len(trace) >= shortest and trace in text]


def json_texts(value: Any) -> list[str]:
    """The strings of a JSON value (a membership's notes, its structured data's leaves)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in json_texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in json_texts(item)]
    return []
