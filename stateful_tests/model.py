"""A small model of two Avatars: who is an active member where, and what each answer must show.

Pure data and comparisons, no HTTP. The state machine keeps one `Model` per example, starts it
from the members listed before the run, changes it only as the contract says a successful answer
changes the server, and compares every answer and every listing with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

AVATARS = ("A", "B")
PROFILE_INPUT_FIELDS = ("name", "role", "expertise", "locale")
MEMBERSHIP_FIELDS = ("is_admin", "is_coach", "license_expires_at", "notes", "structured_data")
MEMBERSHIP_DEFAULTS: dict[str, Any] = {
    "is_admin": False,
    "is_coach": False,
    "license_expires_at": None,
    "notes": None,
    "structured_data": {},
}
# R4: a PUT carrying any of these answers 422 read_only_field and changes nothing.
PROFILE_FIELDS = ("name", "email", "role", "expertise", "locale", "profile")
READ_ONLY_FIELDS = (
    "user_id",
    "avatar_id",
    "status",
    "is_owner",
    "joined_at",
    "updated_at",
    "created_at",
)
PROTECTED_FIELDS = PROFILE_FIELDS + READ_ONLY_FIELDS
_PROFILE_KEYS = ("email", "name", "role", "expertise", "locale", "created_at")
_MEMBERSHIP_KEYS = (
    "avatar_id",
    "status",
    "is_owner",
    "is_admin",
    "is_coach",
    "license_expires_at",
    "notes",
    "structured_data",
    "joined_at",
    "updated_at",
)


def email_key(email: str) -> str:
    """R3: emails match after trimming, ignoring case."""
    return email.strip().casefold()


def instant(value: Any) -> datetime | None:
    """The instant an RFC 3339 date-time names (None for None): precision and offset are free."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r}")
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"a date-time without an offset: {value!r}")
    return parsed.astimezone(UTC)


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: key order is free, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def shape_problems(member: Any) -> list[str]:
    """What in a Member resource does not have the spec's shape (missing keys, wrong types)."""
    if not isinstance(member, dict):
        return [f"a member is not an object: {member!r}"]
    problems: list[str] = []
    if not isinstance(member.get("user_id"), str) or not member.get("user_id"):
        problems.append(f"user_id is {member.get('user_id')!r}")
    profile, membership = member.get("profile"), member.get("membership")
    if not isinstance(profile, dict) or not isinstance(membership, dict):
        return [*problems, "profile and membership must be objects"]
    problems += [f"profile.{k} is missing" for k in _PROFILE_KEYS if k not in profile]
    problems += [f"membership.{k} is missing" for k in _MEMBERSHIP_KEYS if k not in membership]
    if problems:
        return problems
    for name in ("name", "role", "expertise", "locale"):
        if profile[name] is not None and not isinstance(profile[name], str):
            problems.append(f"profile.{name} is {profile[name]!r}, not a string or null")
    if not isinstance(profile["email"], str):
        problems.append(f"profile.email is {profile['email']!r}")
    for name in ("is_owner", "is_admin", "is_coach"):
        if not isinstance(membership[name], bool):
            problems.append(f"membership.{name} is {membership[name]!r}, not a boolean")
    if membership["notes"] is not None and not isinstance(membership["notes"], str):
        problems.append(f"membership.notes is {membership['notes']!r}")
    if not isinstance(membership["structured_data"], dict):
        problems.append(f"membership.structured_data is {membership['structured_data']!r}")
    if membership["status"] != "active":
        problems.append(f"membership.status is {membership['status']!r}, not 'active'")
    stamps = [("profile", "created_at"), ("membership", "license_expires_at")]
    stamps += [("membership", "joined_at"), ("membership", "updated_at")]
    for part, name in stamps:
        value = member[part][name]
        if value is None and name == "license_expires_at":
            continue
        try:
            instant(value)
        except (ValueError, TypeError):
            problems.append(f"{part}.{name} is {value!r}, not an RFC 3339 date-time")
    return problems


