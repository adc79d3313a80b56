"""What the suite reads from the spec beside what Schemathesis generates from it."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from judge import spec as judge_spec
from openapi import load_api_spec

_SCHEMAS: dict[str, Any] = load_api_spec()["components"]["schemas"]

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
# Field lists the judge reads from the spec; here for the hooks that steer generation.
READ_ONLY_FIELDS = judge_spec.READ_ONLY_FIELDS
MEMBERSHIP_FIELDS = judge_spec.WRITABLE_FIELDS
