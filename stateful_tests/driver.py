"""What the state machine's rules do with the API: send, ask the judge, keep the model.

`Example` holds one example's state (the model, the last step, the invite count) and the moves
every rule is made of: one request and the judgements its answer must pass, a walk of the list
compared with the model, an invite and what it must answer. The judgements themselves live in
the `judge` package; this module only decides what to send, which judgement to ask, and which
rule a finding breaks given the step that came before. Every failure raises a RuleViolation
(one subclass per rule, so Hypothesis shrinks each broken rule on its own).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TypeVar

from harness.client import ApiError, Exchange, reproduction
from judge import RULES, Finding, RuleViolation
from judge.auth import bad_authorizations, unauthenticated
from judge.instants import instant
from judge.limits import RateLimits, invite_used_one, rate_limit_headers
from judge.members import invite_result, member_shape, one_user_per_email
from judge.pages import page, walk
from judge.problems import every_answer, refusal
from judge.unknown import indistinguishable, no_trace, not_found

from . import strategies as s
from .context import RateWindow, RunContext
from .model import Model, Person, Seat, email_key

FRAME_PAGE_LIMIT = 100

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def violation_class(rule_id: str) -> type[RuleViolation]:
    """One subclass per rule, so Hypothesis shrinks and reports each broken rule separately."""
    return type(f"{rule_id}Violation", (RuleViolation,), {"__module__": __name__})


@dataclass(frozen=True)
class Step:
    """What the last step did, to blame the right rule for a change seen afterwards."""

    op: str  # start, read, invite, update, remove, probe, teardown
    avatar: str | None = None
    user_id: str | None = None
    ok: bool = True  # False when the server refused a write (R11: it must change nothing)


def step(function: F) -> F:
    """Mark where a step's exchanges begin, and remember when a step fails (see teardown)."""

    @functools.wraps(function)
    def run(self: Example, **kwargs: Any) -> Any:
        self.marks = {name: len(c.exchanges) for name, c in self.ctx.clients.items()}
        try:
            return function(self, **kwargs)
        except BaseException:
            self.failed = True
            raise

    return run  # type: ignore[return-value]


def said(answer: Exchange) -> str:
    text = answer.text if len(answer.text) <= 400 else answer.text[:400] + "..."
    return f"{answer.method} {answer.url} answered {answer.status} {text}".rstrip()


def bad_credential(key: str, index: int) -> str | None:
    """The judge's bad authorizations for `key`, the same on every call (a replay sends the
    same), chosen by index."""
    bad = bad_authorizations(key, token=lambda n: "0" * 2 * n)
    return bad[index % len(bad)][1]