@dataclass(frozen=True)
class Person:
    """A user's profile: one per person, shared by every Avatar (R2)."""

    user_id: str
    email: str
    name: str | None
    role: str | None
    expertise: str | None
    locale: str | None
    created_at: datetime | None

    @classmethod
    def seen(cls, member: dict[str, Any]) -> Person:
        profile = member["profile"]
        return cls(
            user_id=member["user_id"],
            email=profile["email"],
            name=profile["name"],
            role=profile["role"],
            expertise=profile["expertise"],
            locale=profile["locale"],
            created_at=instant(profile["created_at"]),
        )

    def differences(self, member: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Profile fields whose value differs: name -> (expected, seen)."""
        profile = member["profile"]
        found: dict[str, tuple[Any, Any]] = {}
        for name in ("email", "name", "role", "expertise", "locale"):
            if not same_json(getattr(self, name), profile.get(name)):
                found[name] = (getattr(self, name), profile.get(name))
        seen_created = _instant_or_raw(profile.get("created_at"))
        if self.created_at is not None and seen_created != self.created_at:
            found["created_at"] = (_show(self.created_at), profile.get("created_at"))
        return found


@dataclass(frozen=True)
class Seat:
    """One active membership: the relationship of a user to one Avatar."""

    is_owner: bool
    is_admin: bool
    is_coach: bool
    license_expires_at: datetime | None
    notes: str | None
    structured_data: dict[str, Any]
    joined_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def seen(cls, member: dict[str, Any]) -> Seat:
        m = member["membership"]
        return cls(
            is_owner=m["is_owner"],
            is_admin=m["is_admin"],
            is_coach=m["is_coach"],
            license_expires_at=instant(m["license_expires_at"]),
            notes=m["notes"],
            structured_data=m["structured_data"],
            joined_at=instant(m["joined_at"]),
            updated_at=instant(m["updated_at"]),
        )

    @classmethod
    def invited(cls, sent: dict[str, Any] | None) -> Seat:
        """The membership an invite creates: the fields sent, defaults for the rest."""
        values = {**MEMBERSHIP_DEFAULTS, **(sent or {})}
        return cls(
            is_owner=False,
            is_admin=values["is_admin"],
            is_coach=values["is_coach"],
            license_expires_at=instant(values["license_expires_at"]),
            notes=values["notes"],
            structured_data=values["structured_data"],
            joined_at=None,
            updated_at=None,
        )

    def changed(self, changes: dict[str, Any]) -> Seat:
        """R5: only the fields sent change; structured_data is replaced whole."""
        values = {name: changes[name] for name in MEMBERSHIP_FIELDS if name in changes}
        if "license_expires_at" in values:
            values["license_expires_at"] = instant(values["license_expires_at"])
        return replace(self, **values)

    def differences(self, member: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Membership fields whose value differs: name -> (expected, seen). None stamps: any."""
        m = member["membership"]
        found: dict[str, tuple[Any, Any]] = {}
        for name in ("is_owner", "is_admin", "is_coach", "notes", "structured_data"):
            if not same_json(getattr(self, name), m.get(name)):
                found[name] = (getattr(self, name), m.get(name))
        for name in ("license_expires_at", "joined_at", "updated_at"):
            expected = getattr(self, name)
            if name != "license_expires_at" and expected is None:
                continue  # a stamp the server sets; the model learns it from the answer
            if _instant_or_raw(m.get(name)) != expected:
                found[name] = (_show(expected), m.get(name))
        return found


def _instant_or_raw(value: Any) -> Any:
    try:
        return instant(value)
    except (ValueError, TypeError):
        return value


def _show(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


@dataclass
class Model:
    """What both Avatars should hold: people, active seats, and the seats removed here."""

    people: dict[str, Person] = field(default_factory=dict)
    seats: dict[str, dict[str, Seat]] = field(default_factory=dict)  # avatar -> user_id -> seat
    # avatar -> user id -> the seat as it was when removed: R14 covers removed memberships too
    removed: dict[str, dict[str, Seat]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)  # email_key -> user_id
    avatar_ids: dict[str, str] = field(default_factory=dict)  # "A" -> the server's avatar_id
    starting: dict[str, set[str]] = field(default_factory=dict)  # avatar -> members at start

    @classmethod
    def from_listings(cls, listings: dict[str, list[dict[str, Any]]]) -> Model:
        """The model of the members listed before the run (they are never written)."""
        model = cls()
        for avatar, members in listings.items():
            model.seats[avatar] = {}
            model.removed[avatar] = {}
            model.starting[avatar] = set()
            for member in members:
                person = Person.seen(member)
                model.people.setdefault(person.user_id, person)
                model.emails.setdefault(email_key(person.email), person.user_id)
                model.seats[avatar][person.user_id] = Seat.seen(member)
                model.starting[avatar].add(person.user_id)
                model.avatar_ids.setdefault(avatar, member["membership"]["avatar_id"])
        return model

    # -- questions ---------------------------------------------------------------------------

    @property
    def avatars(self) -> tuple[str, ...]:
        return tuple(self.seats)

    def other(self, avatar: str) -> str | None:
        return next((a for a in self.avatars if a != avatar), None)

    def is_active(self, avatar: str, user_id: str) -> bool:
        return user_id in self.seats[avatar]

    def is_starting_member(self, user_id: str) -> bool:
        return any(user_id in ids for ids in self.starting.values())

    def owner(self, avatar: str) -> str | None:
        return next((u for u, seat in self.seats[avatar].items() if seat.is_owner), None)

    def order(self, avatar: str) -> list[str]:
        """R10: the list order, (joined_at, user_id) ascending."""
        seats = self.seats[avatar]
        return sorted(
            seats, key=lambda u: (seats[u].joined_at or datetime.min.replace(tzinfo=UTC), u)
        )

    def user_by_email(self, email: str) -> str | None:
        return self.emails.get(email_key(email))

    def foreign_values(self, avatar: str, user_id: str) -> list[tuple[str, Any]]:
        """What the other Avatar keeps on this user, active or removed: never shown to `avatar`
        (R14). Pairs of (membership field, value)."""
        other = self.other(avatar)
        if other is None:
            return []
        values: list[tuple[str, Any]] = [("avatar_id", self.avatar_ids.get(other))]
        for seat in (self.seats[other].get(user_id), self.removed[other].get(user_id)):
            if seat is not None:
                values += [("notes", seat.notes), ("structured_data", seat.structured_data)]
        return values

    # -- changes (each only after the server answered success) ---------------------------------

    def join(self, avatar: str, member: dict[str, Any], sent_email: str) -> None:
        """An invite answered 201: the person (new or not) is now an active member here."""
        user_id = member["user_id"]
        if user_id not in self.people:
            self.people[user_id] = Person.seen(member)
            self.emails[email_key(sent_email)] = user_id
        self.seats[avatar][user_id] = Seat.seen(member)
        self.removed[avatar].pop(user_id, None)

    def update(self, avatar: str, user_id: str, member: dict[str, Any]) -> None:
        self.seats[avatar][user_id] = Seat.seen(member)

    def leave(self, avatar: str, user_id: str) -> None:
        """R6: only this Avatar's membership goes; the person and other seats stay."""
        self.removed[avatar][user_id] = self.seats[avatar].pop(user_id)
