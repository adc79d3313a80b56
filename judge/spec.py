"""Field lists, codes and limits the judgements need, read from the spec (never retyped)."""

from __future__ import annotations

from typing import Any

from openapi import load_api_spec

_SPEC = load_api_spec()
_SCHEMAS: dict[str, Any] = _SPEC["components"]["schemas"]
_HEADERS: dict[str, Any] = _SPEC["components"]["headers"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return _resolve(_SCHEMAS[ref.rsplit("/", 1)[-1]]) if ref else schema


ERROR_CODES: frozenset[str] = frozenset(_SCHEMAS["ErrorCode"]["enum"])

# R12: a problem detail's members and their JSON types.
_JSON_TYPES: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "array": list,
                                "object": dict}
PROBLEM_FIELDS: dict[str, type] = {
    name: _JSON_TYPES[_resolve(_SCHEMAS["Problem"]["properties"][name])["type"]]
    for name in _SCHEMAS["Problem"]["required"]
}

# The Member resource, as every answer shows it.
MEMBER_FIELDS: tuple[str, ...] = tuple(_SCHEMAS["Member"]["required"])
PROFILE_FIELDS: tuple[str, ...] = tuple(_SCHEMAS["Profile"]["required"])
MEMBERSHIP_FIELDS: tuple[str, ...] = tuple(_SCHEMAS["Membership"]["required"])
# What an invite may send in `profile`, and what a PUT (and an invite's `membership`) may set.
PROFILE_INPUT_FIELDS: tuple[str, ...] = tuple(_SCHEMAS["ProfileInput"]["properties"])
WRITABLE_FIELDS: tuple[str, ...] = tuple(_SCHEMAS["MembershipUpdate"]["properties"])
# R4: a Member's fields that PUT may not set (profile and read-only), `profile` itself included.
READ_ONLY_FIELDS: tuple[str, ...] = tuple(sorted(
    (set(_SCHEMAS["Member"]["properties"]) | set(_SCHEMAS["Profile"]["properties"])
     | set(MEMBERSHIP_FIELDS)) - set(WRITABLE_FIELDS) - {"membership"}
))
# Which fields hold a date-time: compared as instants, never as strings.
DATE_TIME_FIELDS: frozenset[str] = frozenset(
    name
    for schema in ("Profile", "Membership")
    for name, prop in _SCHEMAS[schema]["properties"].items()
    if _resolve(prop).get("format") == "date-time"
)


def _default(prop: dict[str, Any]) -> Any:
    """A field an invite leaves out: its `default`; else null where nullable; else empty."""
    schema = _resolve(prop)
    if "default" in prop or "default" in schema:
        return prop.get("default", schema.get("default"))
    if schema.get("nullable"):
        return None
    return {"object": {}, "array": []}[schema["type"]]


# What a fresh membership holds for each field its invite did not send (R2, R6).
MEMBERSHIP_DEFAULTS: dict[str, Any] = {
    name: _default(prop) for name, prop in _SCHEMAS["MembershipInput"]["properties"].items()
}

# R7: the per-Avatar limit's headers on an invite's answer, and their bounds.
_INVITE_HEADERS = _SPEC["paths"]["/users"]["post"]["responses"]["201"]["headers"]
RATE_LIMIT_HEADERS: tuple[str, ...] = tuple(h for h in _INVITE_HEADERS
                                            if h.lower().startswith("ratelimit-"))
RATE_LIMIT_RESET_MAX: int = _HEADERS["RateLimit-Reset"]["schema"]["maximum"]
RETRY_AFTER_MIN: int = _HEADERS["Retry-After"]["schema"]["minimum"]




def _problem_extension(name: str) -> tuple[int, str, int]:
    """(status, member, fewest items) of a problem kind that adds a list member (R12)."""
    extra = _SCHEMAS[name]["allOf"][1]
    (member,) = extra["required"]
    (status,) = extra["properties"]["status"]["enum"]
    return status, member, extra["properties"].get(member, {}).get("minItems", 0)


# R12: 400 adds `errors` (each a pointer and a message), 422 adds `fields`.
PROBLEM_LISTS: dict[int, tuple[str, int]] = {
    status: (member, fewest)
    for status, member, fewest in map(_problem_extension,
                                      ("InvalidRequestProblem", "ReadOnlyFieldProblem"))
}

# R12: the codes each status may carry, from the contract's table of error codes; the spec
# lists the codes (ErrorCode) but not which status each goes with.
CODES_BY_STATUS: dict[int, frozenset[str]] = {
    400: frozenset({"invalid_request", "invalid_cursor"}),
    401: frozenset({"unauthenticated"}),
    403: frozenset({"seat_limit_reached"}),
    404: frozenset({"user_not_found", "not_found"}),
    405: frozenset({"method_not_allowed"}),
    406: frozenset({"not_acceptable"}),
    408: frozenset({"request_timeout"}),
    409: frozenset({"already_member", "owner_protected"}),
    413: frozenset({"payload_too_large"}),
    414: frozenset({"uri_too_long"}),
    415: frozenset({"unsupported_media_type"}),
    422: frozenset({"read_only_field"}),
    429: frozenset({"invite_rate_limited", "invite_safety_cap_reached"}),
    500: frozenset({"internal_error"}),
}
LIMIT_CODES: frozenset[str] = CODES_BY_STATUS[429]
