"""Requests checked against the spec's own schemas, compiled once.

The schemas are taken from `openapi/v1beta.yaml` (never re-typed here), turned from OpenAPI 3.0
into JSON Schema (`nullable`, `$ref`), and compiled with jsonschema-rs at start-up: a check
costs microseconds, so validation stays on for every request. Limits the schema language cannot
say (the size and depth of `structured_data`) come from the spec's `x-max-*` extensions.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs

from openapi import load_api_spec

from .core.errors import FieldError, InvalidCursor, InvalidRequest, ReadOnlyField

DATE_TIME_FIELDS = ("license_expires_at",)
# A \uD800-\uDFFF escape: legal JSON, but alone (not in a pair) it is no Unicode text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class SpecSchemas:
    """Validators for the bodies and query of the v1beta operations, built from the spec."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec or load_api_spec()
        components = self.spec["components"]
        self._invite = self._compile(components["schemas"]["InviteRequest"])
        self._update = self._compile(components["schemas"]["MembershipUpdate"])
        self._limit = self._compile(components["parameters"]["Limit"]["schema"])
        self._cursor = self._compile(components["parameters"]["Cursor"]["schema"])
        self.default_limit: int = components["parameters"]["Limit"]["schema"]["default"]
        structured = components["schemas"]["StructuredData"]
        self.max_structured_bytes: int = structured["x-max-bytes"]
        self.max_structured_depth: int = structured["x-max-depth"]
        self.protected_fields = _protected_fields(components["schemas"])

    # -- bodies ---------------------------------------------------------------------------------

    def invite(self, body: Any) -> dict[str, Any]:
        """The InviteRequest, its date-times as UTC instants; raises InvalidRequest."""
        self._validate(self._invite, body, "The request body does not match InviteRequest.")
        membership = body.get("membership")
        if membership is not None:
            body = {**body, "membership": self._membership_fields(membership, "/membership")}
        return body

    def update(self, body: Any) -> dict[str, Any]:
        """The MembershipUpdate; raises ReadOnlyField (R4) before InvalidRequest."""
        if isinstance(body, dict):
            # R4: profile and read-only fields win over unknown ones, and are named.
            protected = [name for name in body if name in self.protected_fields]
            if protected:
                raise ReadOnlyField(protected)
        self._validate(self._update, body, "The request body does not match MembershipUpdate.")
        return self._membership_fields(body, "")

    # -- query ---------------------------------------------------------------------------------

    def list_query(self, limit: str | None, cursor: str | None) -> tuple[int, str | None]:
        """The page size and cursor of GET /users; raises InvalidRequest / InvalidCursor."""
        if cursor is not None and not self._cursor.is_valid(cursor):
            raise InvalidCursor("must be the next_cursor of a previous page")
        if limit is None:
            return self.default_limit, cursor
        # Leading zeros aside, more than three digits is over 100 whatever they are; int() of
        # thousands of digits would be slow, and past 4300 refused (ValueError).
        digits = (limit.lstrip("0") or "0") if limit.isascii() and limit.isdigit() else None
        value: object = int(digits) if digits is not None and len(digits) <= 3 else limit
        if not self._limit.is_valid(value):
            raise InvalidRequest(
                "The query parameter limit is invalid.",
                [FieldError("/limit", "must be a whole number from 1 to 100")],
            )
        return int(value), cursor  # type: ignore[arg-type]

    # -- helpers ---------------------------------------------------------------------------------

    def _membership_fields(self, fields: dict[str, Any], pointer: str) -> dict[str, Any]:
        result = dict(fields)
        if "structured_data" in result:
            self._check_structured_data(result["structured_data"], pointer + "/structured_data")
        for name in DATE_TIME_FIELDS:
            if result.get(name) is not None:
                result[name] = _instant(result[name], f"{pointer}/{name}")
        return result

    def _check_structured_data(self, data: dict[str, Any], pointer: str) -> None:
        if _depth(data) > self.max_structured_depth:
            raise InvalidRequest(
                "structured_data is nested too deeply.",
                [FieldError(pointer, f"deeper than {self.max_structured_depth} levels")],
            )
        size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        if size > self.max_structured_bytes:
            raise InvalidRequest(
                "structured_data is too large.",
                [
                    FieldError(
                        pointer, f"{size} bytes as compact JSON, over {self.max_structured_bytes}"
                    )
                ],
            )

    def _validate(self, validator: Any, body: Any, detail: str) -> None:
        errors = [
            FieldError(_pointer(error.instance_path, error.kind), error.message)
            for error in validator.iter_errors(body)
        ]
        if errors:
            raise InvalidRequest(detail, errors)

    def _compile(self, schema: dict[str, Any]) -> Any:
        return jsonschema_rs.Draft4Validator(
            to_json_schema(schema, self.spec), validate_formats=True
        )


