"""`Prefer: code=NNN` (as Stoplight Prism reads it): the operation answers the contract's own
problem for that status, with its headers, and changes nothing.

So that a client's handling of a 429, a 403 `seat_limit_reached` or a 409 can be tested without
first driving the state there. The key is still checked (R13 holds whatever is preferred):
only `code=401` answers without one. A success status is served as usual; a status the
operation does not declare is refused with 400. Like the admin surface, off with --no-admin.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from flask import Flask, g, request

from openapi import API_PREFIX, load_api_spec

from ..core.errors import (
    AlreadyMember,
    ApiError,
    FieldError,
    InvalidRequest,
    InviteRateLimited,
    OwnerProtected,
    PayloadTooLarge,
    ReadOnlyField,
    SeatLimitReached,
    Unauthenticated,
    UnsupportedMediaType,
    UserNotFound,
)
from .state import get_state

PREFER_CODE = re.compile(r"(?:^|[,;]\s*)code\s*=\s*\"?(\d{3})\"?", re.IGNORECASE)
ASKED = "Answered as asked by Prefer: code={status}."

# The view of each operation, as the API blueprint names it, and its operationId.
ENDPOINTS = {
    "api.list_users": "listUsers",
    "api.invite_user": "inviteUser",
    "api.get_user": "getUser",
    "api.update_user": "updateUser",
    "api.remove_user": "removeUser",
}


class PreferredRateLimit(InviteRateLimited):
    """R7: a 429 carries Retry-After and RateLimit-*, here with no invite left."""

    def __init__(self, limit: int, reset: int) -> None:
        super().__init__(f"{ASKED.format(status=429)} No invite is left this hour.", reset)
        self.limit = limit

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "RateLimit-Limit": str(self.limit),
                "RateLimit-Remaining": "0", "RateLimit-Reset": str(self.retry_after)}


def _rate_limited() -> ApiError:
    window = get_state().service.rate_limit(g.avatar_for_prefer)
    # Until the oldest invite of the hour leaves the window; a minute if there is none.
    return PreferredRateLimit(window.limit, window.reset or 60)


# The problem each operation answers for each status (R7, R8, R9, R1, R4, R12, R13).
PROBLEMS: dict[int, Callable[[str], ApiError]] = {
    400: lambda op: InvalidRequest(ASKED.format(status=400),
                                   [FieldError("", "asked for by Prefer: code=400")]),
    401: lambda op: Unauthenticated(),
    403: lambda op: SeatLimitReached(
        f"{ASKED.format(status=403)} Every seat of this Avatar's type is taken."),
    404: lambda op: UserNotFound(),
    409: lambda op: AlreadyMember() if op == "inviteUser" else OwnerProtected(),
    413: lambda op: PayloadTooLarge(f"{ASKED.format(status=413)} The body is over the limit."),
    415: lambda op: UnsupportedMediaType(),
    422: lambda op: ReadOnlyField(["email"]),
    429: lambda op: _rate_limited(),
}


@functools.cache
def declared_statuses() -> dict[str, frozenset[int]]:
    """operationId -> the statuses the spec declares for it."""
    found: dict[str, frozenset[int]] = {}
    for item in load_api_spec()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = frozenset(
                    int(s) for s in operation["responses"] if s.isdigit())
    return found


def init_app(app: Flask) -> None:
    app.before_request(answer_as_preferred)


def answer_as_preferred() -> None:
    """Raise the preferred problem for an API operation, before the view can change anything."""
    prefer = request.environ.get("HTTP_PREFER")
    if not prefer or not request.path.startswith(API_PREFIX):
        return
    match = PREFER_CODE.search(prefer)
    operation = ENDPOINTS.get(request.endpoint or "")
    if match is None or operation is None:
        return
    status = int(match.group(1))
    declared = declared_statuses()[operation]
    if status not in declared:
        answers = ", ".join(str(s) for s in sorted(declared))
        raise InvalidRequest(
            f"Prefer: code={status}: {operation} answers only {answers}.",
            [FieldError("/headers/Prefer", f"{operation} does not answer {status}")],
        )
    if 200 <= status < 300:
        return  # the success is served as usual
    if status != 401:
        # R13 first, as for any request; and R7: an invite's answer carries RateLimit-*
        avatar_id = get_state().service.authenticate(request.headers.get("Authorization"),
                                                     operation)
        g.avatar_for_prefer = avatar_id
        if operation == "inviteUser" and status != 429:
            g.rate_limited_avatar = avatar_id
    raise PROBLEMS[status](operation)
