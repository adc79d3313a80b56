"""The gate's own checks: short, fixed request sequences that are safe on a real server.

Each check is a method named after what it shows; it raises `RuleViolation` at the first broken
rule, and the exchanges it sent become the finding's reproduction. The read checks write nothing;
the write checks invite a handful of fresh addresses from the email template (the ledger in
`harness.guard` records them, and the gate removes them at the end) and write only to those.

What the gate never does, on purpose: write to a member it did not invite. So R9 (the owner is
protected) is checked here only when the person running the gate asks for it (`--probe-owner`):
the check tries the protected writes on each Avatar's owner and, if one is accepted, puts the
owner back at once.

Every value a check watches for a change is away from its default first (a change to a default
would not show on a default), and a check of what a fresh membership holds sends none of the
fields it looks at. The invites carry the edge values of every field the spec allows (maximum
lengths, characters beyond ASCII and beyond U+FFFF, nulls, the first and last instants).

Nothing here assumes what the contract leaves open: ids are opaque (an unknown id is made by
changing digits of a real one, so it has the server's own format), date-times are compared as
instants, and pages are judged by what R10 promises even if other people write meanwhile.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from harness.client import ApiClient, Exchange, reproduction
from harness.guard import BudgetExhausted, Guard, GuardRefusal
from harness.report import Finding, SuiteResult
from harness.rules import RULES, RuleViolation
from harness.spec_check import spec_problem
from harness.target import Target
from judge import Answer
from judge import Finding as Judged
from judge.auth import bad_authorizations, unauthenticated
from judge.frame import membership_elsewhere_kept, shows_only_its_own
from judge.instants import date_time, not_before
from judge.limits import rate_limit_headers, retry_after
from judge.members import (
    differences,
    invite_result,
    membership_differences,
    new_user_profile,
    one_user_per_email,
    read_only_refusal,
    unchanged,
    update_applied,
)
from judge.pages import page as judge_page
from judge.pages import walk as judge_walk
from judge.pages import walks_agree
from judge.problems import problem_details, refusal, request_id
from judge.spec import MEMBERSHIP_DEFAULTS, PROFILE_INPUT_FIELDS
from judge.unknown import indistinguishable, no_trace
from openapi import load_api_spec

SUITE = "gate"
PAGE = 100
MAX_SMALL_PAGES = 30  # the walk with a small page size stays this short, whatever the Avatar size
R9_REASON = ("the gate never writes to a member it did not invite, and the owner is one; "
             "--probe-owner checks it, at a risk (docs/GATE.md); the suites check it against "
             "the mock")
# A membership with every field away from its default, so that a write that puts any field back
# to its default shows (licence and notes are not the gate's own canaries: those are in B).
NON_DEFAULT_MEMBERSHIP: dict[str, Any] = {
    "is_admin": True, "is_coach": True, "license_expires_at": "2032-02-29T12:30:00Z",
    "notes": "Set by the gate before the check", "structured_data": {"before": ["the", "check"]}}


# -- the edge values of each field, from the spec ----------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    schemas = load_api_spec()["components"]["schemas"]
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def field_limits() -> dict[str, int]:
    """The spec's maximum length of each text field; structured_data's bytes and depth."""
    schemas = load_api_spec()["components"]["schemas"]
    limits = {name: _resolve(schemas["Profile"]["properties"][name])["maxLength"]
              for name in PROFILE_INPUT_FIELDS}
    membership = schemas["Membership"]["properties"]
    limits["notes"] = _resolve(membership["notes"])["maxLength"]
    data = _resolve(membership["structured_data"])
    limits["structured_data_bytes"] = data["x-max-bytes"]
    limits["structured_data_depth"] = data["x-max-depth"]
    return limits


# Scripts people write names in, precomposed (NFC-stable: a server may fairly normalise), with a
# character beyond U+FFFF (four bytes in UTF-8, a surrogate pair in JSON); no blank at either end.
_WORLD = "Åsa-Łódź-Nguyễn-李小龍-Σωκράτης-Мария-محمد-שׂרה-ภาษา-🦄-Zoë-"


def filled(length: int, pattern: str = _WORLD) -> str:
    """A text of exactly `length` characters (code points) from `pattern`, no blank at the ends."""
    text = (pattern * (length // len(pattern) + 1))[:length]
    text = text[:-1] + "z" if text[-1:] in "- " else text
    assert len(text) == length and unicodedata.normalize("NFC", text) == text
    return text


def longest_locale(length: int) -> str:
    """A well-formed BCP 47 tag of exactly `length` characters: private-use subtags of 1-8."""
    tag = "zh-Hant-TW-x"
    while len(tag) < length:
        left = length - len(tag)  # a subtag takes a hyphen and 1 to 8 characters
        if left == 1:
            raise ValueError(f"no well-formed tag is {length} characters long this way")
        size = left - 1 if left <= 9 else 7 if left == 10 else 8
        tag += "-" + "gatechk9"[:size]
    assert len(tag) == length, tag
    return tag


def largest_structured_data(max_bytes: int, depth: int) -> dict[str, Any]:
    """An object exactly `max_bytes` long as compact UTF-8 JSON and `depth` levels deep."""
    inner: dict[str, Any] = {"🦄": "tief"}
    for level in range(depth - 1, 0, -1):
        inner = {f"ébène{level}": inner}
    inner["données"] = ""

    def size(value: Any) -> int:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())

    room = max_bytes - size(inner)
    pad = ""
    while room >= 4:  # a four-byte character at a time, then ASCII for the rest
        pad += "🦄"
        room -= 4
    inner["données"] = pad + "x" * room
    assert size(inner) == max_bytes
    return inner


def edge_invites(limits: dict[str, int]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(what, profile, membership) of the invites that carry each field's edge values."""
    return [
        ("the longest values", {
            "name": filled(limits["name"]), "role": filled(limits["role"]),
            "expertise": filled(limits["expertise"]), "locale": longest_locale(limits["locale"]),
        }, {
            "is_admin": True, "is_coach": True, "license_expires_at": "9999-12-31T23:59:59Z",
            "notes": filled(limits["notes"]),
            "structured_data": largest_structured_data(limits["structured_data_bytes"],
                                                       limits["structured_data_depth"]),
        }),
        ("nulls and the first instant", dict.fromkeys(PROFILE_INPUT_FIELDS), {
            "is_admin": False, "is_coach": False, "license_expires_at": "0001-01-01T00:00:00Z",
            "notes": None, "structured_data": {"null": None, "empty": [], "nested": {"": {}}},
        }),
    ]


