"""The rules of the v1beta user-management surface (R1–R14), free of HTTP.

Every public method takes the key's Avatar id (already authenticated) and either returns plain
data or raises an ApiError before touching state, so a refusal changes nothing (R11).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ulid import ULID

from . import cursors
from .clock import VirtualClock
from .errors import (
    AlreadyMember,
    InviteRateLimited,
    InviteSafetyCapReached,
    OwnerProtected,
    SeatLimitReached,
    Unauthenticated,
    UserNotFound,
)
from .store import ACTIVE, Membership, Store, User, format_instant, secrets_match

HOUR = 3600.0
KEY_PREFIX = "mgak_"
MEMBERSHIP_DEFAULTS: dict[str, Any] = {
    "is_admin": False,
    "is_coach": False,
    "license_expires_at": None,
    "notes": None,
    "structured_data": {},
}


class RequestSchemas(Protocol):
    """Checks request bodies against the spec; raises InvalidRequest or ReadOnlyField."""

    def invite(self, body: Any) -> dict[str, Any]: ...
    def update(self, body: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Limits:
    seat_limits: dict[str, int]
    invites_per_hour: int
    safety_cap_per_hour: int


@dataclass(frozen=True)
class RateLimit:
    """The per-Avatar invite window, as the RateLimit-* headers tell it (R7)."""

    limit: int
    remaining: int
    reset: int


@dataclass(frozen=True)
class Invited:
    existing_user: bool
    ignored_profile_fields: list[str]
    member: dict[str, Any]


class MemberService:
    """list, invite, get, update, remove: the members of one Avatar at a time."""

    def __init__(
        self, store: Store, clock: VirtualClock, limits: Limits, schemas: RequestSchemas
    ) -> None:
        self.store = store
        self.clock = clock
        self.limits = limits
        self.schemas = schemas

    # -- policies (each a single seam, so that faults can replace exactly one) -------------

    def email_key(self, email: str) -> str:
        """R3: one user per email, matched after trimming and ignoring case."""
        return email.strip().casefold()

    def seat_limit(self, avatar_id: str) -> int:
        return self.limits.seat_limits[self.store.avatars[avatar_id].type]

    def now(self) -> datetime:
        return self.clock.now_dt()

    # -- authentication (R13) ---------------------------------------------------------------

    def authenticate(self, authorization: str | None, operation: str) -> str:
        """The Avatar id of a valid, unrevoked key; raises Unauthenticated otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
            raise Unauthenticated()
        credential_id, dot, secret = token[len(KEY_PREFIX) :].strip().partition(".")
        key = self.store.keys.get(credential_id) if dot else None
        if key is None or key.revoked or not secrets_match(secret, key.secret_hash):
            raise Unauthenticated()
        return key.avatar_id

    # -- operations ---------------------------------------------------------------------------

    def list_members(self, avatar_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        """R1, R10: one page of this Avatar's active members, in (joined_at, user_id) order."""
        with self.store.lock:
            if cursor is None:
                position = None
                walk_started = self.now()
            else:
                position = cursors.decode(cursor, avatar_id, self.store.cursor_secret)
                walk_started = position.walk_started
            page = self._page(avatar_id, position, walk_started, limit)
            next_cursor = None
            if page.has_more:
                last = page.members[-1]
                next_cursor = cursors.encode(
                    cursors.Position(last.joined_at, last.user_id, walk_started),
                    avatar_id,
                    self.store.cursor_secret,
                )
            return {
                "data": [self.view(m) for m in page.members],
                "next_cursor": next_cursor,
            }

    def invite(self, avatar_id: str, body: Any) -> Invited:
        """R2, R3, R6, R7, R8: add the person with this email as an active member here."""
        request = self.schemas.invite(body)
        with self.store.lock:
            now = self.clock.now()
            self._check_invite_rate(avatar_id, now)
            self._check_safety_cap(now)
            email = request["email"].strip()
            user_id = self.store.users_by_email.get(self.email_key(email))
            if user_id is not None and self.store.active_membership(avatar_id, user_id):
                raise AlreadyMember()
            self._check_seats(avatar_id)

            stamp = self.now()
            profile_sent: dict[str, Any] = request.get("profile", {})
            if user_id is None:
                user = self._create_user(email, profile_sent, stamp)
                existing, ignored = False, []
            else:
                user = self.store.users[user_id]
                # R2: the profile of an existing user is never touched; say what was ignored.
                existing, ignored = True, list(profile_sent)
            membership = Membership(
                avatar_id=avatar_id,
                user_id=user.user_id,
                is_owner=False,
                status=ACTIVE,
                joined_at=stamp,
                updated_at=stamp,
                **{**MEMBERSHIP_DEFAULTS, **request.get("membership", {})},
            )
            self.store.put_membership(membership)
            self._record_invite(avatar_id, now)
            return Invited(existing, ignored, self.view(membership))

    def get_member(self, avatar_id: str, user_id: str) -> dict[str, Any]:
        """R1, R14: the profile plus this Avatar's membership, and nothing of other Avatars."""
        with self.store.lock:
            return self.view(self.membership_or_404(avatar_id, user_id))

    def update_member(self, avatar_id: str, user_id: str, body: Any) -> dict[str, Any]:
        """R4, R5, R9: change only the membership fields sent."""
        changes = self.schemas.update(body)
        with self.store.lock:
            membership = self.membership_or_404(avatar_id, user_id)
            if membership.is_owner and changes.get("is_admin") is False:
                raise OwnerProtected()
            for name, value in changes.items():
                setattr(membership, name, value)
            # R5: updated_at moves forward even when two updates share a clock tick.
            membership.updated_at = max(
                self.now(), membership.updated_at + timedelta(microseconds=1)
            )
            return self.view(membership)

    def remove_member(self, avatar_id: str, user_id: str) -> None:
        """R6, R9: soft-remove this Avatar's membership only."""
        with self.store.lock:
            membership = self.membership_or_404(avatar_id, user_id)
            if membership.is_owner:
                raise OwnerProtected()
            self.store.mark_removed(membership, self.now())

    def rate_limit(self, avatar_id: str) -> RateLimit:
        """R7: the per-Avatar invite window, for the RateLimit-* headers."""
        with self.store.lock:
            now = self.clock.now()
            count, oldest = self._window(self.store.invite_log.get(avatar_id, []), now)
            limit = self.limits.invites_per_hour
            reset = math.ceil(oldest + HOUR - now) if count else 0
            return RateLimit(limit, max(0, limit - count), min(max(reset, 0), 3600))

    # -- helpers --------------------------------------------------------------------------------

    def membership_or_404(self, avatar_id: str, user_id: str) -> Membership:
        """This Avatar's active membership of user_id.

        Raises UserNotFound (R1) alike whether the user does not exist, belongs only to other
        Avatars, or was removed here (R14: nothing tells these apart).
        """
        membership = self.store.active_membership(avatar_id, user_id)
        if membership is None:
            raise UserNotFound()
        return membership

    def view(self, membership: Membership) -> dict[str, Any]:
        """The Member resource: the shared profile and this one membership."""
        user = self.store.users[membership.user_id]
        return {
            "user_id": user.user_id,
            "profile": {
                "email": user.email,
                "name": user.name,
                "role": user.role,
                "expertise": user.expertise,
                "locale": user.locale,
                "created_at": format_instant(user.created_at),
            },
            "membership": {
                "avatar_id": membership.avatar_id,
                "status": membership.status,
                "is_owner": membership.is_owner,
                "is_admin": membership.is_admin,
                "is_coach": membership.is_coach,
                "license_expires_at": format_instant(membership.license_expires_at),
                "notes": membership.notes,
                "structured_data": membership.structured_data,
                "joined_at": format_instant(membership.joined_at),
                "updated_at": format_instant(membership.updated_at),
            },
        }

    @dataclass(frozen=True)
    class _Page:
        members: list[Membership]
        has_more: bool

    def _page(
        self,
        avatar_id: str,
        position: cursors.Position | None,
        walk_started: datetime,
        limit: int,
    ) -> MemberService._Page:
        entries = self.store.active_members(avatar_id)
        start = 0
        if position is not None:
            start = bisect.bisect_right(entries, position.after, key=lambda e: e[0])
        members: list[Membership] = []
        has_more = False
        for _, membership in entries[start:]:
            if membership.joined_at > walk_started:
                break  # joined after the walk began: left out (see cursors)
            if len(members) == limit:
                has_more = True
                break
            members.append(membership)
        return self._Page(members, has_more)

    def _create_user(self, email: str, profile: dict[str, Any], stamp: datetime) -> User:
        user = User(
            user_id=f"usr_{ULID()}",
            email=email,
            name=profile.get("name"),
            role=profile.get("role"),
            expertise=profile.get("expertise"),
            locale=profile.get("locale"),
            created_at=stamp,
        )
        self.store.users[user.user_id] = user
        self.store.users_by_email[self.email_key(email)] = user.user_id
        return user

    def _window(self, times: list[float], now: float) -> tuple[int, float]:
        """How many invites of `times` (oldest first) fall in the rolling hour, and the oldest.

        Read-only: a refused invite, or the RateLimit-* headers, change nothing (R11); the
        log is pruned only when an invite succeeds.
        """
        start = bisect.bisect_right(times, now - HOUR)
        return len(times) - start, times[start] if start < len(times) else now

    def _check_invite_rate(self, avatar_id: str, now: float) -> None:
        count, oldest = self._window(self.store.invite_log.get(avatar_id, []), now)
        if count >= self.limits.invites_per_hour:
            raise InviteRateLimited(
                f"This Avatar has sent {count} invites in the last hour.",
                retry_after=math.ceil(oldest + HOUR - now),
            )

    def _check_safety_cap(self, now: float) -> None:
        count, oldest = self._window(self.store.platform_invites, now)
        if count >= self.limits.safety_cap_per_hour:
            raise InviteSafetyCapReached(
                "The platform's hourly invite safety cap is reached; try again later.",
                retry_after=math.ceil(oldest + HOUR - now),
            )

    def _check_seats(self, avatar_id: str) -> None:
        limit = self.seat_limit(avatar_id)
        if len(self.store.active_members(avatar_id)) >= limit:
            avatar = self.store.avatars[avatar_id]
            raise SeatLimitReached(
                f"This {avatar.type} Avatar has {limit} active members, its seat limit."
            )

    def _record_invite(self, avatar_id: str, now: float) -> None:
        for times in (self.store.invite_log.setdefault(avatar_id, []), self.store.platform_invites):
            del times[: bisect.bisect_right(times, now - HOUR)]  # older than the rolling hour
            times.append(now)
