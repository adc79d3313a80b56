"""Opaque cursors bound to one Avatar and one walk (R10).

A cursor names the last (joined_at, user_id) seen and when the walk began. Pages continue
strictly after that position, so no member appears twice and none that stayed active is
skipped; members who joined after the walk began (a re-invite included) are left out, so a
member removed and re-invited mid-walk cannot come round a second time. The Avatar id is in
the signature, so another Avatar's cursor fails verification.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from .errors import InvalidCursor


@dataclass(frozen=True)
class Position:
    joined_at: datetime
    user_id: str
    walk_started: datetime

    @property
    def after(self) -> tuple[datetime, str]:
        return (self.joined_at, self.user_id)


def encode(position: Position, avatar_id: str, secret: bytes) -> str:
    payload = json.dumps(
        [position.joined_at.isoformat(), position.user_id, position.walk_started.isoformat()],
        separators=(",", ":"),
    ).encode()
    return _b64(payload) + "." + _b64(_sign(payload, avatar_id, secret))


def decode(cursor: str, avatar_id: str, secret: bytes) -> Position:
    """The position in `cursor`; raises InvalidCursor unless this Avatar issued it."""
    if not cursor:
        raise InvalidCursor("must not be empty")
    try:
        payload_part, signature_part = cursor.split(".")
        payload = _unb64(payload_part)
        signature = _unb64(signature_part)
    except ValueError as exc:  # wrong shape or bad base64
        raise InvalidCursor("malformed") from exc
    if not hmac.compare_digest(signature, _sign(payload, avatar_id, secret)):
        raise InvalidCursor()
    joined_at, user_id, walk_started = json.loads(payload)
    return Position(
        datetime.fromisoformat(joined_at), user_id, datetime.fromisoformat(walk_started)
    )


def _sign(payload: bytes, avatar_id: str, secret: bytes) -> bytes:
    return hmac.new(secret, avatar_id.encode() + b"\0" + payload, hashlib.sha256).digest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