@dataclass
class Snapshot:
    """One Avatar's members as listed at the start, by user id, in list order."""

    key: str
    members: list[dict[str, Any]]
    pages: list[Exchange] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [m.get("user_id") for m in self.members if isinstance(m, dict)]

    @property
    def avatar_id(self) -> str | None:
        for member in self.members:
            avatar = (member.get("membership") or {}).get("avatar_id")
            if isinstance(avatar, str):
                return avatar
        return None


def walk(client: ApiClient, limit: int | None = PAGE, max_pages: int = 1000
         ) -> tuple[list[dict[str, Any]], list[Exchange]]:
    """Every member by following next_cursor; raises RuleViolation on a page that is not 200."""
    members: list[dict[str, Any]] = []
    pages: list[Exchange] = []
    cursor = None
    for _ in range(max_pages):
        page = client.list_page(limit, cursor)
        pages.append(page)
        body = page.body
        if page.status != 200 or not isinstance(body, dict) or not isinstance(
            body.get("data"), list
        ):
            raise RuleViolation("R10", f"GET /users (limit {limit}) answered {page.status} "
                                "during a walk of the list, not a page of members")
        members.extend(body["data"])
        cursor = body.get("next_cursor")
        if cursor is None:
            return members, pages
    raise RuleViolation("R10", f"following next_cursor with limit {limit} never ended "
                        f"({max_pages} pages)")


def unknown_like(user_id: str | None) -> str:
    """An id nobody has, in the server's own format: digits of a real id changed at random.

    Digits are valid in every usual id alphabet (hex UUIDs, Crockford ULIDs, numbers), so the
    server cannot refuse it as malformed; ten random digits make a collision negligible.
    """
    if not user_id:
        return "usr_" + "".join(secrets.choice("0123456789") for _ in range(26))
    chars = list(user_id)
    positions = [i for i, c in enumerate(chars) if c.isalnum()][-10:]
    while True:
        for i in positions:
            chars[i] = secrets.choice("0123456789")
        candidate = "".join(chars)
        if candidate != user_id:
            return candidate


class Stop(Exception):
    """The remaining write checks cannot run (e.g. no seat or invite left); the reason."""


