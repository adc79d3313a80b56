"""R12: every answer carries X-Request-Id; every error is a problem detail (RFC 9457)."""

from __future__ import annotations

from judge.answer import Answer
from judge.findings import Finding, finding_if
from judge.spec import CODES_BY_STATUS, PROBLEM_FIELDS, PROBLEM_LISTS

PROBLEM_MEDIA_TYPE = "application/problem+json"


def request_id(answer: Answer) -> list[Finding]:
    """Every answer carries a non-empty X-Request-Id."""
    return finding_if(not (answer.headers.get("X-Request-Id") or "").strip(), "R12",
                      f"{answer.where} without X-Request-Id", "X-Request-Id")


def never_a_server_error(answer: Answer) -> list[Finding]:
    """No input makes the server fail (the spec allows no 5xx)."""
    return finding_if(answer.status >= 500, "SPEC", f"{answer.where}: never a 5xx on any input",
                      "5xx")


def problem_details(answer: Answer) -> list[Finding]:
    """An error answer as R12 describes it: its media type, members, status, code (one the
    contract gives its status), request_id equal to X-Request-Id, and 400's `errors` (JSON
    Pointers) or 422's `fields`. Nothing to judge below 400."""
    if answer.status < 400:
        return []
    where = answer.where
    found = finding_if(answer.media_type != PROBLEM_MEDIA_TYPE, "R12",
                       f"{where} with Content-Type {answer.media_type or 'none'!r}, not "
                       f"{PROBLEM_MEDIA_TYPE}", "media type")
    body = answer.json
    if not isinstance(body, dict):
        return [*found, Finding("R12", f"{where} with a body that is not a JSON object", "body")]
    for name, kind in PROBLEM_FIELDS.items():
        value = body.get(name)
        found += finding_if(not isinstance(value, kind) or isinstance(value, bool), "R12",
                            f"{where}: the problem's {name!r} is {value!r}, not a "
                            f"{kind.__name__}", name)
    found += finding_if(body.get("status") != answer.status, "R12",
                        f"{where} but the problem says status {body.get('status')!r}", "status")
    allowed = CODES_BY_STATUS.get(answer.status)
    code = body.get("code")
    found += finding_if(allowed is not None and code not in allowed, "R12",
                        f"{where} with code {code!r}; the contract allows "
                        f"{sorted(allowed or ())}", "code")
    header = answer.headers.get("X-Request-Id")
    found += finding_if(isinstance(body.get("request_id"), str) and body["request_id"] != header,
                        "R12", f"{where}: request_id {body.get('request_id')!r} differs from "
                        f"the X-Request-Id header {header!r}", "request_id")
    if answer.status in PROBLEM_LISTS:
        member, fewest = PROBLEM_LISTS[answer.status]
        items = body.get(member)
        if member == "errors":
            well_formed = isinstance(items, list) and all(
                isinstance(e, dict) and isinstance(e.get("pointer"), str)
                and isinstance(e.get("message"), str)
                and (e["pointer"] == "" or e["pointer"].startswith("/"))
                for e in items)
            shape = "[{pointer, message}] (JSON Pointers)"
        else:
            well_formed = isinstance(items, list) and all(isinstance(f, str) for f in items)
            shape = "a list of field names"
        found += finding_if(not well_formed or len(items) < fewest, "R12",
                            f"{where} without {member}: {shape}"
                            f"{' (at least one)' if fewest else ''}: {items!r}", member)
    return found


def every_answer(answer: Answer) -> list[Finding]:
    """What holds for every answer whatever was asked: no 5xx, X-Request-Id, problem details."""
    return [*never_a_server_error(answer), *request_id(answer), *problem_details(answer)]


def refusal(answer: Answer, status: int, code: str, rule: str, why: str) -> list[Finding]:
    """The refusal `rule` requires: `status` (else `rule` is broken) with `code` (else the
    problem detail misnames it: R12), as a problem detail."""
    said = f"{answer.status}{f' {answer.code}' if answer.code else ''}"
    if answer.status != status:
        return [Finding(rule, f"{answer.where.rsplit(' ', 1)[0]} {said}; want {status} {code}: "
                              f"{why}", f"status {status}")]
    return [*finding_if(answer.code != code, "R12",
                        f"{answer.where} {answer.code!r}; want {status} {code}: {why}",
                        f"code {status} {code}"),
            *problem_details(answer)]
