"""The state machine: two Avatars' members driven through the API and compared with a model.

Only rules live here: each says what to send (one operation, or a few) and what the model
expects; `driver.Example` sends it, asks the judge (`judge`), and changes the model only as the
contract says the server changed. After every step the invariant lists both Avatars page by
page and compares everything visible with the model, so a change the step should not have made
(to another member, another Avatar, a profile) is caught, and blamed on the rule the step
broke. Every failure raises harness.rules.RuleViolation.

It writes only to members it invited in the example (and, where the starting state can be
put back, probes the owners, which a correct server refuses); its teardown removes what the
example created, so each example starts from the state recorded before the run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

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

from judge.instants import not_before
from judge.members import read_only_refusal

from . import strategies as s
from .driver import FRAME_PAGE_LIMIT, Example, Step, said, step, violation_class
from .model import Seat, email_key

__all__ = ["FRAME_PAGE_LIMIT", "TwoAvatars", "violation_class"]

BURST_MAX = 150  # above the mock's default hourly limit (60) and essential seat limit (25)


class TwoAvatars(Example, RuleBasedStateMachine):
    """Members of Avatar A (and B, with a second key) against a model of both."""

    invited = Bundle("invited")  # ids of people this example invited: the only ones it writes
    starting = Bundle("starting")  # ids of members before the run: read, never written

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

    may_invite = Example.may_invite  # the precondition of every invite

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
        self.refused(answer, 400, "invalid_cursor", "R10", context)

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
            if before.updated_at is not None:
                self.judge(not_before(before.updated_at.isoformat(),
                                      answer.body["membership"]["updated_at"], "R5",
                                      f"{context}: updated_at moves forward"), "R5")
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
            self.judge(read_only_refusal(answer.answer, body), "R4")

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
        self.refused(answer, 409, "owner_protected", "R9", context)

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

    @rule(bad=s.bad_credentials, user=invited)
    @step
    def call_every_operation_without_a_valid_key(self, bad: int, user: str) -> None:
        """R13: each answers 401 unauthenticated with WWW-Authenticate: Bearer; nothing changes."""
        avatar = self.home_of(user)  # where a write that slipped through would show
        credential = self.bad_credential(avatar, bad)
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
            self.unauthenticated(answer, credential)

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
