"""A small model of two Avatars: who is an active member where, and what each answer must show.

Pure data and comparisons, no HTTP. The state machine keeps one `Model` per example, starts it
from the members listed before the run, changes it only as the contract says a successful answer
changes the server, and compares every answer and every listing with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from judge import Finding, finding_if
from judge.frame import shows_only_its_own
from judge.instants import instant, same_instant
from judge.members import member_shape, same
from judge.spec import (
    DATE_TIME_FIELDS,
    MEMBERSHIP_DEFAULTS,
    PROFILE_FIELDS,
    PROFILE_INPUT_FIELDS,
    READ_ONLY_FIELDS,
    WRITABLE_FIELDS,
)

AVATARS = ("A", "B")
MEMBERSHIP_FIELDS = WRITABLE_FIELDS
# R4: a PUT carrying any of these answers 422 read_only_field and changes nothing: the
# person's profile (and `profile` itself), and the fields only the server sets.
PROTECTED_FIELDS = READ_ONLY_FIELDS
PROFILE_PROTECTED = tuple(sorted((set(PROFILE_FIELDS) - DATE_TIME_FIELDS) | {"profile"}))
SERVER_SET_FIELDS = tuple(f for f in READ_ONLY_FIELDS if f not in PROFILE_PROTECTED)


def email_key(email: str) -> str:
    """R3: emails match after trimming, ignoring case."""
    return email.strip().casefold()


def shape_problems(member: Any) -> list[str]:
    """What in a Member resource does not have the spec's shape (the judge's findings)."""
    return [finding.message for finding in member_shape(member, "a member")]


def _stamp(value: Any) -> datetime | None:
    """A date-time the server answered (None for null), as an instant."""
    return None if value is None else instant(value)


def _stamp_differs(expected: datetime | None, seen: Any) -> bool:
    if expected is None:
        return seen is not None
    return not same_instant(_show(expected), seen)


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
            created_at=_stamp(profile["created_at"]),
        )

    def differences(self, member: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Profile fields whose value differs: name -> (expected, seen)."""
        profile = member["profile"]
        found: dict[str, tuple[Any, Any]] = {}
        for name in ("email", *PROFILE_INPUT_FIELDS):
            if not same(getattr(self, name), profile.get(name)):
                found[name] = (getattr(self, name), profile.get(name))
        if self.created_at is not None and _stamp_differs(self.created_at,
                                                          profile.get("created_at")):
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
            license_expires_at=_stamp(m["license_expires_at"]),
            notes=m["notes"],
            structured_data=m["structured_data"],
            joined_at=_stamp(m["joined_at"]),
            updated_at=_stamp(m["updated_at"]),
        )

    @classmethod
    def invited(cls, sent: dict[str, Any] | None) -> Seat:
        """The membership an invite creates: the fields sent, defaults for the rest."""
        values = {**MEMBERSHIP_DEFAULTS, **(sent or {})}  # the spec's defaults
        return cls(
            is_owner=False,
            is_admin=values["is_admin"],
            is_coach=values["is_coach"],
            license_expires_at=_stamp(values["license_expires_at"]),
            notes=values["notes"],
            structured_data=values["structured_data"],
            joined_at=None,
            updated_at=None,
        )

    def changed(self, changes: dict[str, Any]) -> Seat:
        """R5: only the fields sent change; structured_data is replaced whole."""
        values = {name: changes[name] for name in MEMBERSHIP_FIELDS if name in changes}
        if "license_expires_at" in values:
            values["license_expires_at"] = _stamp(values["license_expires_at"])
        return replace(self, **values)

    def differences(self, member: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Membership fields whose value differs: name -> (expected, seen). None stamps: any."""
        m = member["membership"]
        found: dict[str, tuple[Any, Any]] = {}
        for name in ("is_owner", "is_admin", "is_coach", "notes", "structured_data"):
            if not same(getattr(self, name), m.get(name)):
                found[name] = (getattr(self, name), m.get(name))
        for name in ("license_expires_at", "joined_at", "updated_at"):
            expected = getattr(self, name)
            if name != "license_expires_at" and expected is None:
                continue  # a stamp the server sets; the model learns it from the answer
            if _stamp_differs(expected, m.get(name)):
                found[name] = (_show(expected), m.get(name))
        return found


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

    # -- comparisons: what an answer must show ---------------------------------------------------

    def privacy(self, avatar: str, member: dict[str, Any], context: str) -> list[Finding]:
        """R14: nothing another Avatar keeps on the person; R1: this Avatar's id."""
        user_id = member["user_id"]
        own = self.seats[avatar].get(user_id)
        own_values: dict[str, Any] = {"avatar_id": self.avatar_ids.get(avatar)}
        if own is not None:
            own_values |= {"notes": own.notes, "structured_data": own.structured_data}
        foreign = [(name, value) for name, value in self.foreign_values(avatar, user_id)
                   if name in own_values]
        return shows_only_its_own(member, self.avatar_ids.get(avatar), own_values, foreign,
                                  f"{context}: key {avatar}, member {user_id}")

    def member_findings(self, avatar: str, member: Any, profile_rule: str,
                        membership_rule: str, context: str) -> list[Finding]:
        """The member as shown to `avatar` against the model: its shape (SPEC), privacy (R14,
        R1), the person's profile (`profile_rule`), this Avatar's seat (`membership_rule`)."""
        found = member_shape(member, context)
        if found:
            return found
        user_id = member["user_id"]
        found = self.privacy(avatar, member, context)
        changed = self.people[user_id].differences(member)
        found += finding_if(changed, profile_rule,
                            f"{context}: the profile of {user_id} is wrong: {changed}")
        changed = self.seats[avatar][user_id].differences(member)
        found += finding_if(changed, membership_rule, f"{context}: the membership of {user_id} "
                            f"is wrong (expected, seen): {changed}")
        return found

    def foreign_traces(self, avatar: str, user_id: str) -> list[tuple[str, str]]:
        """The texts another Avatar keeps on the person (its notes, its data's strings), which
        no answer to `avatar` may hold (R14)."""
        traces = []
        for name, value in self.foreign_values(avatar, user_id):
            texts = [value] if isinstance(value, str) else []
            if isinstance(value, Mapping):
                texts = [v for v in value.values() if isinstance(v, str)]
            traces += [(text, f"the other Avatar's {name}") for text in texts]
        return traces

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
