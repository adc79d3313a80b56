"""What the suite reads from the spec beside what Schemathesis generates from it."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from openapi import load_api_spec

_SCHEMAS: dict[str, Any] = load_api_spec()["components"]["schemas"]

ERROR_CODES: frozenset[str] = frozenset(_SCHEMAS["ErrorCode"]["enum"])
# `structured_data` limits that JSON Schema cannot state (R5's objects, 400 beyond them).
MAX_STRUCTURED_BYTES: int = _SCHEMAS["StructuredData"]["x-max-bytes"]
MAX_STRUCTURED_DEPTH: int = _SCHEMAS["StructuredData"]["x-max-depth"]
# Schemathesis judges generated data with jsonschema-rs (ECMA-262 regexes, not Python's `re`).
EMAIL = jsonschema_rs.validator_for(_SCHEMAS["Email"])
EMAIL_MAX_LENGTH: int = _SCHEMAS["Email"]["maxLength"]
# `format: date-time` admits instants the spec then excludes (year 0, a leap second, past 9999
# in UTC); a generated body carrying one is no valid request.
DATE_TIME = jsonschema_rs.validator_for(_SCHEMAS["DateTime"], validate_formats=True)
DATE_TIME_EXAMPLE: str = _SCHEMAS["DateTime"]["example"]
# R4: a Member's fields that PUT may not set (profile and read-only), `profile` itself included.
READ_ONLY_FIELDS: tuple[str, ...] = tuple(sorted(
    (set(_SCHEMAS["Member"]["properties"]) | set(_SCHEMAS["Profile"]["properties"])
     | set(_SCHEMAS["Membership"]["properties"]))
    - set(_SCHEMAS["MembershipUpdate"]["properties"]) - {"membership"}
))
MEMBERSHIP_FIELDS: tuple[str, ...] = tuple(_SCHEMAS["MembershipUpdate"]["properties"])
