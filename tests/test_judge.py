"""The judge's judgements, each shown to pass a right answer and to name the rule of a wrong one.

Pure and fast: no server, only `Answer`s built by hand.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from judge import Answer, Finding, RuleViolation, raise_first
from judge.auth import bad_authorizations, unauthenticated
from judge.frame import membership_elsewhere_kept, rule_of_step, shows_only_its_own
from judge.instants import date_time, instant, is_utc, not_before, same_instant
from judge.limits import RateLimits, invite_used_one, invites_counted, rate_limit_headers
from judge.members import (
    differences,
    invite_result,
    kept,
    member_shape,
    new_user_profile,
    one_user_per_email,
    read_only_refusal,
    same,
    unchanged,
    update_applied,
)
from judge.pages import page, walk, walks_agree
from judge.problems import every_answer, problem_details, refusal, request_id
from judge.spec import (
    CODES_BY_STATUS,
    ERROR_CODES,
    MEMBERSHIP_DEFAULTS,
    READ_ONLY_FIELDS,
    WRITABLE_FIELDS,
)
from judge.unknown import indistinguishable, no_trace, not_found, unknown_id_view

RID = "req_1"


def problem(http_status: int, code: str, **extra: Any) -> Answer:
    body = {"type": f"https://x/{code}", "title": code, "status": http_status, "detail": "no.",
            "code": code, "request_id": RID, **extra}
    return Answer.of(http_status, {"Content-Type": "application/problem+json", "X-Request-Id": RID},
                     json_body=body, method="GET", path="/users/usr_1")


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


MEMBER: dict[str, Any] = {
    "user_id": "usr_1",
    "profile": {"email": "a@example.com", "name": "Ada", "role": None, "expertise": None,
                "locale": "en-CA", "created_at": "2026-01-01T00:00:00Z"},
    "membership": {"avatar_id": "avt_a", "status": "active", "is_owner": False,
                   "is_admin": True, "is_coach": False,
                   "license_expires_at": "2030-01-01T00:00:00Z", "notes": "n",
                   "structured_data": {"k": 1}, "joined_at": "2026-01-01T00:00:00Z",
                   "updated_at": "2026-01-02T00:00:00.123Z"},
}


def with_membership(**changes: Any) -> dict[str, Any]:
    return {**MEMBER, "membership": {**MEMBER["membership"], **changes}}


# -- the answer ----------------------------------------------------------------------------------


def test_headers_ignore_case_and_the_body_parses_once() -> None:
    answer = Answer.of(200, [("x-request-id", "a"), ("Set-Cookie", ["1", "2"])], b'{"a": 1}')
    assert answer.headers["X-REQUEST-ID"] == "a" and "X-Request-Id" in answer.headers
    assert answer.headers["set-cookie"] == "1, 2"
    assert answer.json == {"a": 1}
    assert Answer.of(200, body=b"\xff not json").json is None


# -- timestamps: one strict parser ---------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2026-03-02T09:15:00Z", datetime(2026, 3, 2, 9, 15, tzinfo=UTC)),
    ("2026-03-02t10:15:00.123456789+01:00", datetime(2026, 3, 2, 9, 15, 0, 123456, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
])
def test_instant_reads_rfc3339_with_any_offset_and_precision(text: str, expected: datetime
                                                             ) -> None:
    assert instant(text) == expected


@pytest.mark.parametrize("bad", [None, 5, "", "2026-03-02", "2026-03-02T09:15:00",
                                 "2026-03-02 09:15:00Z", "2026-02-30T00:00:00Z",
                                 "2026-03-02T23:59:60Z", "0000-01-01T00:00:00Z",
                                 "9999-12-31T23:00:00-05:00", "2026-03-02T09:15:00+24:00",
                                 "2026-03-02T09:15:00Z junk", "٢٠٢٦-03-02T09:15:00Z"])
def test_instant_answers_none_for_anything_else_and_never_raises(bad: Any) -> None:
    assert instant(bad) is None
    assert rules(date_time(bad, "joined_at")) == {"SPEC"}


def test_date_time_judgements() -> None:
    assert date_time("2026-01-01T00:00:00Z", "x") == []
    assert date_time(None, "x", nullable=True) == []
    assert rules(date_time("2026-01-01T01:00:00+01:00", "x")) == {"SPEC"}  # answers in UTC
    assert date_time("2026-01-01T01:00:00+01:00", "x", utc=False) == []
    assert is_utc("2026-01-01T00:00:00+00:00") and not is_utc("2026-01-01T00:00:00-01:00")
    assert same_instant("2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.000Z")
    assert not same_instant("2026-01-01T00:00:00Z", None) and same_instant(None, None)
    assert not_before("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "R5", "u") == []
    assert rules(not_before("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", "R5", "u")) == {"R5"}
    assert rules(not_before("2026-01-02T00:00:00Z", "garbage", "R5", "u")) == {"R5"}


# -- R12 -----------------------------------------------------------------------------------------


def test_a_problem_detail_as_the_contract_describes_passes() -> None:
    assert every_answer(problem(404, "user_not_found")) == []
    assert problem_details(problem(400, "invalid_request",
                                   errors=[{"pointer": "/limit", "message": "m"}])) == []
    assert problem_details(problem(422, "read_only_field", fields=["name"])) == []
    assert problem_details(Answer.of(200, json_body=[])) == []


@pytest.mark.parametrize("answer, kind", [
    (Answer.of(404, {"Content-Type": "application/json", "X-Request-Id": RID},
               json_body={"type": "t", "title": "t", "status": 404, "detail": "d",
                          "code": "user_not_found", "request_id": RID}), "media type"),
    (problem(404, "user_not_found", request_id="other"), "request_id"),
    (problem(404, "user_not_found", status=400), "status"),
    (problem(404, "owner_protected"), "code"),
    (problem(404, "user_not_found", title=None), "title"),
    (problem(400, "invalid_request", errors=[{"pointer": "limit", "message": "m"}]), "errors"),
    (problem(400, "invalid_request"), "errors"),
    (problem(422, "read_only_field", fields=[]), "fields"),
    (Answer.of(404, {"Content-Type": "application/problem+json"}, b"<html>"), "body"),
])
def test_a_problem_detail_off_the_contract_is_an_r12_finding(answer: Answer, kind: str) -> None:
    found = problem_details(answer)
    assert kind in {f.kind for f in found} and rules(found) == {"R12"}


def test_the_table_of_codes_by_status_holds_every_code_of_the_spec() -> None:
    assert set().union(*CODES_BY_STATUS.values()) == ERROR_CODES


def test_every_answer_has_a_request_id_and_no_5xx() -> None:
    assert rules(request_id(Answer.of(200))) == {"R12"}
    assert "SPEC" in rules(every_answer(problem(500, "internal_error")))


def test_refusal_blames_the_rule_for_the_status_and_r12_for_the_code() -> None:
    assert refusal(problem(409, "owner_protected"), 409, "owner_protected", "R9", "owner") == []
    assert rules(refusal(problem(204, "x"), 409, "owner_protected", "R9", "owner")) == {"R9"}
    assert rules(refusal(problem(409, "already_member"), 409, "owner_protected", "R9", "o")
                 ) == {"R12"}


# -- R7 ------------------------------------------------------------------------------------------


def invite(status: int, limit: str | None = "60", remaining: str | None = "59",
           reset: str | None = "3600", **headers: str) -> Answer:
    given = {"RateLimit-Limit": limit, "RateLimit-Remaining": remaining,
             "RateLimit-Reset": reset, **headers}
    code = {429: "invite_rate_limited", 403: "seat_limit_reached"}.get(status, "")
    return Answer.of(status, {k: v for k, v in given.items() if v is not None},
                     json_body={"code": code}, method="POST", path="/users")


def test_rate_limit_headers_as_the_contract_describes_pass() -> None:
    assert rate_limit_headers(invite(201)) == []
    assert rate_limit_headers(invite(429, remaining="0", **{"Retry-After": "30"})) == []
    assert rate_limit_headers(invite(403, None, None, None)) == []  # optional on other refusals
    assert rate_limit_headers(Answer.of(200, method="GET", path="/users")) == []


@pytest.mark.parametrize("answer", [
    invite(201, limit=None),
    invite(201, reset="3601"),
    invite(201, remaining="61"),
    invite(201, remaining="-1"),
    invite(201, reset="1e3"),
    invite(429, remaining="0"),  # no Retry-After
    invite(429, remaining="0", **{"Retry-After": "0"}),
    invite(429, remaining="3", **{"Retry-After": "5"}),
    invite(403, remaining="x"),  # present, so it must be right
])
def test_rate_limit_headers_off_the_contract_are_r7_findings(answer: Answer) -> None:
    assert rules(rate_limit_headers(answer)) == {"R7"}


def test_invites_are_counted_against_the_limit() -> None:
    assert invites_counted(invite(201, remaining="57"), 3) == []
    assert rules(invites_counted(invite(201, remaining="60"), 3)) == {"R7"}
    assert rules(invites_counted(invite(201, limit="2", remaining="0"), 3)) == {"R7"}
    before = RateLimits(60, 10, 3600)
    assert invite_used_one(before, invite(201, remaining="9")) == []
    assert rules(invite_used_one(before, invite(201, remaining="10"))) == {"R7"}
    assert rules(invite_used_one(RateLimits(60, 0, 30), invite(201, remaining="0"))) == {"R7"}


# -- R1/R14: the unknown id ----------------------------------------------------------------------


def test_a_hidden_id_answered_like_an_unknown_one_passes() -> None:
    hidden = problem(404, "user_not_found", detail="No member usr_hidden.")
    control = problem(404, "user_not_found", detail="No member usr_nobody.",
                      request_id="req_2")
    control = Answer.of(404, {**control.headers, "X-Request-Id": "req_2"}, control.body)
    assert not_found(hidden, "R1", "hidden") == []
    assert indistinguishable(hidden, "usr_hidden", control, "usr_nobody", "R14", "x") == []
    assert unknown_id_view(hidden, "usr_hidden") == unknown_id_view(control, "usr_nobody")


@pytest.mark.parametrize("hidden", [
    problem(404, "user_not_found", detail="Member of another Avatar."),
    problem(404, "user_not_found", extra_member="x"),
    Answer.of(404, {"Content-Type": "application/json", "X-Request-Id": RID},
              problem(404, "user_not_found").body),
])
def test_a_hidden_id_answered_otherwise_is_a_finding(hidden: Answer) -> None:
    control = problem(404, "user_not_found")
    assert rules(indistinguishable(hidden, "usr_h", control, "usr_n", "R14", "x")) == {"R14"}


def test_not_found_names_the_rule_for_the_status_and_r12_for_the_code() -> None:
    assert rules(not_found(Answer.of(200, json_body=MEMBER), "R1", "x")) == {"R1"}
    assert rules(not_found(problem(404, "not_found"), "R1", "x")) == {"R12"}


def test_no_trace_of_another_avatar() -> None:
    answer = Answer.of(200, {"X-Debug": "avt_bbbbbb"}, json_body=MEMBER)
    assert no_trace(answer, [("r14-canary-1234", "B's notes")]) == []
    assert rules(no_trace(answer, [("avt_bbbbbb", "B's avatar_id")])) == {"R14"}
    assert no_trace(answer, [("n", "a short trace")]) == []  # too short to tell


# -- R13 -----------------------------------------------------------------------------------------


def test_bad_authorizations_cover_each_kind_and_never_the_key() -> None:
    key = "mgak_abc.secret"
    bad = dict(bad_authorizations(key, token=lambda n: "0" * 2 * n))
    assert bad["no Authorization header"] is None
    assert f"Bearer {key}" not in bad.values()
    assert bad["key A's credential id with a wrong secret"].startswith("Bearer mgak_abc.")
    assert bad == dict(bad_authorizations(key, token=lambda n: "0" * 2 * n))  # replayable
    assert len(bad_authorizations("opaque")) == 5  # no credential id to reuse


def test_unauthenticated() -> None:
    refused = problem(401, "unauthenticated")
    refused = Answer.of(401, {**refused.headers, "WWW-Authenticate": 'Bearer realm="x"'},
                        refused.body)
    assert unauthenticated(refused, "no key") == []
    assert rules(unauthenticated(problem(401, "unauthenticated"), "no key")) == {"R13"}
    assert rules(unauthenticated(Answer.of(200), "no key")) == {"R13"}


# -- R2-R5: members ------------------------------------------------------------------------------


def test_json_comparison() -> None:
    assert same({"a": 1, "b": "2026-01-01T00:00:00Z"}, {"b": "2026-01-01T01:00:00+01:00", "a": 1})
    assert not same(True, 1) and not same({"a": 1}, {"a": 1, "b": None})
    assert kept("2026-01-01T00:00:00.999Z", "2026-01-01T00:00:00Z")
    assert not same("2026-01-01T00:00:00.999Z", "2026-01-01T00:00:00Z")
    assert list(differences({"a": [1]}, {"a": [2]})) == ["/a/0: 1 -> 2"]


def test_member_shape() -> None:
    assert member_shape(MEMBER, "m") == []
    assert rules(member_shape(with_membership(is_coach="false"), "m")) == {"SPEC"}
    assert rules(member_shape(with_membership(joined_at="yesterday"), "m")) == {"SPEC"}
    assert rules(member_shape({"user_id": "u"}, "m")) == {"SPEC"}


def invited(member: dict[str, Any], existing: bool, ignored: list[str]) -> Answer:
    return Answer.of(201, {"Location": f"/v1beta/users/{member['user_id']}"},
                     json_body={"existing_user": existing, "ignored_profile_fields": ignored,
                                "member": member}, method="POST", path="/users")


def test_invite_results() -> None:
    sent = {"email": " a@example.com ", "profile": {"name": "Ada", "locale": "en-CA"},
            "membership": {"is_admin": True, "notes": "n", "structured_data": {"k": 1},
                           "license_expires_at": "2030-01-01T01:00:00+01:00"}}
    answer = invited(MEMBER, False, [])
    assert invite_result(answer, sent, existing_user=False) == []
    assert new_user_profile(answer, sent) == []
    assert rules(invite_result(answer, sent, existing_user=True)) == {"R2"}
    assert rules(new_user_profile(answer, {**sent, "profile": {"name": "Bo"}})) == {"R2"}
    wrong = invited(with_membership(notes=None), False, [])
    assert rules(invite_result(wrong, sent, existing_user=False, membership_rule="R6")) == {"R6"}
    again = invited(MEMBER, True, ["name", "locale"])
    assert invite_result(again, sent, existing_user=True) == []
    assert rules(invite_result(invited(MEMBER, True, []), sent, existing_user=True)) == {"R2"}
    assert set(MEMBERSHIP_DEFAULTS) == set(WRITABLE_FIELDS)


def test_update_applied() -> None:
    sent = {"notes": None}
    after = with_membership(notes=None, updated_at="2026-01-03T00:00:00Z")
    assert update_applied(MEMBER, sent, Answer.of(200, json_body=after)) == []
    reset = with_membership(notes=None, is_admin=False, updated_at="2026-01-03T00:00:00Z")
    assert rules(update_applied(MEMBER, sent, Answer.of(200, json_body=reset))) == {"R5"}
    back = with_membership(notes=None, updated_at="2026-01-01T00:00:00Z")
    assert rules(update_applied(MEMBER, sent, Answer.of(200, json_body=back))) == {"R5"}
    ignored = with_membership(updated_at="2026-01-03T00:00:00Z")
    assert rules(update_applied(MEMBER, sent, Answer.of(200, json_body=ignored))) == {"R5"}
    assert "name" in READ_ONLY_FIELDS and "notes" not in READ_ONLY_FIELDS


# -- the frame -----------------------------------------------------------------------------------


def test_the_frame_of_memberships_elsewhere() -> None:
    elsewhere = Answer.of(200, json_body=MEMBER)
    assert membership_elsewhere_kept(MEMBER, elsewhere, "DELETE", "B's Ada") == []
    defaulted = Answer.of(200, json_body=with_membership(is_admin=False))
    assert rules(membership_elsewhere_kept(MEMBER, defaulted, "DELETE", "B's Ada")) == {"R6"}
    assert rules(membership_elsewhere_kept(MEMBER, defaulted, "PUT", "B's Ada")) == {"R1"}
    assert rules(membership_elsewhere_kept(MEMBER, problem(404, "user_not_found"), "DELETE",
                                           "B's Ada")) == {"R6"}
    assert rule_of_step("delete") == "R6"
    assert unchanged(MEMBER, MEMBER, "R11", "x") == []


def test_shows_only_its_own() -> None:
    foreign = [("avatar_id", "avt_b"), ("notes", "B's secret"), ("structured_data", {})]
    assert shows_only_its_own(MEMBER, "avt_a", {"notes": "n"}, foreign, "x") == []
    leaked = with_membership(notes="B's secret")
    assert rules(shows_only_its_own(leaked, "avt_a", {"notes": "n"}, foreign, "x")) == {"R14"}
    assert rules(shows_only_its_own(MEMBER, "avt_b", {}, [], "x")) == {"R1"}
    # the same value kept by both Avatars is no leak
    assert shows_only_its_own(leaked, "avt_a", {"notes": "B's secret"}, foreign, "x") == []


def test_raise_first() -> None:
    raise_first([])
    with pytest.raises(RuleViolation, match=r"^R7 Invite limits: x"):
        raise_first([Finding("R7", "x"), Finding("R12", "y")])
    with pytest.raises(ValueError):
        Finding("R99", "x")


def test_the_judge_imports_no_http_and_no_suite() -> None:
    allowed = {"judge", "openapi", "__future__", "collections", "dataclasses", "datetime",
               "functools", "itertools", "json", "re", "secrets", "typing"}
    for path in (Path(__file__).parent.parent / "judge").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


# -- R3, R4, R10 ---------------------------------------------------------------------------------


def test_one_user_per_email() -> None:
    assert one_user_per_email(MEMBER, "usr_1", "A@EXAMPLE.COM", "x") == []
    assert rules(one_user_per_email(MEMBER, "usr_2", "A@EXAMPLE.COM", "x")) == {"R3"}


def test_read_only_refusal() -> None:
    sent = {"name": "x", "notes": "y", "nickname": "z"}
    assert read_only_refusal(problem(422, "read_only_field", fields=["name"]), sent) == []
    assert read_only_refusal(problem(422, "read_only_field", fields=["name", "nickname"]),
                             sent) == []
    assert rules(read_only_refusal(problem(422, "read_only_field", fields=["email"]), sent)
                 ) == {"R4"}
    assert rules(read_only_refusal(problem(422, "read_only_field", fields=["name", "notes"]),
                                   sent)) == {"R4"}
    assert rules(read_only_refusal(Answer.of(200, json_body=MEMBER), sent)) == {"R4"}


def listing(*members: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"user_id": u, "membership": {"joined_at": j}} for u, j in members]


def test_pages_and_walks() -> None:
    good = Answer.of(200, json_body={"data": listing(("a", "2026-01-01T00:00:00Z")),
                                     "next_cursor": None})
    assert page(good, 1, first=True) == []
    assert rules(page(good, 0, first=True)) == {"R10"}
    assert rules(page(problem(400, "invalid_cursor", errors=[]), 5, first=False)) == {"R10"}
    assert rules(page(Answer.of(200, json_body={"data": []}), 5, first=True)) == {"SPEC"}
    ordered = listing(("b", "2026-01-01T00:00:00Z"), ("a", "2026-01-02T00:00:00Z"),
                      ("c", "2026-01-02T00:00:00+00:00"))
    assert walk(ordered, "w") == []
    assert rules(walk([*ordered, ordered[0]], "w")) == {"R10"}
    assert rules(walk(list(reversed(ordered)), "w")) == {"R10"}
    assert walks_agree(["a", "b", "c"], ["a", "x", "c"], ["a", "c"], "w") == []
    assert rules(walks_agree(["a", "b", "c"], ["a"], ["a", "c"], "w")) == {"R10"}
    assert rules(walks_agree(["a", "c"], ["c", "a"], ["a", "c"], "w")) == {"R10"}
