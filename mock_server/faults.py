"""The catalogue of injectable faults: each breaks exactly one rule, in a few lines, here only.

A fault replaces one method of MemberService (or of ProblemRenderer) with a wrapper that
receives the correct method (`original`) and bends its behaviour. `build` makes an instance
with the active faults applied, so the correct path in `core/` reads clean and the project's
tests can prove that the suites catch each fault by the rule it breaks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from openapi import load_api_spec

from .core.errors import AlreadyMember, ApiError, NotFound, ReadOnlyField
from .core.service import MEMBERSHIP_DEFAULTS, Invited, MemberService
from .core.store import ACTIVE, REMOVED, Membership
from .problems import ProblemRenderer

Wrapper = Callable[..., Any]


@dataclass(frozen=True)
class Fault:
    name: str
    rule: str  # a rule id of the contract, or SPEC for the spec's schemas and statuses
    description: str
    target: type  # MemberService or ProblemRenderer
    method: str
    wrapper: Wrapper = field(repr=False)


CATALOGUE: dict[str, Fault] = {}


def fault(
    name: str, rule: str, description: str, method: str, target: type = MemberService
) -> Callable[[Wrapper], Wrapper]:
    """Register the decorated wrapper as fault `name`, replacing `target.method`."""

    def register(wrapper: Wrapper) -> Wrapper:
        CATALOGUE[name] = Fault(name, rule, description, target, method, wrapper)
        return wrapper

    return register


def build(target: type, active: Iterable[str], *args: Any) -> Any:
    """A `target(*args)` with the named faults on it applied; unknown names raise KeyError."""
    overrides: dict[str, Wrapper] = {}
    for name in active:
        found = CATALOGUE[name]
        if found.target is target:
            overrides[found.method] = _chain(
                found.method, found.wrapper, overrides.get(found.method)
            )
    if not overrides:
        return target(*args)
    return type(f"Faulty{target.__name__}", (target,), overrides)(*args)


def _chain(method: str, wrapper: Wrapper, inner: Wrapper | None) -> Wrapper:
    def call(self: MemberService, *args: Any, **kwargs: Any) -> Any:
        if inner is not None:
            original = lambda *a, **k: inner(self, *a, **k)  # noqa: E731
        else:
            original = getattr(super(type(self), self), method)
        return wrapper(self, original, *args, **kwargs)

    call.__name__ = method
    return call


# -- R1 Avatar scope ---------------------------------------------------------------------------


@fault("list_shows_removed", "R1", "The list still shows members removed from the Avatar", "_page")
def _list_shows_removed(self: MemberService, original: Wrapper, avatar_id: str, *rest: Any) -> Any:
    page = original(avatar_id, *rest)
    removed = [
        m for (a, _), m in self.store.memberships.items() if a == avatar_id and m.status == REMOVED
    ]
    return MemberService._Page(page.members + removed, page.has_more)


@fault(
    "get_reads_other_avatar",
    "R1",
    "GET answers 200 for a user who belongs only to another Avatar",
    "membership_or_404",
)
def _get_reads_other_avatar(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str
) -> Any:
    others = [m for m in self.store.memberships_of(user_id) if m.status == ACTIVE]
    if self.store.active_membership(avatar_id, user_id) or not others:
        return original(avatar_id, user_id)
    # A made-up membership here: the user is readable although not a member.
    stamp = others[0].joined_at
    return Membership(
        avatar_id=avatar_id,
        user_id=user_id,
        is_owner=False,
        status=ACTIVE,
        joined_at=stamp,
        updated_at=stamp,
        **{**MEMBERSHIP_DEFAULTS, "structured_data": {}},
    )


# -- R2 Invite never overwrites identity -------------------------------------------------------


@fault(
    "invite_overwrites_identity",
    "R2",
    "Inviting an existing email overwrites the user's profile with the one sent",
    "invite",
)
def _invite_overwrites_identity(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Invited:
    invited: Invited = original(avatar_id, body)
    if invited.existing_user and isinstance(body.get("profile"), dict):
        user = self.store.users[invited.member["user_id"]]
        for name, value in body["profile"].items():
            setattr(user, name, value)
        membership = self.store.active_membership(avatar_id, user.user_id)
        return Invited(True, invited.ignored_profile_fields, self.view(membership))
    return invited


@fault(
    "existing_user_flag_wrong",
    "R2",
    "Inviting an existing email answers existing_user false and ignores nothing",
    "invite",
)
def _existing_user_flag_wrong(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Invited:
    invited: Invited = original(avatar_id, body)
    return Invited(False, [], invited.member)


# -- R3 One user per email ---------------------------------------------------------------------


@fault(
    "email_case_sensitive",
    "R3",
    "Emails are matched case-sensitively, so a case variant makes a second user",
    "email_key",
)
def _email_case_sensitive(self: MemberService, original: Wrapper, email: str) -> str:
    return email.strip()


# -- R4, R5, R11 PUT ---------------------------------------------------------------------------


@fault(
    "put_applies_name", "R4", "PUT applies a profile name instead of answering 422", "update_member"
)
def _put_applies_name(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str, body: Any
) -> Any:
    if not (isinstance(body, dict) and "name" in body):
        return original(avatar_id, user_id, body)
    rest = {k: v for k, v in body.items() if k != "name"}
    if rest:
        original(avatar_id, user_id, rest)
    self.membership_or_404(avatar_id, user_id)
    self.store.users[user_id].name = body["name"]
    return self.get_member(avatar_id, user_id)


@fault(
    "put_resets_unsent_fields",
    "R5",
    "PUT resets the membership fields it was not sent to their defaults",
    "update_member",
)
def _put_resets_unsent_fields(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str, body: Any
) -> Any:
    if isinstance(body, dict) and body and not set(body) & self.schemas.protected_fields:
        owner = self.membership_or_404(avatar_id, user_id).is_owner
        body = {**MEMBERSHIP_DEFAULTS, "is_admin": owner, **body}
    return original(avatar_id, user_id, body)


@fault(
    "refused_put_applies_field",
    "R11",
    "A PUT refused with 422 still applies the membership fields it carried",
    "update_member",
)
def _refused_put_applies_field(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str, body: Any
) -> Any:
    try:
        return original(avatar_id, user_id, body)
    except ReadOnlyField:
        allowed = {k: v for k, v in body.items() if k in MEMBERSHIP_DEFAULTS}
        if allowed:
            # The fault applies what it can, then refuses all the same.
            with contextlib.suppress(ApiError):
                original(avatar_id, user_id, allowed)
        raise


@fault(
    "reinvite_of_member_accepted",
    "R8",
    "Inviting an active member answers 201 and replaces the membership",
    "invite",
)
def _reinvite_of_member_accepted(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Invited:
    try:
        return original(avatar_id, body)
    except AlreadyMember:
        user_id = self.store.users_by_email[self.email_key(body["email"])]
        self.store.mark_removed(self.membership_or_404(avatar_id, user_id), self.now())
        return original(avatar_id, body)


# -- R6 DELETE is a soft remove; R9 the owner is protected ---------------------------------------


@fault(
    "delete_removes_other_memberships",
    "R6",
    "DELETE also removes the user's memberships in every other Avatar",
    "remove_member",
)
def _delete_removes_other_memberships(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str
) -> None:
    original(avatar_id, user_id)
    for membership in self.store.memberships_of(user_id):
        if not membership.is_owner:
            self.store.mark_removed(membership, self.now())


@fault(
    "delete_revokes_roles_elsewhere",
    "R6",
    "DELETE also revokes the person's admin rights and licence in every other Avatar",
    "remove_member",
)
def _delete_revokes_roles_elsewhere(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str
) -> None:
    original(avatar_id, user_id)
    # Roles revoked per user instead of per membership: the other Avatars lose them too.
    for membership in self.store.memberships_of(user_id):
        if membership.avatar_id != avatar_id and not membership.is_owner:
            membership.is_admin = False
            membership.license_expires_at = None


@fault(
    "reinvite_restores_removed_membership",
    "R6",
    "Inviting a removed member again brings back the removed membership's fields not sent",
    "invite",
)
def _reinvite_restores_removed_membership(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Invited:
    email = body.get("email") if isinstance(body, dict) else None
    user_id = self.store.users_by_email.get(self.email_key(email)) if isinstance(
        email, str) else None
    removed = self.store.memberships.get((avatar_id, user_id)) if user_id else None
    kept = dict(vars(removed)) if removed is not None and removed.status == REMOVED else None
    invited: Invited = original(avatar_id, body)
    if kept is None:
        return invited
    # The old row reactivated: what the invite did not send comes back from before.
    sent = body.get("membership") or {}
    membership = self.store.memberships[(avatar_id, kept["user_id"])]
    for name in MEMBERSHIP_DEFAULTS:
        if name not in sent:
            setattr(membership, name, kept[name])
    return Invited(invited.existing_user, invited.ignored_profile_fields, self.view(membership))


@fault("owner_removable", "R9", "DELETE removes the Avatar's owner", "remove_member")
def _owner_removable(self: MemberService, original: Wrapper, avatar_id: str, user_id: str) -> None:
    membership = self.membership_or_404(avatar_id, user_id)
    if membership.is_owner:
        self.store.mark_removed(membership, self.now())
        return
    original(avatar_id, user_id)


@fault(
    "owner_demotable", "R9", "PUT sets the owner's is_admin to false", "update_member"
)
def _owner_demotable(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str, body: Any
) -> Any:
    if not (isinstance(body, dict) and body.get("is_admin") is False):
        return original(avatar_id, user_id, body)
    changes = self.schemas.update(body)
    with self.store.lock:
        membership = self.membership_or_404(avatar_id, user_id)
        if not membership.is_owner:
            return original(avatar_id, user_id, body)
        # The owner check forgotten: the change is applied like any other.
        for name, value in changes.items():
            setattr(membership, name, value)
        membership.updated_at = max(self.now(), membership.updated_at + timedelta(microseconds=1))
        return self.view(membership)


# -- R7 Invite limits --------------------------------------------------------------------------


@fault("seat_limit_off_by_one", "R7", "The seat limit lets one member too many in", "seat_limit")
def _seat_limit_off_by_one(self: MemberService, original: Wrapper, avatar_id: str) -> int:
    return original(avatar_id) + 1


@fault(
    "invite_rate_limit_off",
    "R7",
    "The per-Avatar hourly invite limit is not enforced",
    "_check_invite_rate",
)
def _invite_rate_limit_off(self: MemberService, original: Wrapper, *args: Any) -> None:
    return None


# -- R10 Pagination is exact -------------------------------------------------------------------


@fault(
    "pagination_drops_boundary_item",
    "R10",
    "Following next_cursor skips the first member of every next page",
    "_page",
)
def _pagination_drops_boundary_item(
    self: MemberService,
    original: Wrapper,
    avatar_id: str,
    position: Any,
    walk_started: Any,
    limit: int,
) -> Any:
    if position is None:
        return original(avatar_id, position, walk_started, limit)
    # One more than asked, less the first: a full page that starts one member late.
    page = original(avatar_id, position, walk_started, limit + 1)
    return MemberService._Page(page.members[1:], page.has_more)


# -- R12 Errors are problem details -----------------------------------------------------------


@fault(
    "problem_without_request_id",
    "R12",
    "Problem details leave out request_id",
    "body",
    target=ProblemRenderer,
)
def _problem_without_request_id(self: Any, original: Wrapper, *args: Any) -> dict[str, Any]:
    body = original(*args)
    body.pop("request_id", None)
    return body


@fault(
    "user_not_found_wrong_code",
    "R12",
    "A missing user answers 404 with the code not_found instead of user_not_found",
    "membership_or_404",
)
def _user_not_found_wrong_code(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str
) -> Any:
    membership = self.store.active_membership(avatar_id, user_id)
    if membership is None:
        raise NotFound("No such user.")
    return membership


# -- R13 Authentication ------------------------------------------------------------------------


@fault(
    "delete_without_key",
    "R13",
    "DELETE without an Authorization header acts for the first Avatar",
    "authenticate",
)
def _delete_without_key(
    self: MemberService, original: Wrapper, authorization: str | None, operation: str
) -> str:
    if operation == "removeUser" and not authorization:
        return sorted(self.store.avatars)[0]
    return original(authorization, operation)


# -- R14 Privacy across Avatars ---------------------------------------------------------------


@fault(
    "get_shows_other_avatar_notes",
    "R14",
    "GET shows the notes another Avatar keeps on a shared user",
    "get_member",
)
def _get_shows_other_avatar_notes(
    self: MemberService, original: Wrapper, avatar_id: str, user_id: str
) -> Any:
    member = original(avatar_id, user_id)
    for other in self.store.memberships_of(user_id):
        if other.avatar_id != avatar_id and other.notes:
            member["membership"]["notes"] = other.notes
    return member


# -- The spec itself: statuses and schemas -----------------------------------------------------


@fault("non_ascii_name_500", "SPEC", "An invite with a non-ASCII name answers 500", "invite")
def _non_ascii_name_500(self: MemberService, original: Wrapper, avatar_id: str, body: Any) -> Any:
    profile = body.get("profile") if isinstance(body, dict) else None
    name = profile.get("name") if isinstance(profile, dict) else None
    if isinstance(name, str) and not name.isascii():
        raise UnicodeEncodeError("ascii", name, 0, 1, "the name is not ASCII")
    return original(avatar_id, body)


def _profile_limits() -> dict[str, int]:
    schemas = load_api_spec()["components"]["schemas"]
    return {name.lower(): schemas[name]["maxLength"]
            for name in ("Name", "Role", "Expertise", "Locale")}


@fault(
    "long_profile_value_500",
    "SPEC",
    "An invite with a profile value of the spec's maximum length answers 500",
    "invite",
)
def _long_profile_value_500(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Any:
    request = self.schemas.invite(body)  # a valid body: 400 stays 400
    profile = request.get("profile") or {}
    for name, limit in _profile_limits().items():
        value = profile.get(name)
        if isinstance(value, str) and len(value) >= limit:
            # A column one character shorter than the spec's limit.
            raise ValueError(f"value too long for column {name} ({limit - 1})")
    return original(avatar_id, body)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


@fault(
    "astral_character_500",
    "SPEC",
    "An invite with a character beyond U+FFFF (an emoji) in its membership answers 500",
    "invite",
)
def _astral_character_500(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Any:
    membership = body.get("membership") if isinstance(body, dict) else None
    if any(ord(c) > 0xFFFF for text in _texts(membership) for c in text):
        # A three-byte UTF-8 column (MySQL's utf8mb3) cannot hold it.
        raise UnicodeEncodeError("utf8mb3", "", 0, 1, "a character beyond the BMP")
    return original(avatar_id, body)


@fault(
    "far_license_date_500",
    "SPEC",
    "An invite with license_expires_at after 2038-01-19 answers 500",
    "invite",
)
def _far_license_date_500(
    self: MemberService, original: Wrapper, avatar_id: str, body: Any
) -> Any:
    request = self.schemas.invite(body)
    expires = (request.get("membership") or {}).get("license_expires_at")
    if expires is not None and expires.timestamp() > 2**31 - 1:
        raise OverflowError("timestamp out of range for a 32-bit column")
    return original(avatar_id, body)


@fault(
    "wrong_field_type",
    "SPEC",
    "Members are answered with membership.is_coach as a string",
    "view",
)
def _wrong_field_type(self: MemberService, original: Wrapper, membership: Any) -> Any:
    member = original(membership)
    member["membership"]["is_coach"] = str(member["membership"]["is_coach"]).lower()
    return member


def describe(active: Iterable[str] = ()) -> list[dict[str, object]]:
    """The catalogue as data, for the admin surface and the CLI."""
    on = set(active)
    return [
        {"name": f.name, "rule": f.rule, "description": f.description, "active": f.name in on}
        for f in CATALOGUE.values()
    ]
