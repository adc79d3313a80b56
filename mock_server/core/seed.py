"""Starting states: the default seed, or a YAML file describing Avatars, users and keys."""

from __future__ import annotations

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


def load_seed(path: Path | str | None, email_key: Any) -> Store:
    """A Store holding the seed at `path` (the default seed when None)."""
    data = yaml.safe_load(Path(path or DEFAULT_SEED).read_text(encoding="utf-8"))
    return build_store(data, email_key)


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
    for avatar_id in store.avatars:
        owners = [m for m in store.active_members(avatar_id) if m[1].is_owner]
        if len(owners) != 1:
            raise SeedError(f"{avatar_id}: an Avatar has exactly one owner, not {len(owners)}")
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