class GateChecks:
    """The gate's checks against one target; fills `result` (a SuiteResult named "gate")."""

    def __init__(self, target: Target, guard: Guard, snapshots: dict[str, Snapshot],
                 fresh_email: Callable[[], str], *, probe_owner: bool = False) -> None:
        self.target = target
        self.probe_owner = probe_owner  # R9 on the owners, by choice (see owner_is_protected)
        self.damage: list[str] = []  # what the R9 probe could not put back: for the report
        self.guard = guard
        self.snapshots = snapshots
        self.fresh_email = fresh_email
        self.result = SuiteResult(suite=SUITE)
        self.a = ApiClient(target.base_url, target.key_a, name="A")
        self.b = ApiClient(target.base_url, target.key_b, name="B") if target.key_b else None
        self.avatar = {key: snap.avatar_id for key, snap in snapshots.items()}
        self.canaries: list[str] = []  # planted in Avatar B; never in an answer to key A (R14)
        self.unauthenticated_emails: set[str] = set()  # invited without a valid key (R13)
        self.foreign_cursor_checked = False
        self.e1: dict[str, Any] | None = None  # the member the write checks work on
        self.budget_spent: str | None = None
        self._flagged: set[tuple[str, str]] = set()
        self.errors: list[str] = []  # checks that stopped on an answer they could not read

    # -- running ------------------------------------------------------------------------------

    def run(self, *, read_only: bool) -> SuiteResult:
        reads = [self.authentication_is_required_to_read, self.errors_are_problem_details,
                 self.pagination_is_exact, self.other_avatars_members_are_unknown]
        writes = [self.invite_creates_user_from_profile_sent, self.invite_of_a_member_conflicts,
                  self.put_refuses_profile_and_read_only_fields, self.put_is_partial,
                  self.delete_is_soft_and_reinvite_keeps_identity,
                  self.writes_without_a_valid_key_change_nothing,
                  self.avatars_stay_apart_on_a_shared_user, self.invites_keep_edge_values]
        if self.probe_owner and not read_only:
            writes.insert(0, self.owner_is_protected)  # first: the owners are back the soonest
        else:
            self.result.skip("R9", R9_REASON, configured=True)
        for step in reads:
            self._run(step)
        if read_only:
            for rule in ("R2", "R3", "R4", "R5", "R6", "R8", "R11"):
                self.result.skip(rule, "read-only run: this rule needs writes", configured=True)
            self.result.skip("R7", "read-only run: no invites sent", configured=True)
        else:
            for step in writes:
                if not self._run(step):
                    break
        self._run(self.answers_to_one_avatar_hold_nothing_of_another)
        self._run(self.invite_limits_are_announced)
        self._run(self.answers_conform_to_the_spec)
        self.result.requests = self.a.requests + (self.b.requests if self.b else 0)
        return self.result

    def _run(self, step: Callable[[], None]) -> bool:
        """Run one check; record what it broke. False when the write checks must stop."""
        marks = self._marks()
        try:
            step()
        except RuleViolation as violation:
            self.result.findings.append(Finding(
                violation.rule, SUITE, str(violation),
                reproduction(self._since(marks))))
        except Stop as stop:
            self._skip_unexercised(str(stop))
            return False
        except BudgetExhausted as spent:
            self.budget_spent = spent.reason
            self._skip_unexercised(f"the gate's budget ran out ({spent.reason})")
            return False
        except GuardRefusal as refused:
            # A refusal by the guard means a check asked for something unsafe: a bug here.
            raise RuntimeError(f"the gate's own check {step.__name__} was refused: {refused}"
                               ) from refused
        except Exception as error:
            # An answer of a shape the check did not expect; the spec check over every answer
            # judges the shape, so the other checks go on.
            self.errors.append(f"the check {step.__name__} stopped on an unexpected answer: "
                               f"{type(error).__name__}: {error}")
        return True

    def _marks(self) -> list[tuple[ApiClient, int]]:
        return [(c, len(c.exchanges)) for c in (self.a, self.b) if c is not None]

    @staticmethod
    def _since(marks: list[tuple[ApiClient, int]]) -> list[Exchange]:
        return [e for client, mark in marks for e in client.exchanges[mark:]]

    def _skip_unexercised(self, reason: str) -> None:
        for rule in RULES:
            if not self.result.exercised[rule]:
                self.result.skipped.setdefault(rule, reason)

    @property
    def exchanges(self) -> Iterator[Exchange]:
        yield from self.a.exchanges
        if self.b is not None:
            yield from self.b.exchanges

    # -- judging ------------------------------------------------------------------------------

    def expect(self, condition: object, rule: str, message: str) -> None:
        """Count one judgement of `rule`; raise RuleViolation unless `condition` holds."""
        self.result.exercised[rule] += 1
        if not condition:
            raise RuleViolation(rule, message)

    def flag(self, condition: object, rule: str, kind: str, message: str,
             exchanges: list[Exchange]) -> bool:
        """Like `expect`, but record a broken rule and go on: one finding per rule and kind.

        For what one server gets wrong on every answer (a problem detail's shape): failing the
        check at once would hide every other rule behind it.
        """
        self.result.exercised[rule] += 1
        if condition:
            return True
        if (rule, kind) not in self._flagged:
            self._flagged.add((rule, kind))
            self.result.findings.append(Finding(rule, SUITE, str(RuleViolation(rule, message)),
                                                reproduction(exchanges)))
        return False

    def judge(self, findings: list[Judged], exchange: Exchange) -> None:
        """Count the judgement; flag what is wrong with the problem detail (R12) and go on;
        raise the first other finding."""
        for finding in findings:
            if finding.rule == "R12":
                self.flag(False, "R12", finding.kind, finding.message, [exchange])
            else:
                self.expect(False, finding.rule, finding.message)

    def expect_status(self, exchange: Exchange, status: int, rule: str, why: str,
                      code: str | None = None) -> None:
        """The status `rule` requires (else it is broken); the code, else R12 is broken."""
        if code is not None:
            self.result.exercised[rule] += 1
            self.judge(refusal(exchange.answer, status, code, rule, why), exchange)
            return
        answer = exchange.answer
        self.expect(answer.status == status, rule,
                    f"{answer.where.rsplit(' ', 1)[0]} {answer.status} {answer.code or ''}; want "
                    f"{status}: {why}")
        if status >= 400:
            self.expect_problem(exchange)

    def expect_problem(self, exchange: Exchange) -> None:
        """R12: a problem detail with the contract's members, request_id == X-Request-Id."""
        self.result.exercised["R12"] += 1
        self.judge(problem_details(exchange.answer), exchange)

    def expect_findings(self, findings: list[Judged], rule: str) -> None:
        """Count one judgement of `rule`; raise the first finding."""
        self.result.exercised[rule] += 1
        for finding in findings:
            raise finding.violation()

    def expect_unchanged(self, before: Any, after: Any, rule: str, what: str) -> None:
        self.expect_findings(unchanged(before, after, rule, what), rule)

    def _path(self, exchange: Exchange) -> str:
        return exchange.url[len(self.target.base_url):] or "/"

    def _client(self, key: str) -> ApiClient:
        client = self.a if key == "A" else self.b
        assert client is not None
        return client

    def _get_member(self, client: ApiClient, user_id: str, rule: str, why: str) -> dict[str, Any]:
        answer = client.get(user_id)
        self.expect_status(answer, 200, rule, why)
        return answer.body

    def _bad_authorizations(self) -> list[tuple[str, str | None]]:
        return bad_authorizations(self.target.key_a)

    def _expect_unauthenticated(self, answer: Exchange, what: str) -> None:
        self.result.exercised["R13"] += 1
        self.judge(unauthenticated(answer.answer, what), answer)

    # -- read checks --------------------------------------------------------------------------

    def authentication_is_required_to_read(self) -> None:
        """R13: reads without a valid key answer 401 unauthenticated, WWW-Authenticate: Bearer."""
        some_id = next(iter(self.snapshots["A"].ids), None) or unknown_like(None)
        for path in ("/users", ApiClient.user_path(some_id)):
            for what, authorization in self._bad_authorizations():
                answer = self.a.request("GET", path, authorization=authorization)
                self._expect_unauthenticated(answer, what)

    def errors_are_problem_details(self) -> None:
        """R12 on 404 and 400; R10 on cursors nobody issued."""
        missing = unknown_like(next(iter(self.snapshots["A"].ids), None))
        self.expect_status(self.a.get(missing), 404, "R1",
                           "an id nobody has is not found", code="user_not_found")
        for limit in (0, 101, "many"):
            answer = self.a.request("GET", "/users", params={"limit": limit})
            self.expect_status(answer, 400, "SPEC", f"limit={limit} is outside 1–100",
                               code="invalid_request")
            errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
            pointers = [e.get("pointer") for e in errors or [] if isinstance(e, dict)]
            self.flag("/limit" in pointers, "R12", "pointer",
                      f"GET /users?limit={limit}: errors point at {pointers}, not '/limit'",
                      [answer])
        for cursor, why in ((f"gate-{secrets.token_hex(12)}", "a cursor nobody issued"),
                            ("", "an empty cursor")):
            answer = self.a.request("GET", "/users", params={"cursor": cursor})
            self.expect_status(answer, 400, "R10", f"{why} answers 400 invalid_cursor",
                               code="invalid_cursor")

    def pagination_is_exact(self) -> None:
        """R10: walks with different page sizes agree; no duplicates; order by joined_at."""
        first = self.snapshots["A"].members
        total = len(first)
        small = max(1, -(-total // MAX_SMALL_PAGES))
        walks = [(f"limit {PAGE}", PAGE, first, self.snapshots["A"].pages)]
        if small < PAGE:
            members, pages = walk(self.a, small)
            walks.append((f"limit {small}", small, members, pages))
        default_page = self.a.list_page()
        self.expect(default_page.status == 200, "R10", f"GET /users answered {default_page.status}")
        data = default_page.body.get("data") if isinstance(default_page.body, dict) else None
        self.expect(isinstance(data, list) and len(data) <= 25, "R10",
                    f"GET /users without limit answered {len(data or [])} members; "
                    "the default limit is 25")
        last, last_pages = walk(self.a, PAGE)
        walks.append((f"limit {PAGE}, again", PAGE, last, last_pages))
        for name, limit, members, pages in walks:
            for page in pages:
                self.expect_findings(judge_page(page.answer, limit, first=False), "R10")
            self.expect_findings(judge_walk(members, f"the walk with {name}"), "R10")
        # Members listed by the first and the last walk stayed active throughout (as far as
        # can be told): every walk in between must hold them, in the same relative order.
        ids = [[m.get("user_id") for m in members] for _, _, members, _ in walks]
        for (name, _, _, _), seen in zip(walks[1:-1], ids[1:-1], strict=True):
            self.expect_findings(walks_agree(ids[0], seen, ids[-1], f"the walk with {name}"),
                                 "R10")
        self._foreign_cursor()

    def _foreign_cursor(self) -> None:
        """R10: a cursor issued to Avatar B answers 400 invalid_cursor to key A."""
        if self.b is None or self.foreign_cursor_checked:
            return
        page = self.b.list_page(1)
        cursor = page.body.get("next_cursor") if isinstance(page.body, dict) else None
        if not isinstance(cursor, str):
            return  # B has a single member: no cursor to borrow yet
        self.foreign_cursor_checked = True
        answer = self.a.list_page(1, cursor)
        self.expect_status(answer, 400, "R10", "a cursor Avatar B was given is not valid for "
                           "key A", code="invalid_cursor")

    def other_avatars_members_are_unknown(self) -> None:
        """R1/R14: another Avatar's member reads exactly like an id nobody has."""
        if self.b is None:
            reason = "no second key (--api-key-b / MAXGOOD_API_KEY_B): cross-Avatar checks skipped"
            self.result.skip("R14", reason, configured=True)
            self.result.skip("R1", reason, configured=True, replace=False)
            return
        ids_a, ids_b = set(self.snapshots["A"].ids), set(self.snapshots["B"].ids)
        self.expect(self.avatar["A"] != self.avatar["B"], "R1",
                    f"keys A and B list members of the same Avatar {self.avatar['A']!r}")
        for asker, only in (("A", sorted(ids_b - ids_a)[:3]), ("B", sorted(ids_a - ids_b)[:2])):
            for user_id in only:
                self._looks_unknown(self._client(asker), user_id,
                                    f"a member of the other Avatar only ({user_id})")
        for user_id in sorted(ids_a & ids_b)[:3]:
            self._shared_user_view(user_id)

    def _looks_unknown(self, client: ApiClient, user_id: str, what: str) -> None:
        answer = client.get(user_id)
        self.expect_status(answer, 404, "R1", f"{what} is not found for key {client.name}",
                           code="user_not_found")
        nobody = unknown_like(user_id)
        control = client.get(nobody)
        self.expect_status(control, 404, "R1", "an id nobody has is not found",
                           code="user_not_found")
        self.expect_findings(indistinguishable(answer.answer, user_id, control.answer, nobody,
                                               "R14", what), "R14")

    def _shared_user_view(self, user_id: str) -> None:
        """A user in both Avatars, read by key A: A's membership as A's list shows it."""
        listed = next(m for m in self.snapshots["A"].members if m.get("user_id") == user_id)
        other = next(m for m in self.snapshots["B"].members if m.get("user_id") == user_id)
        member = self._get_member(self.a, user_id, "R1", "a member of Avatar A is readable")
        theirs = other.get("membership") or {}
        mine_listed = listed.get("membership") or {}
        self.expect_findings(shows_only_its_own(
            member, self.avatar["A"], mine_listed,
            [(name, theirs.get(name)) for name in ("notes", "structured_data")],
            f"GET {user_id} with key A"), "R14")

    # -- write checks -------------------------------------------------------------------------

    def _invite(self, client: ApiClient, body: dict[str, Any]) -> Exchange:
        """Invite, and stop the write checks when the Avatar has no seat or invite left (R7)."""
        answer = client.invite(body)
        self._judge_invite_headers(answer)
        if answer.status in (403, 429):
            code = answer.body.get("code") if isinstance(answer.body, dict) else None
            if (answer.status == 403 and code == "seat_limit_reached") or (
                answer.status == 429 and code in ("invite_rate_limited",
                                                  "invite_safety_cap_reached")):
                self.expect_problem(answer)
                raise Stop(f"Avatar {client.name} refused an invite with {answer.status} {code}: "
                           "no seat or invite left for the write checks")
        return answer

    def _judge_invite_headers(self, answer: Exchange) -> None:
        """R7: RateLimit-* on 201 and 429 (and, when present, on other refusals)."""
        self.expect_findings(rate_limit_headers(answer.answer), "R7")

    def invite_creates_user_from_profile_sent(self) -> None:
        """R2: a new address becomes a user with exactly the profile and membership sent."""
        email = self.fresh_email()
        # A name beyond ASCII, as people have: a server must store it as sent.
        profile = {"name": "Åda Łovelace-Núñez", "role": "QA lead", "expertise": "API contracts",
                   "locale": "en-CA"}
        membership = {"is_coach": True, "notes": "maxgood-contract gate",
                      "structured_data": {"gate": True, "run": secrets.token_hex(4)},
                      "license_expires_at": "2031-05-01T10:00:00+02:00"}
        answer = self._invite(self.a, {"email": email, "profile": profile,
                                       "membership": membership})
        self.expect_status(answer, 201, "R2", "inviting an address nobody has adds a member")
        sent = {"email": email, "profile": profile, "membership": membership}
        member = answer.body.get("member") or {}
        if isinstance(member.get("user_id"), str):
            self.e1 = {"email": email, "profile": profile, "member": member}
        self.expect_findings(new_user_profile(answer.answer, sent), "R2")
        self.expect_findings(invite_result(answer.answer, sent, existing_user=False), "R2")
        self._expect_utc(member, "the invite's membership")
        self.expect_findings(shows_only_its_own(member, self.avatar["A"], {}, [],
                                                "the new member"), "R1")
        stored = self._get_member(self.a, member["user_id"], "R2", "the new member is readable")
        self.expect_unchanged(member, stored, "SPEC",
                              "GET answers the member otherwise than the invite did")

    def invites_keep_edge_values(self) -> None:
        """R2/SPEC: invites with each field's edge values are stored exactly, never a 5xx.

        The longest values the spec allows (beyond ASCII and beyond U+FFFF), nulls, the first and
        last instants, the largest and deepest structured_data. A server may validate more
        strictly than the spec (a 400 is noted, not failed); it may not fail (5xx) or change a
        value it accepted. Each member is removed again at once, so it holds no seat.
        """
        for what, profile, membership in edge_invites(field_limits()):
            email = self.fresh_email()
            answer = self._invite(self.a, {"email": email, "profile": profile,
                                           "membership": membership})
            if answer.status == 400:
                self.errors.append(f"POST /users with {what} of each field answered 400: a "
                                   "stricter validation than the spec's, which the contract "
                                   "allows; those values were not judged")
                continue
            self.expect_status(answer, 201, "SPEC", f"an invite with {what} the spec allows")
            sent = {"email": email, "profile": profile, "membership": membership}
            member = answer.body.get("member") or {}
            self.expect_findings(new_user_profile(answer.answer, sent), "R2")
            self.expect_findings(invite_result(answer.answer, sent, existing_user=False), "SPEC")
            stored = self._get_member(self.a, member["user_id"], "SPEC",
                                      f"the member invited with {what} is readable")
            self.expect_unchanged(member, stored, "SPEC", f"GET of the member invited with {what} "
                                  "answers otherwise than the invite did")
            removed = self.a.remove(member["user_id"])
            self.expect(removed.status == 204, "R6", f"DELETE of the member invited with {what} "
                        f"answered {removed.status}")

    def _expect_membership(self, member: dict[str, Any], expected: dict[str, Any], rule: str,
                           what: str) -> None:
        wrong = membership_differences(expected, member, sent=True)
        self.expect(not wrong, rule, f"{what}: membership (want, seen): {wrong}")
        self._expect_utc(member, what)

    def _expect_utc(self, member: dict[str, Any], what: str) -> None:
        membership = member.get("membership") or {}
        for name in ("joined_at", "updated_at", "license_expires_at"):
            self.expect_findings(date_time(membership.get(name), f"{what}: membership.{name}",
                                           nullable=name == "license_expires_at"), "SPEC")

    def _require_e1(self) -> dict[str, Any]:
        """The member the write checks work on, as the server has it now.

        A check that failed half-way may have left it removed; a fresh one is invited then, so
        one broken rule does not hide the others.
        """
        if self.e1 is not None:
            answer = self.a.get(self.e1["member"]["user_id"])
            if answer.status == 200 and isinstance(answer.body, dict):
                self.e1["member"] = answer.body
                return self.e1
        email = self.fresh_email()
        profile = {"name": "Gate Check Ada", "role": "QA lead"}
        invited = self._invite(self.a, {"email": email, "profile": profile})
        member = invited.body.get("member") if isinstance(invited.body, dict) else None
        if invited.status != 201 or not isinstance(member, dict):
            raise Stop(f"no member to work on: an invite answered {invited.status}")
        self.e1 = {"email": email, "profile": profile, "member": member}
        return self._require_e1()

    def invite_of_a_member_conflicts(self) -> None:
        """R8/R3: inviting an active member, under any case, answers 409 and changes nothing."""
        e1 = self._require_e1()
        user_id = e1["member"]["user_id"]
        again = self._invite(self.a, {"email": e1["email"]})
        self.expect_status(again, 409, "R8", "the address is already an active member here",
                           code="already_member")
        variant = f"  {e1['email'].upper()} "
        self.result.exercised["R3"] += 1
        other = self._invite(self.a, {"email": variant, "profile": {"name": "Another Name"}})
        rule = "R3" if other.status == 201 and (other.body or {}).get("existing_user") is False \
            else "R8"
        self.expect_status(other, 409, rule, f"{variant!r} is the same address, trimmed and "
                           "ignoring case, of an active member", code="already_member")
        after = self._get_member(self.a, user_id, "R11", "the member is still there")
        self.expect_unchanged(e1["member"], after, "R11",
                              "a refused invite (409) changed the member")

    def put_refuses_profile_and_read_only_fields(self) -> None:
        """R4: profile and read-only fields answer 422 read_only_field, unknown ones 400."""
        e1 = self._require_e1()
        user_id = e1["member"]["user_id"]
        for body in ({"name": "Changed Name"},
                     {"is_admin": True, "email": "changed@example.com"},
                     {"is_coach": False, "user_id": "usr_other"},
                     {"notes": "x", "profile": {"role": "Changed"}}):
            answer = self.a.update(user_id, body)
            self.result.exercised["R4"] += 1
            self.judge(read_only_refusal(answer.answer, body), answer)
            after = self._get_member(self.a, user_id, "R11", "the member is still there")
            self.expect_unchanged(e1["member"], after, "R11",
                                  f"PUT {body} was refused with 422 but changed the member")
        for body, why in (({"favourite_colour": "blue"}, "an unknown field answers 400"),
                          ({}, "an empty PUT answers 400")):
            answer = self.a.update(user_id, body)
            self.expect_status(answer, 400, "R4", why, code="invalid_request")
        after = self._get_member(self.a, user_id, "R11", "the member is still there")
        self.expect_unchanged(e1["member"], after, "R11", "a PUT refused with 400 changed the "
                              "member")

    def put_is_partial(self) -> None:
        """R5: only the fields sent change; structured_data is replaced; null clears."""
        e1 = self._require_e1()
        user_id = e1["member"]["user_id"]
        current = e1["member"]
        for body in ({"notes": "second notes"},
                     {"structured_data": {"replaced": [1, 2]}},
                     {"notes": None, "license_expires_at": None},
                     {"is_coach": False}):
            answer = self.a.update(user_id, body)
            self.expect_status(answer, 200, "R5", f"PUT {body} of a member this run invited")
            self.expect_findings(update_applied(current, body, answer.answer), "R5")
            self._expect_utc(answer.body, f"after PUT {body}")
            current = answer.body
        stored = self._get_member(self.a, user_id, "R5", "the member is readable")
        self.expect_unchanged(current, stored, "R5", "GET after the PUTs differs from the last "
                              "PUT's answer")
        e1["member"] = stored

    def delete_is_soft_and_reinvite_keeps_identity(self) -> None:
        """R6/R2: removing then inviting again makes a fresh membership, same identity."""
        e1 = self._require_e1()
        user_id = e1["member"]["user_id"]
        # Every field away from its default first: a re-invite that brings any of them back
        # shows, since the re-invite below sends none of them.
        primed = self.a.update(user_id, NON_DEFAULT_MEMBERSHIP)
        self.expect_status(primed, 200, "R5", "PUT of every membership field of a member this "
                           "run invited")
        self._expect_membership(primed.body, NON_DEFAULT_MEMBERSHIP, "R5",
                                "after a PUT of every membership field")
        removed = self.a.remove(user_id)
        self.expect(removed.status == 204 and not removed.text.strip(), "R6",
                    f"DELETE of a member answered {removed.status} {removed.text[:200]!r}; want "
                    "204 without a body")
        self.expect_status(self.a.get(user_id), 404, "R6", "a removed member is not found",
                           code="user_not_found")
        listed, _ = walk(self.a, PAGE)
        self.expect(user_id not in [m.get("user_id") for m in listed], "R1",
                    f"the list still holds {user_id} after its DELETE answered 204")
        self.expect_status(self.a.remove(user_id), 404, "R6", "a second DELETE",
                           code="user_not_found")
        self.expect_status(self.a.update(user_id, {"notes": "after removal"}), 404, "R1",
                           "a removed member is not found", code="user_not_found")
        profile = {"name": "Someone Else", "role": "Impostor", "locale": "de-DE"}
        answer = self._invite(self.a, {"email": e1["email"], "profile": profile})
        self.expect_status(answer, 201, "R6", "inviting a removed member's address again")
        body = answer.body
        self.expect(body.get("existing_user") is True, "R2",
                    f"re-inviting a removed member answered existing_user "
                    f"{body.get('existing_user')!r}; want true")
        ignored = body.get("ignored_profile_fields")
        self.expect(isinstance(ignored, list) and set(ignored) == set(profile), "R2",
                    f"ignored_profile_fields is {ignored!r}; want every profile key sent: "
                    f"{sorted(profile)}")
        member = body.get("member") or {}
        self.expect_findings(one_user_per_email(member, user_id, e1["email"],
                                                "re-inviting a removed member"), "R3")
        self.expect_unchanged(e1["member"]["profile"], member.get("profile"), "R2",
                              "inviting an existing user changed their profile")
        self._expect_membership(member, MEMBERSHIP_DEFAULTS, "R6",
                                "a re-invite without membership fields makes a fresh membership "
                                "of defaults, nothing of the removed one")
        self.expect_findings(not_before(e1["member"]["membership"].get("joined_at"),
                                        (member.get("membership") or {}).get("joined_at"), "R6",
                                        "the fresh membership's joined_at"), "R6")
        stored = self._get_member(self.a, user_id, "R6", "the re-invited member is readable")
        self.expect_unchanged(e1["member"]["profile"], stored.get("profile"), "R2",
                              "a GET after the re-invite shows another profile")
        e1["member"] = stored

    def writes_without_a_valid_key_change_nothing(self) -> None:
        """R13: writes without a valid key answer 401 and change nothing."""
        e1 = self._require_e1()
        user_id = e1["member"]["user_id"]
        for what, authorization in self._bad_authorizations():
            email = self.fresh_email()
            self.unauthenticated_emails.add(email.strip().lower())
            sent = [
                self.a.request("PUT", ApiClient.user_path(user_id), json={"notes": "no key"},
                               authorization=authorization),
                self.a.request("DELETE", ApiClient.user_path(user_id),
                               authorization=authorization),
                self.a.request("POST", "/users", json={"email": email},
                               authorization=authorization),
            ]
            for answer in sent:
                self._expect_unauthenticated(answer, what)
        after = self._get_member(self.a, user_id, "R13",
                                 "writes without a valid key leave the member in place")
        self.expect_unchanged(e1["member"], after, "R13",
                              "writes without a valid key changed the member")

    def avatars_stay_apart_on_a_shared_user(self) -> None:
        """R1/R2/R6/R14 on a person in both Avatars, all of whose memberships this run made."""
        if self.b is None:
            return
        email = self.fresh_email()
        canary = f"gate-canary-{secrets.token_hex(8)}"
        self.canaries.append(canary)
        profile = {"name": "Gate Check Bo", "role": "Coachee", "locale": "en-GB"}
        # Every field of B's membership away from its default: a write through A that puts any
        # of them back to its default shows in B (R6), and none may show in A (R14).
        planted = self._invite(self.b, {"email": email, "profile": profile, "membership": {
            "is_admin": True, "is_coach": True, "license_expires_at": "2033-03-03T03:03:03Z",
            "notes": canary, "structured_data": {"canary": canary}}})
        self.expect_status(planted, 201, "R2", "inviting an address nobody has into Avatar B")
        in_b = planted.body["member"]
        user_id = in_b["user_id"]
        self._looks_unknown(self.a, user_id, "a member of Avatar B only")
        self.expect_status(self.a.update(user_id, {"notes": "from A"}), 404, "R1",
                           "key A cannot update a member of Avatar B only",
                           code="user_not_found")
        self.expect_status(self.a.remove(user_id), 404, "R1",
                           "key A cannot remove a member of Avatar B only",
                           code="user_not_found")
        self.expect_findings(membership_elsewhere_kept(
            in_b, self.b.get(user_id).answer, "PUT", "Avatar B's member, after key A's refused "
            "PUT and DELETE"), "R1")
        answer = self._invite(self.a, {"email": email.upper(), "profile": {
            "name": "Overwritten Name", "expertise": "Other"}, "membership": {"notes": "a-side"}})
        self.expect_status(answer, 201, "R2", "inviting a member of Avatar B into Avatar A")
        body = answer.body
        in_a = body.get("member") or {}
        self.expect_findings(one_user_per_email(in_a, user_id, email.upper(),
                                                "inviting a member of Avatar B into A"), "R3")
        self.expect(body.get("existing_user") is True, "R2",
                    f"the address of an existing user answered existing_user "
                    f"{body.get('existing_user')!r}; want true")
        self.expect(set(body.get("ignored_profile_fields") or []) == {"name", "expertise"},
                    "R2", f"ignored_profile_fields is {body.get('ignored_profile_fields')!r}; "
                    "want ['expertise', 'name']")
        self.expect_unchanged(in_b["profile"], in_a.get("profile"), "R2",
                              "inviting an existing user changed their profile")
        self._expect_membership(in_a, {**MEMBERSHIP_DEFAULTS, "avatar_id": self.avatar["A"],
                                       "notes": "a-side"}, "R14",
                                "A's membership of a person B also has holds what A's invite "
                                "sent and defaults, nothing of B's")
        read = self.a.get(user_id)
        self.expect_status(read, 200, "R1", "the shared member is readable by A")
        self.expect(canary not in read.text, "R14",
                    "GET with key A shows Avatar B's notes or structured_data")
        self._foreign_cursor()
        removed = self.a.remove(user_id)
        self.expect(removed.status == 204, "R6", f"DELETE answered {removed.status}")
        self.expect_findings(membership_elsewhere_kept(
            in_b, self.b.get(user_id).answer, "DELETE", "the person's membership in Avatar B"),
            "R6")

    # -- R9, by choice -------------------------------------------------------------------------

    def owner_is_protected(self) -> None:
        """R9 (only with --probe-owner): no Avatar's owner can be demoted or removed.

        Each Avatar's owner, as listed at the start, is sent PUT {"is_admin": false}, then
        DELETE; a correct server answers both 409 owner_protected and changes nothing (R11). A
        write the server accepts is undone at once, before R9 is failed: is_admin set true
        again, or the owner invited back with the membership fields they had. What the API
        cannot give back (an owner's is_owner and joined_at after a removal) is in `damage`.
        A server that demoted its owner is not also asked to remove them.
        """
        for key, snap in self.snapshots.items():
            owner = next((m for m in snap.members
                          if (m.get("membership") or {}).get("is_owner") is True), None)
            if owner is None:
                self.errors.append(f"Avatar {key} lists no owner: R9 was not probed there")
                continue
            marks = self._marks()
            try:
                self._probe_owner(key, snap, owner)
            except RuleViolation as violation:  # recorded here: the next Avatar is probed too
                self.result.findings.append(Finding(violation.rule, SUITE, str(violation),
                                                    reproduction(self._since(marks))))

    def _probe_owner(self, key: str, snap: Snapshot, owner: dict[str, Any]) -> None:
        client = self._client(key)
        user_id = owner["user_id"]
        email = str((owner.get("profile") or {}).get("email") or "")
        who = f"Avatar {key}'s owner {user_id}"
        with self.guard.probing_owner(key, user_id, email):
            for write in ("demote", "remove"):
                answer = None
                try:
                    if write == "demote":
                        answer = client.update(user_id, {"is_admin": False})
                    else:
                        answer = client.remove(user_id)
                finally:
                    if answer is None:  # no answer (an error, a signal): it may have taken
                        self._put_owner_back_if_gone(client, key, snap, owner, write)
                if 200 <= answer.status < 300:
                    undone = self._put_owner_back(client, key, snap, owner, write)
                    self.expect(False, "R9", f"{answer.method} {self._path(answer)} of {who} "
                                f"answered {answer.status}: the owner was {write}d ({undone}); "
                                "want 409 owner_protected")
                self.expect_status(answer, 409, "R9", f"{who} may not be {write}d",
                                   code="owner_protected")
                after = self._get_member(client, user_id, "R9", f"{who} is still a member")
                self.expect_unchanged(owner, after, "R11", f"a refused attempt to {write} {who} "
                                      "changed them")

    def _put_owner_back_if_gone(self, client: ApiClient, key: str, snap: Snapshot,
                                owner: dict[str, Any], write: str) -> None:
        """After a protected write that got no answer: undo it if the owner shows it took."""
        try:
            now = client.get(owner["user_id"])
        except (requests.RequestException, GuardRefusal):
            now = None
        took = now is None or (now.status == 404 if write == "remove" else (
            now.status == 200 and isinstance(now.body, dict)
            and (now.body.get("membership") or {}).get("is_admin") is False))
        if took:
            self._put_owner_back(client, key, snap, owner, write)

    def _put_owner_back(self, client: ApiClient, key: str, snap: Snapshot,
                        owner: dict[str, Any], write: str) -> str:
        """Undo an accepted demotion or removal of `owner`; say how far that went."""
        user_id = owner["user_id"]
        email = str((owner.get("profile") or {}).get("email") or "")
        had = owner.get("membership") or {}
        try:
            if write == "demote":
                back = client.update(user_id, {"is_admin": had.get("is_admin", True)})
            else:
                back = client.invite({"email": email, "membership": {
                    name: had[name] for name in MEMBERSHIP_DEFAULTS if name in had}})
            now = client.get(user_id)
        except (requests.RequestException, GuardRefusal) as error:
            self.damage.append(f"Avatar {key}: the owner {user_id} ({email}) may have been "
                               f"{write}d by the R9 probe and could not be put back "
                               f"({type(error).__name__}: {error}); check them and restore them "
                               "by hand")
            return "and could not be put back"
        if not (200 <= back.status < 300 and now.status == 200 and isinstance(now.body, dict)):
            self.damage.append(f"Avatar {key}: the owner {user_id} ({email}) was {write}d by the "
                               f"R9 probe and could not be put back ({back.method} answered "
                               f"{back.status}); restore them by hand")
            return "and could not be put back"
        # The final check of the members present before the run compares with what could be
        # put back, so that it reports the same harm only once (here).
        index = next(i for i, m in enumerate(snap.members) if m.get("user_id") == user_id)
        snap.members[index] = now.body
        lost = [d for d in differences(owner, now.body)
                if not d.startswith("/membership/updated_at")]
        if lost:
            self.damage.append(f"Avatar {key}: the owner {user_id} ({email}) was {write}d by the "
                               f"R9 probe and put back at once, but the API cannot give back "
                               f"all of it: {'; '.join(lost)}; restore it by hand")
            return f"put back at once, except {'; '.join(lost)}"
        return "put back at once"

    # -- checks over everything the gate saw ---------------------------------------------------

    def answers_to_one_avatar_hold_nothing_of_another(self) -> None:
        """R14/R1: no answer to key A names Avatar B or shows B's canaries, and vice versa."""
        if self.b is None:
            return
        for mine, theirs, client in (("A", "B", self.a), ("B", "A", self.b)):
            foreign = self.avatar.get(theirs)
            for answer in client.exchanges:
                values = set(avatar_ids_in(answer.body))
                self.expect(foreign is None or foreign not in values, "R14",
                            f"{answer.method} {self._path(answer)} with key {mine} shows Avatar "
                            f"{theirs}'s avatar_id {foreign!r}")
                if mine == "A":
                    self.expect_findings(no_trace(answer.answer, [
                        (c, "data planted in Avatar B's membership") for c in self.canaries]),
                        "R14")

    def invite_limits_are_announced(self) -> None:
        """R7: every 429 anyone in this run got carries Retry-After and a limit's code."""
        for seen in list(self.guard.rate_limited):
            answer = Answer.of(429, seen.headers, seen.text, method=seen.method,
                               path=seen.url[len(self.target.base_url):])
            self.expect_findings(retry_after(answer), "R7")

    def answers_conform_to_the_spec(self) -> None:
        """SPEC: every answer the gate got matches the spec; every answer has X-Request-Id."""
        for answer in self.exchanges:
            where = f"{answer.method} {self._path(answer)} answered {answer.status}"
            for finding in request_id(answer.answer):
                self.flag(False, "R12", finding.kind, finding.message, [answer])
            problem = spec_problem(answer, self.target.base_url)
            rule = "R12" if 400 <= answer.status < 500 else "SPEC"
            self.flag(problem is None, rule, f"spec {answer.method} {answer.status}",
                      f"{where}, which the spec does not allow: {problem}", [answer])


def owner_protection(target: Target, guard: Guard) -> tuple[SuiteResult, list[str]]:
    """R9 alone, by choice (`make fuzz` with FUZZ_PROBE_OWNER=1): the check `--probe-owner`
    adds to the gate, on each Avatar's owner as listed now. The result, and what could not be
    put back (see GateChecks.owner_is_protected)."""
    keys = {"A": target.key_a} | ({"B": target.key_b} if target.key_b else {})
    snapshots = {}
    for key, api_key in keys.items():
        members, pages = walk(ApiClient(target.base_url, api_key, name=key))
        snapshots[key] = Snapshot(key, members, pages)

    def no_invites() -> str:
        raise AssertionError("the owner probe invites nobody but the owner")

    checks = GateChecks(target, guard, snapshots, no_invites, probe_owner=True)
    checks._run(checks.owner_is_protected)
    checks.result.requests = checks.a.requests + (checks.b.requests if checks.b else 0)
    return checks.result, checks.damage + checks.errors


def avatar_ids_in(value: Any) -> Iterator[Any]:
    """Every `avatar_id` member anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "avatar_id":
                yield item
            yield from avatar_ids_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from avatar_ids_in(item)
