"""The state machine: two Avatars' members driven through the API and compared with a model.

Each rule sends one operation (or a few), checks the answer against the model, and changes the
model only as the contract says the server changed. After every step the invariant lists both
Avatars page by page and compares everything visible with the model, so a change the step
should not have made (to another member, another Avatar, a profile) is caught, and blamed on
the rule the step broke. Every failure raises harness.rules.RuleViolation.

It writes only to members it invited in the example (and, where the starting state can be
put back, probes the owners, which a correct server refuses); its teardown removes what the
example created, so each example starts from the state recorded before the run.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NoReturn, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from harness.client import ApiError, Exchange, reproduction
from harness.rules import RULES, RuleViolation

from . import strategies as s
from .context import RateWindow, RunContext
from .model import PROTECTED_FIELDS, Model, Person, Seat, email_key, instant, shape_problems

FRAME_PAGE_LIMIT = 100
BURST_MAX = 150  # above the mock's default hourly limit (60) and essential seat limit (25)
PROBLEM_KEYS = ("type", "title", "status", "detail", "code", "request_id")
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

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
    def run(self: TwoAvatars, **kwargs: Any) -> Any:
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


def header_int(answer: Exchange, name: str) -> int | None:
    value = answer.headers.get(name)
    return int(value) if value is not None and value.strip().isdigit() else None


class TwoAvatars(RuleBasedStateMachine):
    """Members of Avatar A (and B, with a second key) against a model of both."""

    ctx: ClassVar[RunContext]  # set on a subclass by the runner

    invited = Bundle("invited")  # ids of people this example invited: the only ones it writes
    starting = Bundle("starting")  # ids of members before the run: read, never written

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

    # -- checks ----------------------------------------------------------------------------------

    def expect(self, condition: object, rule_id: str, message: str) -> None:
        """Count the check of `rule_id`; raise its violation unless `condition` holds."""
        self.ctx.exercised[rule_id] += 1
        if not condition:
            self.fail(rule_id, message)

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
        self.answer_is_well_formed(answer)
        return answer

    def answer_is_well_formed(self, answer: Exchange) -> None:
        self.expect(answer.status < 500, "SPEC", f"never a 5xx: {said(answer)}")
        self.expect(
            answer.headers.get("X-Request-Id"), "R12", f"no X-Request-Id header: {said(answer)}"
        )
        if answer.status < 400:
            return
        media_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
        self.expect(
            media_type == "application/problem+json",
            "R12",
            f"an error answered as {media_type!r}, not application/problem+json: {said(answer)}",
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        missing = [key for key in PROBLEM_KEYS if key not in body]
        self.expect(not missing, "R12", f"problem details without {missing}: {said(answer)}")
        self.expect(
            body["status"] == answer.status,
            "R12",
            f"problem status {body['status']!r} differs from the HTTP status: {said(answer)}",
        )
        self.expect(
            body["request_id"] == answer.headers.get("X-Request-Id"),
            "R12",
            f"request_id {body['request_id']!r} differs from X-Request-Id "
            f"{answer.headers.get('X-Request-Id')!r}",
        )

    def has_code(self, answer: Exchange, code: str, rule_id: str, context: str) -> None:
        seen = answer.body.get("code") if isinstance(answer.body, dict) else None
        self.expect(seen == code, rule_id, f"{context}: expected code {code!r}, {said(answer)}")

    def member_has_shape(self, member: Any, context: str) -> None:
        problems = shape_problems(member)
        self.expect(not problems, "SPEC", f"{context}: {'; '.join(problems)}")

    def member_matches_model(
        self,
        avatar: str,
        member: dict[str, Any],
        profile_rule: str,
        membership_rule: str,
        context: str,
    ) -> None:
        """The member as shown to `avatar` equals the model: profile, this Avatar's seat only."""
        self.member_has_shape(member, context)
        user_id = member["user_id"]
        self.shows_nothing_of_other_avatars(avatar, member, context)
        seat = self.model.seats[avatar][user_id]
        changed = self.model.people[user_id].differences(member)
        self.expect(
            not changed, profile_rule, f"{context}: the profile of {user_id} is wrong: {changed}"
        )
        changed = seat.differences(member)
        self.expect(
            not changed,
            membership_rule,
            f"{context}: the membership of {user_id} is wrong (expected, seen): {changed}",
        )

    def shows_nothing_of_other_avatars(
        self, avatar: str, member: dict[str, Any], context: str
    ) -> None:
        """R14: no notes, data or avatar_id of another Avatar's membership; R1: this Avatar's id."""
        user_id, shown = member["user_id"], member["membership"]
        own = self.model.seats[avatar].get(user_id)
        own_values = {"avatar_id": self.model.avatar_ids.get(avatar)}
        if own is not None:
            own_values |= {"notes": own.notes, "structured_data": own.structured_data}
        leaked = sorted(
            name
            for name, value in self.model.foreign_values(avatar, user_id)
            if value not in (None, {})
            and name in own_values
            and shown.get(name) == value
            and own_values[name] != value
        )
        self.expect(
            not leaked,
            "R14",
            f"{context}: key {avatar} sees the other Avatar's {leaked} of {user_id}: {shown}",
        )
        self.expect(
            shown.get("avatar_id") == self.model.avatar_ids.get(avatar),
            "R1",
            f"{context}: avatar_id {shown.get('avatar_id')!r}, not the key's Avatar "
            f"{self.model.avatar_ids.get(avatar)!r}",
        )

    def answers_like_an_unknown_id(
        self, avatar: str, answer: Exchange, user_id: str, rule_id: str
    ) -> None:
        """R1/R14: 404 user_not_found, the same answer as for an id that never existed."""
        context = f"key {avatar}, user {user_id} (not an active member here)"
        elsewhere = any(self.model.is_active(a, user_id) for a in self.model.avatars if a != avatar)
        self.expect(
            answer.status == 404,
            "R1" if elsewhere else rule_id,  # answering for another Avatar's member: scope
            f"{context}: expected 404, {said(answer)}",
        )
        self.has_code(answer, "user_not_found", "R12", context)
        shown = json.dumps(
            {k: v for k, v in (answer.body or {}).items() if k != "request_id"}
            if isinstance(answer.body, dict)
            else answer.text,
            ensure_ascii=False,
        )
        for name, value in self.model.foreign_values(avatar, user_id):
            texts = [value] if isinstance(value, str) else []
            if isinstance(value, dict):
                texts = [v for v in value.values() if isinstance(v, str)]
            for text in texts:
                # Short values could appear by chance (in an id, a word of the detail).
                self.expect(
                    len(text) < 8 or text not in shown,
                    "R14",
                    f"{context}: the 404 shows the other Avatar's {name}: {said(answer)}",
                )
        if answer.method != "GET":
            return
        ghost = self.ghost_id(user_id)
        twin = self.send(avatar, "get", ghost)
        self.expect(
            twin.status == answer.status
            and _comparable(answer.body, user_id) == _comparable(twin.body, ghost),
            "R14" if elsewhere else "R1",
            f"{context}: the answer differs from the one for an id that never existed "
            f"({ghost}): {said(answer)} / {said(twin)}",
        )

    def ghost_id(self, user_id: str) -> str:
        """An id shaped like `user_id` that no user has; ids are opaque, so only its end moves."""
        for last in "0123456789ZYXabc":
            candidate = user_id[:-1] + last
            if candidate != user_id and candidate not in self.model.people:
                return candidate
        return user_id + "0"

    # -- the frame: everything visible, after every step ------------------------------------------

    def walk(self, avatar: str, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
        """Every page of the list (R10); the members in order and the cursors followed."""
        members: list[dict[str, Any]] = []
        cursors: list[str] = []
        cursor, pages = None, 0
        while True:
            answer = self.send(avatar, "list_page", limit, cursor)
            pages += 1
            self.expect(
                answer.status == 200,
                "R10" if cursor else "SPEC",
                f"key {avatar}, page {pages} of a walk at limit {limit}: {said(answer)}",
            )
            body = answer.body
            self.expect(
                isinstance(body, dict)
                and isinstance(body.get("data"), list)
                and "next_cursor" in body,
                "SPEC",
                f"a page is not {{data, next_cursor}}: {said(answer)}",
            )
            self.expect(
                len(body["data"]) <= limit,
                "R10",
                f"key {avatar}: a page of {len(body['data'])} members at limit {limit}",
            )
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
        twice = sorted({u for u in ids if ids.count(u) > 1})
        self.expect(not twice, "R10", f"{context}: key {avatar} lists {twice} more than once")
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
        for member in members:
            self.member_has_shape(member, context)
        keys = [(instant(m["membership"]["joined_at"]), m["user_id"]) for m in members]
        self.expect(
            keys == sorted(keys),
            "R10",
            f"{context}: key {avatar} lists out of (joined_at, user_id) order: {ids}",
        )
        for member in members:
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

    @invariant()
    def both_avatars_match_the_model(self) -> None:
        try:
            for avatar in self.model.avatars:
                members, cursors = self.walk(avatar, FRAME_PAGE_LIMIT)
                self.listing_matches_model(
                    avatar,
                    members,
                    len(cursors) + 1,
                    "R1",
                    f"after {self.last.op}: the list of {avatar}",
                )
            self.one_member_reads_as_listed()
        except BaseException:
            self.failed = True
            raise

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

    # -- the starting members ------------------------------------------------------------------

    @initialize(target=starting)
    def record_starting_members(self) -> Any:
        return multiple(*sorted({u for ids in self.model.starting.values() for u in ids}))

    @initialize(target=invited, avatar=s.avatars, profile=s.profiles, membership=s.memberships)
    @step
    def invite_a_first_person(
        self, avatar: str, profile: dict[str, Any] | None, membership: dict[str, Any] | None
    ) -> Any:
        """Every example starts with someone to update, invite elsewhere and remove."""
        user_id = self.invite(avatar, self.ctx.emails.fresh(), "as registered", profile, membership)
        return multiple() if user_id is None else user_id

    # -- invite (R2, R3, R6, R7, R8) ------------------------------------------------------------

    def may_invite(self) -> bool:
        cap = self.ctx.invites_per_example
        return cap is None or self.invites_sent < cap

    @precondition(may_invite)
    @rule(
        target=invited,
        avatar=s.avatars,
        form=s.email_forms,
        profile=s.profiles,
        membership=s.memberships,
    )
    @step
    def invite_new_person(
        self,
        avatar: str,
        form: str,
        profile: dict[str, Any] | None,
        membership: dict[str, Any] | None,
    ) -> Any:
        user_id = self.invite(avatar, self.ctx.emails.fresh(), form, profile, membership)
        return multiple() if user_id is None else user_id

    @precondition(may_invite)
    @rule(
        avatar=s.avatars,
        user=invited,
        form=s.email_forms,
        profile=s.profiles,
        membership=s.memberships,
    )
    @step
    def invite_known_person(
        self,
        avatar: str,
        user: str,
        form: str,
        profile: dict[str, Any] | None,
        membership: dict[str, Any] | None,
    ) -> None:
        """Again: R8 where active, R6 back after a removal, R2 elsewhere; any spelling (R3)."""
        self.invite(avatar, self.model.people[user].email, form, profile, membership)

    def removed_holding_data(self) -> list[tuple[str, str]]:
        """(avatar, user) of each removed membership with a field away from its default."""
        blank = Seat.invited(None)
        return [(avatar, user) for avatar in self.model.avatars
                for user, seat in sorted(self.model.removed[avatar].items())
                if replace(seat, joined_at=None, updated_at=None) != blank]

    @precondition(lambda self: self.may_invite() and self.removed_holding_data())
    @rule(data=st.data(), form=s.email_forms, membership=s.few_memberships)
    @step
    def invite_removed_person_again(
        self, data: st.DataObject, form: str, membership: dict[str, Any] | None
    ) -> None:
        """R6: a fresh membership, whatever the removed one held: each field not sent is at its
        default, which a server bringing the removed membership back would not show."""
        avatar, user = data.draw(st.sampled_from(self.removed_holding_data()))
        self.invite(avatar, self.model.people[user].email, form, None, membership)

    @precondition(lambda self: self.may_invite() and len(self.model.avatars) == 2)
    @rule(user=invited, form=s.email_forms, profile=s.some_profile, membership=s.memberships)
    @step
    def invite_person_elsewhere(
        self,
        user: str,
        form: str,
        profile: dict[str, Any],
        membership: dict[str, Any] | None,
    ) -> None:
        """R2: into an Avatar the person is not in, with a profile that must not be applied."""
        avatar = next(
            (a for a in reversed(self.model.avatars) if not self.model.is_active(a, user)),
            self.model.avatars[0],
        )
        self.invite(avatar, self.model.people[user].email, form, profile, membership)

    @precondition(lambda self: self.ctx.allow_bursts and not self.burst_done)
    @rule()
    @step
    def invite_until_refused(self) -> None:
        """R7: in each Avatar, fresh invites until the hourly limit (429) or the seat limit
        (403) answers; whichever comes first, every Avatar is pushed to one of its limits.

        The embedded mock's clock passes the hour first, so the whole hourly allowance can
        reach the seat limit; then the invited are removed (R6: their seats are free again)
        and the hour passes again, so the rest of the example can still invite.
        """
        self.burst_done = True
        for avatar in self.model.avatars:
            self.ctx.let_the_hour_pass()
            created = []
            for _ in range(BURST_MAX):
                email = self.ctx.emails.fresh()
                user_id = self.invite(avatar, email, "as registered", None, None)
                if user_id is None:
                    break
                created.append(user_id)
            for user_id in created:
                answer = self.send(avatar, "remove", user_id)
                self.expect(
                    answer.status == 204, "R6", f"key {avatar} removes {user_id}: {said(answer)}"
                )
                self.model.leave(avatar, user_id)
            self.last = Step("remove", avatar)
        self.ctx.let_the_hour_pass()

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
        self.rate_headers_hold(avatar, answer, context)
        if answer.status == 429:
            self.refusal_is_a_limit(answer, context)
            return None
        if answer.status == 201:
            self.ctx.invites_used += 1
        if here:
            self.expect(
                answer.status != 201 or _member_id(answer) == known,
                "R3",
                f"{context}: a second user for an email that belongs to {known}: {said(answer)}",
            )
            self.expect(
                answer.status == 409,
                "R8",
                f"{context}: an active member, expected 409 already_member: {said(answer)}",
            )
            self.has_code(answer, "already_member", "R8", context)
            return None
        if answer.status == 409:
            again = known is not None and known in self.model.removed[avatar]
            self.fail(
                "R6" if again else "R8", f"{context}: not an active member here, yet {said(answer)}"
            )
        limit = self.ctx.seat_limit(avatar)
        if answer.status == 403:
            self.has_code(answer, "seat_limit_reached", "R7", context)
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
        return self.invited_as_expected(
            avatar, answer, body["email"], profile, membership, known, context
        )

    def invited_as_expected(
        self,
        avatar: str,
        answer: Exchange,
        email: str,
        profile: dict[str, Any] | None,
        membership: dict[str, Any] | None,
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
        self.member_has_shape(member, context)
        user_id = member["user_id"]
        if known is not None:
            self.expect(
                user_id == known, "R3", f"{context}: user {user_id}, not {known} who has this email"
            )
        else:
            self.expect(
                user_id not in self.model.people,
                "R3",
                f"{context}: a new email, yet the existing user {user_id}",
            )
        existing = known is not None
        self.expect(
            body["existing_user"] is existing,
            "R2",
            f"{context}: existing_user is {body['existing_user']}, expected {existing}",
        )
        ignored = sorted(profile) if existing and profile else []
        self.expect(
            sorted(body["ignored_profile_fields"]) == ignored,
            "R2",
            f"{context}: ignored_profile_fields {body['ignored_profile_fields']}, not {ignored}",
        )
        location = answer.headers.get("Location", "")
        self.expect(
            location.endswith(f"/users/{user_id}"),
            "SPEC",
            f"{context}: Location {location!r} does not name /v1beta/users/{user_id}",
        )
        if existing:
            person = self.model.people[user_id]
        else:
            sent = profile or {}
            person = Person(
                user_id=user_id,
                email=email.strip(),
                name=sent.get("name"),
                role=sent.get("role"),
                expertise=sent.get("expertise"),
                locale=sent.get("locale"),
                created_at=None,  # set by the server
            )
        changed = person.differences(member)
        self.expect(not changed, "R2", f"{context}: the profile (expected, seen): {changed}")
        self.shows_nothing_of_other_avatars(avatar, member, context)
        again = known is not None and known in self.model.removed[avatar]
        changed = Seat.invited(membership).differences(member)
        self.expect(
            not changed,
            "R6" if again else "SPEC",
            f"{context}: the new membership (expected, seen): {changed}",
        )
        if again:
            joined = instant(member["membership"]["joined_at"])
            first = self.first_joined.get((avatar, user_id))
            self.expect(
                first is None or joined >= first,
                "R6",
                f"{context}: joined_at {joined} "
                f"of the fresh membership is before the first one's {first}",
            )
        self.model.join(avatar, member, email)
        if existing:
            return None
        return user_id

    def rate_headers_hold(self, avatar: str, answer: Exchange, context: str) -> None:
        """R7: RateLimit-* on every invite answer after authentication; a 201 uses one up."""
        if answer.status == 401:
            return
        present = [name for name in RATE_HEADERS if answer.headers.get(name) is not None]
        if answer.status in (201, 429) or present:
            values = [header_int(answer, name) for name in RATE_HEADERS]
            self.expect(
                None not in values,
                "R7",
                f"{context}: RateLimit-* must be whole numbers on this answer: "
                f"{ {n: answer.headers.get(n) for n in RATE_HEADERS} }",
            )
            limit, remaining, reset = values
            assert limit is not None and remaining is not None and reset is not None
            self.expect(
                remaining <= limit and 0 <= reset <= 3600,
                "R7",
                f"{context}: RateLimit-Limit {limit}, -Remaining {remaining}, -Reset {reset}",
            )
            before = self.ctx.rate.get(avatar)
            if answer.status == 201 and before is not None and before.still_current():
                self.expect(
                    before.remaining > 0,
                    "R7",
                    f"{context}: 201 although the previous "
                    f"invite answer said RateLimit-Remaining: 0 (reset in {before.reset}s)",
                )
                self.expect(
                    remaining < before.remaining,
                    "R7",
                    f"{context}: 201, yet "
                    f"RateLimit-Remaining went from {before.remaining} to {remaining}",
                )
            self.ctx.rate[avatar] = RateWindow(limit, remaining, reset, time.monotonic())

    def refusal_is_a_limit(self, answer: Exchange, context: str) -> None:
        """R7: a 429 is the limit working, if it says which limit and when to come back."""
        code = answer.body.get("code") if isinstance(answer.body, dict) else None
        self.expect(
            code in ("invite_rate_limited", "invite_safety_cap_reached"),
            "R7",
            f"{context}: a 429 with code {code!r}",
        )
        retry = header_int(answer, "Retry-After")
        self.expect(
            retry is not None and retry >= 1,
            "R7",
            f"{context}: 429 with Retry-After "
            f"{answer.headers.get('Retry-After')!r}, not whole seconds >= 1",
        )
        if code == "invite_rate_limited":
            self.expect(
                header_int(answer, "RateLimit-Remaining") == 0,
                "R7",
                f"{context}: "
                "invite_rate_limited while RateLimit-Remaining is "
                f"{answer.headers.get('RateLimit-Remaining')!r}",
            )

    def home_of(self, user: str) -> str:
        """The first Avatar where `user` is an active member (else the first Avatar)."""
        return next((a for a in self.model.avatars if self.model.is_active(a, user)), "A")

    # -- read (R1, R14) --------------------------------------------------------------------------

    @rule(avatar=s.avatars, user=st.one_of(invited, starting))
    @step
    def read_member(self, avatar: str, user: str) -> None:
        answer = self.send(avatar, "get", user)
        self.last = Step("read", avatar, user)
        if not self.model.is_active(avatar, user):
            self.answers_like_an_unknown_id(avatar, answer, user, "R1")
            return
        context = f"key {avatar} reads its member {user}"
        self.expect(answer.status == 200, "R1", f"{context}: {said(answer)}")
        self.member_matches_model(avatar, answer.body, "R1", "R1", context)

    @rule(avatar=s.avatars, limit=s.page_limits)
    @step
    def list_every_page(self, avatar: str, limit: int) -> None:
        """R10: following next_cursor yields every active member exactly once, in order; and
        the other Avatar's key refuses a cursor issued to this one (400 invalid_cursor)."""
        self.last = Step("read", avatar)
        members, cursors = self.walk(avatar, limit)
        context = f"a walk at limit {limit}"
        self.listing_matches_model(avatar, members, len(cursors) + 1, "R10", context)
        ids = [m["user_id"] for m in members]
        self.expect(
            ids == self.model.order(avatar),
            "R10",
            f"key {avatar}, walk at limit {limit}: {ids}, expected {self.model.order(avatar)}",
        )
        other = self.model.other(avatar)
        if other is None or not cursors:
            return
        answer = self.send(other, "list_page", limit, cursors[0])
        context = f"key {other} lists with a cursor issued to {avatar}"
        self.expect(answer.status == 400, "R10", f"{context}: {said(answer)}")
        self.has_code(answer, "invalid_cursor", "R10", context)

    # -- update (R4, R5, R9, R11) ---------------------------------------------------------------

    @rule(
        user=invited,
        where=s.whose_avatar,
        changes=st.lists(s.membership_changes, min_size=1, max_size=3),
    )
    @step
    def update_membership(self, user: str, where: str, changes: list[dict[str, Any]]) -> None:
        """R5 in the person's own Avatar, one PUT after another (each must keep what the one
        before set and this one did not send); R1 (404) through another Avatar's key."""
        home = self.home_of(user)
        avatar = home if where == "own" else (self.model.other(home) or home)
        for change in changes:
            answer = self.send(avatar, "update", user, change)
            self.last = Step("update", avatar, user, answer.ok)
            if not self.model.is_active(avatar, user):
                self.answers_like_an_unknown_id(avatar, answer, user, "R1")
                continue
            context = f"key {avatar} updates {user} with {change}"
            self.expect(answer.status == 200, "R5", f"{context}: {said(answer)}")
            before = self.model.seats[avatar][user]
            # The server sets updated_at; the model learns it from this answer (checked below).
            self.model.seats[avatar][user] = replace(before.changed(change), updated_at=None)
            self.member_matches_model(avatar, answer.body, "R4", "R5", context)
            updated = instant(answer.body["membership"]["updated_at"])
            self.expect(
                before.updated_at is None or updated >= before.updated_at,
                "R5",
                f"{context}: updated_at went back from {before.updated_at} to {updated}",
            )
            self.model.update(avatar, user, answer.body)

    @rule(user=invited, bodies=st.lists(s.protected_changes(), min_size=1, max_size=3))
    @step
    def update_identity_or_read_only_fields(self, user: str, bodies: list[dict[str, Any]]) -> None:
        """R4: profile and read-only fields answer 422 read_only_field, naming them; no change."""
        avatar = self.home_of(user)
        for body in bodies:
            answer = self.send(avatar, "update", user, body)
            self.last = Step("update", avatar, user, answer.ok)
            context = f"key {avatar} sends {sorted(body)} to {user}"
            if not self.model.is_active(avatar, user):
                self.expect(
                    answer.status in (404, 422), "R1", f"{context}: not a member: {said(answer)}"
                )
                continue
            self.expect(answer.status == 422, "R4", f"{context}: expected 422: {said(answer)}")
            self.has_code(answer, "read_only_field", "R4", context)
            protected = {name for name in body if name in PROTECTED_FIELDS}
            named = answer.body.get("fields")
            self.expect(
                isinstance(named, list)
                and protected <= set(named) <= protected | {s.UNKNOWN_FIELD},
                "R4",
                f"{context}: fields {named!r}, expected {sorted(protected)}",
            )

    # A member present before the run is never written on a real server (a bug would change a
    # real owner): only where the starting state can be put back.
    @precondition(lambda self: self.ctx.can_restore)
    @rule(avatar=s.avatars, removal=st.booleans())
    @step
    def demote_or_remove_owner(self, avatar: str, removal: bool) -> None:
        """R9: the owner can lose neither is_admin nor the membership."""
        owner = self.model.owner(avatar)
        if owner is None:
            return
        if removal:
            answer = self.send(avatar, "remove", owner)
            self.last = Step("remove", avatar, owner, answer.ok)
            context = f"key {avatar} removes its owner {owner}"
        else:
            answer = self.send(avatar, "update", owner, {"is_admin": False})
            self.last = Step("update", avatar, owner, answer.ok)
            context = f"key {avatar} sets is_admin false on its owner {owner}"
        self.expect(answer.status == 409, "R9", f"{context}: {said(answer)}")
        self.has_code(answer, "owner_protected", "R9", context)

    # -- remove (R6) -------------------------------------------------------------------------------

    @rule(avatar=s.avatars, user=invited)
    @step
    def remove_member(self, avatar: str, user: str) -> None:
        answer = self.send(avatar, "remove", user)
        self.last = Step("remove", avatar, user, answer.ok)
        if not self.model.is_active(avatar, user):
            gone = user in self.model.removed[avatar]
            self.answers_like_an_unknown_id(avatar, answer, user, "R6" if gone else "R1")
            return
        context = f"key {avatar} removes {user}"
        self.expect(
            answer.status == 204 and not answer.text,
            "R6",
            f"{context}: expected 204 without a body: {said(answer)}",
        )
        self.first_joined[(avatar, user)] = self.model.seats[avatar][user].joined_at
        self.model.leave(avatar, user)
        self.answers_like_an_unknown_id(avatar, self.send(avatar, "get", user), user, "R6")
        self.answers_like_an_unknown_id(avatar, self.send(avatar, "remove", user), user, "R6")

    # -- authentication (R13) ----------------------------------------------------------------------

    @rule(credential=s.bad_credentials, user=invited)
    @step
    def call_every_operation_without_a_valid_key(self, credential: str | None, user: str) -> None:
        """R13: each answers 401 unauthenticated with WWW-Authenticate: Bearer; nothing changes."""
        avatar = self.home_of(user)  # where a write that slipped through would show
        self.last = Step("probe", avatar, user, False)
        client = self.ctx.clients[avatar]
        path = client.user_path(user)
        email = self.ctx.emails.fresh()
        self.created_emails.add(email_key(email))  # in case the invite slips through
        for method, target, body in (
            ("GET", "/users", None),
            ("POST", "/users", {"email": email}),
            ("GET", path, None),
            ("PUT", path, {"notes": "changed without a key"}),
            ("DELETE", path, None),
        ):
            if body is None:
                answer = client.request(method, target, authorization=credential)
            else:
                answer = client.request(method, target, json=body, authorization=credential)
            self.answer_is_well_formed(answer)
            context = f"{method} {target} with Authorization {credential!r}"
            self.expect(answer.status == 401, "R13", f"{context}: {said(answer)}")
            self.has_code(answer, "unauthenticated", "R13", context)
            challenge = answer.headers.get("WWW-Authenticate", "")
            self.expect(
                challenge.split(" ")[0].lower() == "bearer",
                "R13",
                f"{context}: WWW-Authenticate is {challenge!r}",
            )

    # -- teardown --------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove what the example created; check both Avatars are back as they started."""
        failed_before = self.failed
        try:
            self.marks = {name: len(c.exchanges) for name, c in self.ctx.clients.items()}
            self.remove_what_this_example_created()
            if not failed_before:
                self.last = Step("teardown")
                self.both_avatars_match_the_model()
        except BaseException:
            self.failed = True
            if not failed_before:
                raise
        finally:
            if self.failed:
                # The next example must start from the recorded state, or its replay differs.
                self.ctx.restore_starting_state()

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


def _comparable(body: Any, user_id: str) -> Any:
    """What two 404s must share: which members they have, and the values of RFC 9457's own and
    `code`, with the id asked for taken out. Extension members may carry per-request values."""
    if not isinstance(body, dict):
        return body
    shared = {key: body.get(key) for key in ("type", "title", "status", "detail", "code")}
    return {
        "members": sorted(body),
        **{
            k: v.replace(user_id, "{user_id}") if isinstance(v, str) else v
            for k, v in shared.items()
        },
    }
