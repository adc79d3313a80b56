"""Starting states: the default seed, a YAML seed file, or a dump of GET /_mock/state.

A seed describes Avatars (with their keys in clear) and users (with their memberships); a dump
is the whole state as the mock exports it (keys as hashes, removed memberships, invite logs,
the clock offset). Either loads through `--seed` or `--state`; anything else is a SeedError
with one line that says what is wrong, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from ulid import ULID

from .service import KEY_PREFIX, MEMBERSHIP_DEFAULTS
from .store import (
    ACTIVE,
    AVATAR_TYPES,
    REMOVED,
    ApiKey,
    Avatar,
    Membership,
    Store,
    User,
    hash_secret,
)

DEFAULT_SEED = Path(__file__).resolve().parent.parent / "seeds" / "default.yaml"


class SeedError(ValueError):
    """The seed file does not describe a valid starting state."""


@dataclass
class StartingState:
    """What a seed or dump starts the mock with."""

    store: Store
    clock_offset: float = 0.0


def load_seed(path: Path | str | None, email_key: Any) -> Store:
    """A Store holding the seed or dump at `path` (the default seed when None)."""
    return load_start(path, email_key).store


def load_start(path: Path | str | None, email_key: Any) -> StartingState:
    """The state a seed file or a state dump describes; raises SeedError naming the file."""
    where = Path(path or DEFAULT_SEED)
    data = read_document(where)
    try:
        if is_dump(data):
            return StartingState(store_from_dump(data, email_key),
                                 float(data.get("clock_offset") or 0.0))
        return StartingState(build_store(data, email_key))
    except SeedError as exc:
        raise SeedError(f"{where}: {exc}") from None
    except KeyError as exc:
        raise SeedError(f"{where}: a required field is missing: {exc.args[0]}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise SeedError(f"{where}: {_one_line(exc)}") from None


def read_document(path: Path) -> dict[str, Any]:
    """The mapping in a JSON or YAML file. JSON first: a dump may hold characters (C1
    controls such as U+0081) that JSON carries and the YAML reader refuses."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SeedError(f"{path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path}: not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected a mapping with avatars and users, not "
                        f"{type(data).__name__}")
    return data


def seed_keys(path: Path | str | None) -> list[tuple[str, str, str]]:
    """(avatar_id, type, key) of each key a seed file gives in clear; none for a dump."""
    data = read_document(Path(path or DEFAULT_SEED))
    if is_dump(data):
        return []
    return [(a["avatar_id"], a["type"], key) for a in data.get("avatars", [])
            for key in a.get("keys", [])]


def is_dump(data: dict[str, Any]) -> bool:
    """A dump lists memberships at the top; a seed nests them under each user."""
    return "memberships" in data


def store_from_dump(data: dict[str, Any], email_key: Any) -> Store:
    """A fresh Store holding an exported state, checked as a seed is (SeedError otherwise)."""
    store = Store()
    store.load(data, email_key)
    check_state(store)
    return store


def check_state(store: Store) -> None:
    """What every starting state must hold: references resolve, one user per email (R3),
    and exactly one active owner per Avatar (R9)."""
    if len(store.users_by_email) != len(store.users):
        raise SeedError("two users share one email (R3: one user per email)")
    for (avatar_id, user_id), membership in store.memberships.items():
        if avatar_id not in store.avatars:
            raise SeedError(f"a membership of {user_id} names an unknown Avatar {avatar_id}")
        if user_id not in store.users:
            raise SeedError(f"a membership in {avatar_id} names an unknown user {user_id}")
        if membership.status not in (ACTIVE, REMOVED):
            raise SeedError(f"{user_id} in {avatar_id}: unknown status {membership.status!r}")
    for key in store.keys.values():
        if key.avatar_id not in store.avatars:
            raise SeedError(f"key {key.credential_id} names an unknown Avatar {key.avatar_id}")
    for avatar in store.avatars.values():
        if avatar.type not in AVATAR_TYPES:
            raise SeedError(f"{avatar.avatar_id}: type must be one of {AVATAR_TYPES}")
        owners = [m for _, m in store.active_members(avatar.avatar_id) if m.is_owner]
        if len(owners) != 1:
            raise SeedError(
                f"{avatar.avatar_id}: an Avatar has exactly one owner, not {len(owners)}"
            )


def build_store(data: dict[str, Any], email_key: Any) -> Store:
    store = Store()
    for raw in data.get("avatars", []):
        avatar = Avatar(raw["avatar_id"], raw["name"], raw["type"])
        if avatar.type not in AVATAR_TYPES:
            raise SeedError(f"{avatar.avatar_id}: type must be one of {AVATAR_TYPES}")
        store.avatars[avatar.avatar_id] = avatar
        for key in raw.get("keys", []):
            add_key(store, avatar.avatar_id, key)
    for raw in data.get("users", []):
        created = _instant(raw.get("created_at"))
        user = User(
            user_id=raw.get("user_id") or f"usr_{ULID()}",
            email=raw["email"].strip(),
            name=raw.get("name"),
            role=raw.get("role"),
            expertise=raw.get("expertise"),
            locale=raw.get("locale"),
            created_at=created,
        )
        store.users[user.user_id] = user
        store.users_by_email[email_key(user.email)] = user.user_id
        for membership in raw.get("memberships", []):
            if membership["avatar_id"] not in store.avatars:
                raise SeedError(f"{user.email}: unknown Avatar {membership['avatar_id']}")
            joined = _instant(membership.get("joined_at")) if "joined_at" in membership else created
            fields = {k: v for k, v in membership.items() if k in MEMBERSHIP_DEFAULTS}
            # A former member (status: removed) is kept, as the service keeps a removed one (R6).
            status = membership.get("status", ACTIVE)
            if status not in (ACTIVE, REMOVED):
                raise SeedError(f"{user.email}: status must be {ACTIVE} or {REMOVED}")
            if fields.get("license_expires_at") is not None:
                fields["license_expires_at"] = _instant(fields["license_expires_at"])
            store.put_membership(
                Membership(
                    avatar_id=membership["avatar_id"],
                    user_id=user.user_id,
                    is_owner=bool(membership.get("is_owner", False)),
                    status=status,
                    joined_at=joined,
                    updated_at=joined,
                    **{**MEMBERSHIP_DEFAULTS, **fields},
                )
            )
    check_state(store)
    return store


def add_key(store: Store, avatar_id: str, api_key: str) -> ApiKey:
    """Register `api_key` (mgak_<credential_id>.<secret>) for the Avatar, keeping only its hash."""
    credential_id, dot, secret = api_key.removeprefix(KEY_PREFIX).partition(".")
    if not api_key.startswith(KEY_PREFIX) or not dot or not credential_id or not secret:
        raise SeedError(f"an API key has the form {KEY_PREFIX}<credential_id>.<secret>")
    key = ApiKey(credential_id, avatar_id, hash_secret(secret))
    store.keys[credential_id] = key
    return key


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).upper())


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