class Example:
    """One example against the server: the model, and the moves the machine's rules make."""

    ctx: ClassVar[RunContext]  # set on a subclass by the runner

    def __init__(self) -> None:
        super().__init__()
        self.ctx.start_example()
        self.model = Model.from_listings(self.ctx.baseline)
        self.marks: dict[str, int] = {}
        self.last = Step("start")
        self.invites_sent = 0
        self.burst_done = False
        self.failed = False
        self.created_emails: set[str] = set()
        self.first_joined: dict[tuple[str, str], Any] = {}  # (avatar, user) -> joined_at, R6
        self.frames = 0  # frame checks so far, to read a different member each time

    # -- judging ---------------------------------------------------------------------------------

    def expect(self, condition: object, rule_id: str, message: str) -> None:
        """Count the check of `rule_id`; raise its violation unless `condition` holds."""
        self.ctx.exercised[rule_id] += 1
        if not condition:
            self.fail(rule_id, message)

    def judge(self, findings: list[Finding], *rules: str) -> None:
        """Count a judgement of each of `rules`; raise the first finding."""
        for rule_id in rules:
            self.ctx.exercised[rule_id] += 1
        for finding in findings:
            self.fail(finding.rule, finding.message)

    def fail(self, rule_id: str, message: str) -> NoReturn:
        assert rule_id in RULES
        self.failed = True
        violation = violation_class(rule_id)(rule_id, message)
        violation.reproduction = self.reproduction()  # type: ignore[attr-defined]
        self.ctx.first_violations.setdefault(rule_id, violation)
        raise violation

    def reproduction(self) -> str:
        """Every write of the example, and every exchange of the step that failed."""
        chosen = []
        for name, client in self.ctx.clients.items():
            mark = self.marks.get(name, 0)
            for index, exchange in enumerate(client.exchanges):
                if index >= mark or exchange.method != "GET":
                    chosen.append(exchange)
        return reproduction(chosen)

    def send(self, avatar: str, operation: str, *args: Any, **kwargs: Any) -> Exchange:
        """One call of ApiClient, and the checks every answer must pass (SPEC, R12)."""
        answer: Exchange = getattr(self.ctx.clients[avatar], operation)(*args, **kwargs)
        self.judge(every_answer(answer.answer), "SPEC", "R12")
        return answer

    def refused(self, answer: Exchange, status: int, code: str, rule_id: str, context: str
                ) -> None:
        """The refusal `rule_id` requires: its status and code, as a problem detail."""
        self.judge(refusal(answer.answer, status, code, rule_id, context), rule_id)

    def member_matches_model(self, avatar: str, member: Any, profile_rule: str,
                             membership_rule: str, context: str) -> None:
        """The member as shown to `avatar` equals the model: profile, this Avatar's seat only."""
        self.judge(self.model.member_findings(avatar, member, profile_rule, membership_rule,
                                              context), "SPEC", "R14", profile_rule,
                   membership_rule)

    def answers_like_an_unknown_id(
        self, avatar: str, answer: Exchange, user_id: str, rule_id: str
    ) -> None:
        """R1/R14: 404 user_not_found, the same answer as for an id that never existed."""
        context = f"key {avatar}, user {user_id} (not an active member here)"
        elsewhere = any(self.model.is_active(a, user_id) for a in self.model.avatars if a != avatar)
        # answering for another Avatar's member: scope
        self.judge(not_found(answer.answer, "R1" if elsewhere else rule_id, context), rule_id)
        # Short values could appear by chance (in an id, a word of the detail).
        self.judge(no_trace(answer.answer, self.model.foreign_traces(avatar, user_id),
                            shortest=8), "R14")
        if answer.method != "GET":
            return
        ghost = self.ghost_id(user_id)
        twin = self.send(avatar, "get", ghost)
        rule = "R14" if elsewhere else "R1"
        self.judge(indistinguishable(answer.answer, user_id, twin.answer, ghost, rule, context),
                   rule)

    def ghost_id(self, user_id: str) -> str:
        """An id shaped like `user_id` that no user has; ids are opaque, so only its end moves."""
        for last in "0123456789ZYXabc":
            candidate = user_id[:-1] + last
            if candidate != user_id and candidate not in self.model.people:
                return candidate
        return user_id + "0"

    def unauthenticated(self, answer: Exchange, credential: str | None) -> None:
        """R13: 401 unauthenticated with WWW-Authenticate: Bearer."""
        what = f"Authorization {credential!r}"
        self.judge(every_answer(answer.answer), "SPEC", "R12")
        self.judge(unauthenticated(answer.answer, what), "R13")

    def bad_credential(self, avatar: str, index: int) -> str | None:
        return bad_credential(self.ctx.target.key_a if avatar == "A"
                              else self.ctx.target.key_b or "", index)

    # -- the frame: everything visible -----------------------------------------------------------

    def walk(self, avatar: str, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
        """Every page of the list (R10); the members in order and the cursors followed."""
        members: list[dict[str, Any]] = []
        cursors: list[str] = []
        cursor, pages = None, 0
        while True:
            answer = self.send(avatar, "list_page", limit, cursor)
            pages += 1
            self.judge(page(answer.answer, limit, first=cursor is None), "R10")
            body = answer.body
            members.extend(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                return members, cursors
            cursors.append(cursor)
            self.expect(
                pages <= len(members) + len(self.model.seats[avatar]) + 3,
                "R10",
                f"key {avatar}: the cursor chain goes on past every member ({pages} pages)",
            )

    def listing_matches_model(
        self, avatar: str, members: list[dict[str, Any]], pages: int, rule_id: str, context: str
    ) -> None:
        """The whole list of `avatar` (a walk of `pages` pages) equals the model: members, order
        (R10) and every field; a member missing from a walk of several pages is R10's."""
        ids = [m.get("user_id") if isinstance(m, dict) else None for m in members]
        self.expect(None not in ids, "SPEC", f"{context}: a listed member without a user_id")
        self.judge(walk(members, f"{context}: key {avatar}"), "R10")
        expected = set(self.model.seats[avatar])
        for user_id in sorted(set(ids) - expected):
            gone = user_id in self.model.removed[avatar]
            self.fail(
                "R1" if gone else self.blame("extra", avatar, "R1"),
                f"{context}: key {avatar} lists {user_id}, "
                + ("who was removed from it" if gone else "who is not an active member of it"),
            )
        for user_id in sorted(expected - set(ids)):
            self.fail(
                "R10" if pages > 1 else self.blame("missing", avatar, rule_id),
                f"{context}: key {avatar} does not list its active member {user_id} "
                f"(walk of {pages} page(s))",
            )
        for member in members:  # its shape first (SPEC), then against the model
            self.member_matches_model(
                avatar,
                member,
                self.blame("profile", avatar, rule_id),
                self.blame("membership", avatar, rule_id),
                context,
            )

    def blame(self, kind: str, avatar: str, default: str) -> str:
        """The rule a change seen after the last step breaks, by what that step was."""
        last = self.last
        if last.op == "probe":
            return "R13"  # a request without a valid key must change nothing
        if not last.ok:
            return "R4" if (last.op, kind) == ("update", "profile") else "R11"
        if last.op in ("remove", "teardown"):
            return "R6"
        if last.op == "invite":
            return "R2" if kind == "profile" else "R1"
        if last.op == "update":
            if kind == "profile":
                return "R4"
            return "R5" if last.avatar == avatar else "R1"
        return default

    def one_member_reads_as_listed(self) -> None:
        """GET shows what the list shows (R1, R14): one member per check, each in turn."""
        self.frames += 1
        avatar = self.model.avatars[self.frames % len(self.model.avatars)]
        order = self.model.order(avatar)
        if not order:
            return
        user_id = order[(self.frames // len(self.model.avatars)) % len(order)]
        answer = self.send(avatar, "get", user_id)
        context = f"after {self.last.op}: key {avatar} reads its member {user_id}"
        self.expect(answer.status == 200, "R1", f"{context}: {said(answer)}")
        self.member_matches_model(avatar, answer.body, "R1", "R1", context)

    # -- invite (R2, R3, R6, R7, R8) --------------------------------------------------------------

    def may_invite(self) -> bool:
        cap = self.ctx.invites_per_example
        return cap is None or self.invites_sent < cap

    def invite(
        self,
        avatar: str,
        email: str,
        form: str,
        profile: dict[str, Any] | None,
        membership: dict[str, Any] | None,
    ) -> str | None:
        """POST /users and check the answer; the new member's id, or None if refused."""
        body: dict[str, Any] = {"email": s.spelled(email, form)}
        if profile is not None:
            body["profile"] = profile
        if membership is not None:
            body["membership"] = membership
        known = self.model.user_by_email(email)
        here = known is not None and self.model.is_active(avatar, known)
        seats_taken = len(self.model.seats[avatar])
        self.created_emails.add(email_key(email))
        self.invites_sent += 1
        answer = self.send(avatar, "invite", body)
        self.last = Step("invite", avatar, known, answer.ok)
        context = f"key {avatar} invites {body['email']!r}"
        self.rate_headers_hold(avatar, answer)
        if answer.status == 429:
            return None  # the limit working: its headers and code are judged above (R7)
        if answer.status == 201:
            self.ctx.invites_used += 1
        if here:
            self.expect(
                answer.status != 201 or _member_id(answer) == known,
                "R3",
                f"{context}: a second user for an email that belongs to {known}: {said(answer)}",
            )
            self.refused(answer, 409, "already_member", "R8", f"{context}: an active member")
            return None
        if answer.status == 409:
            again = known is not None and known in self.model.removed[avatar]
            self.fail(
                "R6" if again else "R8", f"{context}: not an active member here, yet {said(answer)}"
            )
        limit = self.ctx.seat_limit(avatar)
        if answer.status == 403:
            self.refused(answer, 403, "seat_limit_reached", "R7", context)
            if limit is None:
                self.ctx.learned_seat_limits[avatar] = seats_taken
            self.expect(
                limit is None or seats_taken >= limit,
                "R7",
                f"{context}: 403 with {seats_taken} active members, below the seat limit {limit}",
            )
            return None
        self.expect(answer.status == 201, "SPEC", f"{context}: a valid invite, {said(answer)}")
        self.expect(
            limit is None or seats_taken < limit,
            "R7",
            f"{context}: 201 with {seats_taken} active members already, at the seat limit {limit}",
        )
        return self.invited_as_expected(avatar, answer, body, known, context)

    def invited_as_expected(
        self,
        avatar: str,
        answer: Exchange,
        sent: dict[str, Any],
        known: str | None,
        context: str,
    ) -> str | None:
        body = answer.body if isinstance(answer.body, dict) else {}
        self.expect(
            isinstance(body.get("existing_user"), bool)
            and isinstance(body.get("ignored_profile_fields"), list)
            and "member" in body,
            "SPEC",
            f"{context}: not an InviteResult: {said(answer)}",
        )
        member = body["member"]
        self.judge(member_shape(member, context), "SPEC")
        user_id = member["user_id"]
        if known is not None:
            self.judge(one_user_per_email(member, known, sent["email"], context), "R3")
        else:
            self.expect(
                user_id not in self.model.people,
                "R3",
                f"{context}: a new email, yet the existing user {user_id}",
            )
        existing = known is not None
        again = known is not None and known in self.model.removed[avatar]
        self.judge(invite_result(answer.answer, sent, existing_user=existing,
                                 membership_rule="R6" if again else "SPEC"), "R2")
        if existing:
            person = self.model.people[user_id]
        else:
            profile = sent.get("profile") or {}
            person = Person(user_id=user_id, email=sent["email"].strip(),
                            name=profile.get("name"), role=profile.get("role"),
                            expertise=profile.get("expertise"), locale=profile.get("locale"),
                            created_at=None)  # set by the server
        changed = person.differences(member)
        self.expect(not changed, "R2", f"{context}: the profile (expected, seen): {changed}")
        self.judge(self.model.privacy(avatar, member, context), "R14")
        changed = Seat.invited(sent.get("membership")).differences(member)
        self.expect(
            not changed,
            "R6" if again else "SPEC",
            f"{context}: the new membership (expected, seen): {changed}",
        )
        if again:
            joined = instant(member["membership"]["joined_at"])
            first = self.first_joined.get((avatar, user_id))
            self.expect(
                first is None or (joined is not None and joined >= first),
                "R6",
                f"{context}: joined_at {joined} "
                f"of the fresh membership is before the first one's {first}",
            )
        self.model.join(avatar, member, sent["email"])
        if existing:
            return None
        return user_id

    def rate_headers_hold(self, avatar: str, answer: Exchange) -> None:
        """R7: RateLimit-* on every invite answer after authentication; a 201 uses one up;
        a 429 says which limit and when to come back."""
        if answer.status == 401:
            return
        self.judge(rate_limit_headers(answer.answer), "R7")
        before = self.ctx.rate.get(avatar)
        current = before if before is not None and before.still_current() else None
        limits = RateLimits.of(answer.answer)
        self.judge(invite_used_one(None if current is None else current.limits, answer.answer),
                   "R7")
        if limits is not None:
            self.ctx.rate[avatar] = RateWindow(limits, time.monotonic())

    def home_of(self, user: str) -> str:
        """The first Avatar where `user` is an active member (else the first Avatar)."""
        return next((a for a in self.model.avatars if self.model.is_active(a, user)), "A")

    # -- teardown --------------------------------------------------------------------------------

    def remove_what_this_example_created(self) -> None:
        for avatar in self.model.avatars:
            client = self.ctx.clients[avatar]
            starting = self.model.starting[avatar]
            ours = {u for u in self.model.seats[avatar] if not self.model.is_starting_member(u)}
            listed: list[dict[str, Any]] = []
            if self.failed:  # the model may have missed a member the server made: look
                try:
                    listed = client.list_all(FRAME_PAGE_LIMIT)
                except (ApiError, ValueError):
                    listed = []
            for member in listed:
                user_id = member.get("user_id")
                email = (member.get("profile") or {}).get("email")
                if (
                    user_id not in starting
                    and isinstance(email, str)
                    and email_key(email) in self.created_emails
                ):
                    ours.add(user_id)
            for user_id in sorted(ours):
                answer = client.remove(user_id)
                if answer.status == 204 and user_id in self.model.seats[avatar]:
                    self.model.leave(avatar, user_id)


def _member_id(answer: Exchange) -> Any:
    body = answer.body if isinstance(answer.body, dict) else {}
    member = body.get("member")
    return member.get("user_id") if isinstance(member, dict) else None