def parse_json(raw: bytes) -> Any:
    """The JSON document in `raw`; raises InvalidRequest for anything else, never a 5xx.

    Refused besides malformed JSON: numbers that overflow to infinity (they would be answered
    as `Infinity`, which is not JSON) and lone UTF-16 surrogates (`"\\ud800"`: no UTF-8 can
    carry them, so every later answer holding one would fail with a 500).
    """
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 (byte {exc.start})"
    except RecursionError:
        message = "nested too deeply"
    except ValueError as exc:  # JSONDecodeError and the rejected constants
        message = str(exc).encode("ascii", "backslashreplace").decode()
    else:
        pointer = _lone_surrogate(value) if _SURROGATE_ESCAPE.search(text) else None
        if pointer is None:
            return value
        raise InvalidRequest(
            "The request body is not valid Unicode text.",
            [FieldError(pointer, "a lone UTF-16 surrogate escape is not a character")],
        )
    raise InvalidRequest("The request body is not valid JSON.", [FieldError("", message)])


def to_json_schema(schema: Any, spec: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: refs inlined, `nullable` as a null type."""
    if isinstance(schema, list):
        return [to_json_schema(item, spec) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return to_json_schema(_resolve(schema["$ref"], spec), spec)
    converted = {
        key: to_json_schema(value, spec)
        for key, value in schema.items()
        if key not in ("nullable", "example", "examples", "description")
    }
    if schema.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def _resolve(ref: str, spec: dict[str, Any]) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _protected_fields(schemas: dict[str, Any]) -> frozenset[str]:
    """R4: every field of a Member that PUT may not set (profile and read-only fields)."""
    visible = (
        set(schemas["Member"]["properties"])
        | set(schemas["Profile"]["properties"])
        | set(schemas["Membership"]["properties"])
    )
    # `membership` names no field of its own: sending it is an unknown field (400), not 422.
    return frozenset(visible - set(schemas["MembershipUpdate"]["properties"]) - {"membership"})


def _pointer(path: list[str | int], kind: Any) -> str:
    pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
    unexpected = getattr(kind, "unexpected", None)
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties) and unexpected:
        return f"{pointer}/{unexpected[0]}"
    return pointer


def _instant(text: str, pointer: str) -> datetime:
    """RFC 3339 with any offset, kept as the instant in UTC."""
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(
            "A date-time is out of range.", [FieldError(pointer, "not a representable instant")]
        ) from exc


def _depth(value: Any) -> int:
    """Levels of nested objects and arrays; a flat object is 1. Iterative: no recursion limit."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]} is too large")
    return number


def _lone_surrogate(value: Any) -> str | None:
    """The JSON Pointer of the first string or key holding a lone surrogate, if any."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                child_pointer = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
                if not _is_text(key):
                    return child_pointer.encode("utf-8", "backslashreplace").decode()
                stack.append((child, child_pointer))
        elif isinstance(node, list):
            stack.extend((child, f"{pointer}/{index}") for index, child in enumerate(node))
        elif isinstance(node, str) and not _is_text(node):
            return pointer
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
