"""Every refusal the API can give, as one exception hierarchy mapped to HTTP in one place.

ApiError
 ├── InvalidRequest            400 invalid_request   (+ errors[])
 │    └── InvalidCursor        400 invalid_cursor    (R10)
 ├── Unauthenticated           401 unauthenticated   (R13, + WWW-Authenticate)
 ├── SeatLimitReached          403 seat_limit_reached (R7)
 ├── NotFound                  404 not_found         (no such path)
 │    └── UserNotFound         404 user_not_found    (R1)
 ├── MethodNotAllowed          405 method_not_allowed (+ Allow)
 ├── NotAcceptable             406 not_acceptable    (Accept names neither JSON type)
 ├── RequestTimeout            408 request_timeout   (the body did not arrive in time)
 ├── AlreadyMember             409 already_member    (R8)
 ├── OwnerProtected            409 owner_protected   (R9)
 ├── PayloadTooLarge           413 payload_too_large
 ├── UriTooLong                414 uri_too_long
 ├── UnsupportedMediaType      415 unsupported_media_type
 ├── ReadOnlyField             422 read_only_field   (R4, + fields[])
 ├── TooManyInvites            429                   (R7, + Retry-After)
 │    ├── InviteRateLimited    429 invite_rate_limited
 │    └── InviteSafetyCapReached 429 invite_safety_cap_reached
 ├── InternalError             500 internal_error
 └── ServiceUnavailable        503 service_unavailable (+ Retry-After; the mock's chaos only)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

INVALID_REQUEST = "invalid_request"
INVALID_CURSOR = "invalid_cursor"
UNAUTHENTICATED = "unauthenticated"
SEAT_LIMIT_REACHED = "seat_limit_reached"
NOT_FOUND = "not_found"
USER_NOT_FOUND = "user_not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
NOT_ACCEPTABLE = "not_acceptable"
REQUEST_TIMEOUT = "request_timeout"
ALREADY_MEMBER = "already_member"
OWNER_PROTECTED = "owner_protected"
PAYLOAD_TOO_LARGE = "payload_too_large"
URI_TOO_LONG = "uri_too_long"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
READ_ONLY_FIELD = "read_only_field"
INVITE_RATE_LIMITED = "invite_rate_limited"
INVITE_SAFETY_CAP_REACHED = "invite_safety_cap_reached"
INTERNAL_ERROR = "internal_error"
SERVICE_UNAVAILABLE = "service_unavailable"


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with a request: a JSON Pointer into the body (or /limit, /cursor)."""

    pointer: str
    message: str


class ApiError(Exception):
    """A refusal: an HTTP status, a stable code, a title, and a human detail."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = INTERNAL_ERROR
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, object]:
        """Members added to the problem body beyond the RFC 9457 ones."""
        return {}

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(ApiError):
    status, code, title = 400, INVALID_REQUEST, "Invalid request"

    def __init__(self, detail: str, errors: list[FieldError]) -> None:
        super().__init__(detail)
        self.errors = errors

    def extensions(self) -> dict[str, object]:
        return {"errors": [{"pointer": e.pointer, "message": e.message} for e in self.errors]}


class InvalidCursor(InvalidRequest):
    code, title = INVALID_CURSOR, "Invalid cursor"

    def __init__(self, message: str = "not a cursor issued to this Avatar") -> None:
        super().__init__(
            "The cursor is empty, malformed or was not issued to this Avatar.",
            [FieldError("/cursor", message)],
        )


class Unauthenticated(ApiError):
    status, code, title = 401, UNAUTHENTICATED, "Unauthenticated"

    def __init__(self, detail: str = "A valid Avatar API key is required.") -> None:
        super().__init__(detail)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="maxgood.work"'}


class SeatLimitReached(ApiError):
    status, code, title = 403, SEAT_LIMIT_REACHED, "Seat limit reached"


class NotFound(ApiError):
    status, code, title = 404, NOT_FOUND, "Not found"


class UserNotFound(NotFound):
    code, title = USER_NOT_FOUND, "User not found"

    def __init__(self) -> None:
        # R1/R14: one answer whatever the reason, so nothing tells other Avatars' users apart.
        super().__init__("No active member of this Avatar has this user id.")


class MethodNotAllowed(ApiError):
    status, code, title = 405, METHOD_NOT_ALLOWED, "Method not allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Allowed here: {', '.join(allowed)}.")
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class NotAcceptable(ApiError):
    status, code, title = 406, NOT_ACCEPTABLE, "Not acceptable"

    def __init__(self) -> None:
        super().__init__("Answers are application/json or application/problem+json.")


class RequestTimeout(ApiError):
    status, code, title = 408, REQUEST_TIMEOUT, "Request timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request did not arrive whole within {seconds:g} s.")


class AlreadyMember(ApiError):
    status, code, title = 409, ALREADY_MEMBER, "Already a member"

    def __init__(self) -> None:
        super().__init__("This user is already an active member of this Avatar.")


class OwnerProtected(ApiError):
    status, code, title = 409, OWNER_PROTECTED, "Owner protected"

    def __init__(self) -> None:
        super().__init__("The Avatar's owner cannot be removed or lose is_admin.")


class PayloadTooLarge(ApiError):
    status, code, title = 413, PAYLOAD_TOO_LARGE, "Payload too large"


class UriTooLong(ApiError):
    status, code, title = 414, URI_TOO_LONG, "URI too long"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request target is over {limit} bytes.")


class UnsupportedMediaType(ApiError):
    status, code, title = 415, UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"

    def __init__(self) -> None:
        super().__init__("Send the body as application/json.")


class ReadOnlyField(ApiError):
    status, code, title = 422, READ_ONLY_FIELD, "Read-only field"

    def __init__(self, fields: list[str]) -> None:
        super().__init__(
            "PUT changes the membership only; these fields cannot be set: "
            + ", ".join(fields)
            + "."
        )
        self.fields = fields

    def extensions(self) -> dict[str, object]:
        return {"fields": self.fields}


class TooManyInvites(ApiError):
    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InviteRateLimited(TooManyInvites):
    code, title = INVITE_RATE_LIMITED, "Invite rate limited"


class InviteSafetyCapReached(TooManyInvites):
    code, title = INVITE_SAFETY_CAP_REACHED, "Invite safety cap reached"


class InternalError(ApiError):
    def __init__(self) -> None:
        super().__init__("The server failed to answer this request.")


class ServiceUnavailable(ApiError):
    """An outage the mock simulates on request (chaos), never one of its own."""

    status, code, title = 503, SERVICE_UNAVAILABLE, "Service unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__("The service is briefly unavailable; retry after Retry-After seconds.")
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
