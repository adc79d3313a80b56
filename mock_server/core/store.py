"""The mock's whole state: Avatars, users, memberships and keys, behind one lock.

Nothing here knows HTTP. Everything is plain data so that the state can be exported, imported
and compared byte for byte (R11: a refused request changes nothing).
"""

from __future__ import annotations

import bisect
import copy
import functools
import hashlib
import hmac
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

AVATAR_TYPES = ("essential", "enterprise")
ACTIVE, REMOVED = "active", "removed"


def hash_secret(secret: str) -> str:
    # Keys are long random secrets, so one SHA-256 is enough; only the hash is kept.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secrets_match(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass
class Avatar:
    avatar_id: str
    name: str
    type: str


@dataclass
class User:
    user_id: str
    email: str
    name: str | None
    role: str | None
    expertise: str | None
    locale: str | None
    created_at: datetime


@dataclass
class Membership:
    avatar_id: str
    user_id: str
    is_owner: bool
    is_admin: bool
    is_coach: bool
    license_expires_at: datetime | None
    notes: str | None
    structured_data: dict[str, Any]
    status: str
    joined_at: datetime
    updated_at: datetime

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """R10: lists are ordered by (joined_at, user_id)."""
        return (self.joined_at, self.user_id)


@dataclass
class ApiKey:
    credential_id: str
    avatar_id: str
    secret_hash: str
    revoked: bool = False


@dataclass
class Store:
    """All state, guarded by `lock`; `reset` goes back to the seed it was built from."""

    avatars: dict[str, Avatar] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    users_by_email: dict[str, str] = field(default_factory=dict)  # email key -> user_id
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    invite_log: dict[str, list[float]] = field(default_factory=dict)  # avatar -> times
    platform_invites: list[float] = field(default_factory=list)
    cursor_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    # Active memberships per Avatar, kept sorted by sort_key: pages are bisected, not sorted.
    _active: dict[str, list[tuple[tuple[datetime, str], Membership]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    # -- memberships ------------------------------------------------------------------------

    def active_members(self, avatar_id: str) -> list[tuple[tuple[datetime, str], Membership]]:
        """This Avatar's active memberships, sorted by (joined_at, user_id); do not mutate."""
        return self._active.setdefault(avatar_id, [])

    def put_membership(self, membership: Membership) -> None:
        """Add or replace the (avatar, user) membership, keeping the active index in order."""
        key = (membership.avatar_id, membership.user_id)
        old = self.memberships.get(key)
        if old is not None and old.status == ACTIVE:
            self._unindex(old)
        self.memberships[key] = membership
        if membership.status == ACTIVE:
            entries = self.active_members(membership.avatar_id)
            bisect.insort(entries, (membership.sort_key, membership), key=lambda e: e[0])

    def mark_removed(self, membership: Membership, when: datetime) -> None:
        if membership.status == ACTIVE:
            self._unindex(membership)
        membership.status = REMOVED
        membership.updated_at = when

    def _unindex(self, membership: Membership) -> None:
        entries = self.active_members(membership.avatar_id)
        index = bisect.bisect_left(entries, membership.sort_key, key=lambda e: e[0])
        if index < len(entries) and entries[index][1] is membership:
            del entries[index]

    def active_membership(self, avatar_id: str, user_id: str) -> Membership | None:
        membership = self.memberships.get((avatar_id, user_id))
        if membership is None or membership.status != ACTIVE:
            return None
        return membership

    def memberships_of(self, user_id: str) -> list[Membership]:
        return [m for (_, uid), m in self.memberships.items() if uid == user_id]

    # -- whole-state operations ----------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """The whole state as JSON-ready data, in a stable order."""
        with self.lock:
            return {
                "avatars": [asdict(a) for a in sorted(self.avatars.values(), key=_by("avatar_id"))],
                "users": [
                    _jsonable(asdict(u)) for u in sorted(self.users.values(), key=_by("user_id"))
                ],
                "memberships": [
                    _jsonable(asdict(m))
                    for _, m in sorted(self.memberships.items(), key=lambda item: item[0])
                ],
                "keys": [asdict(k) for k in sorted(self.keys.values(), key=_by("credential_id"))],
                "invite_log": {a: list(t) for a, t in sorted(self.invite_log.items())},
                "platform_invites": list(self.platform_invites),
            }

    def load(self, data: dict[str, Any], email_key: Any) -> None:
        """Replace the whole state with exported data (see `export`)."""
        with self.lock:
            self.avatars = {a["avatar_id"]: Avatar(**a) for a in data.get("avatars", [])}
            self.users = {}
            self.users_by_email = {}
            for raw in data.get("users", []):
                user = User(**{**raw, "created_at": parse_instant(raw["created_at"])})
                self.users[user.user_id] = user
                self.users_by_email[email_key(user.email)] = user.user_id
            self.memberships = {}
            self._active = {}
            for raw in data.get("memberships", []):
                self.put_membership(
                    Membership(
                        **{
                            **raw,
                            "license_expires_at": parse_instant(raw["license_expires_at"]),
                            "joined_at": parse_instant(raw["joined_at"]),
                            "updated_at": parse_instant(raw["updated_at"]),
                        }
                    )
                )
            self.keys = {k["credential_id"]: ApiKey(**k) for k in data.get("keys", [])}
            self.invite_log = {a: list(t) for a, t in data.get("invite_log", {}).items()}
            self.platform_invites = list(data.get("platform_invites", []))

    def snapshot(self) -> Store:
        """A deep copy with its own lock, for reset."""
        with self.lock:
            clone = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "lock"})
        store = Store()
        store.__dict__.update(clone)
        return store

    def restore(self, other: Store) -> None:
        """Become a deep copy of `other` (keeping this store's lock)."""
        with self.lock:
            clone = other.snapshot()
            for name, value in clone.__dict__.items():
                if name != "lock":
                    setattr(self, name, value)


@functools.lru_cache(maxsize=4096)
def format_instant(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with microseconds, so updated_at visibly moves forward (R5).

    Cached: a page of members formats four instants per member, and most of them (joined_at,
    created_at) never change; datetimes are immutable and equal only for the same instant.
    """
    if value is None:
        return None
    # isoformat pads the year to four digits, where strftime("%Y") would not below 1000.
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)


def _by(name: str) -> Any:
    return lambda obj: getattr(obj, name)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: format_instant(v) if isinstance(v, datetime) else v for k, v in data.items()}
