"""The spec itself: valid OpenAPI 3.0, examples that match their schemas, the contract's details."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate

from .conftest import ADMIN_SPEC, API_SPEC, spec_document

SPEC = spec_document(API_SPEC)

# The contract's error codes, by status (CONTRACT.md, "Error codes").
CODES_BY_STATUS = {
    400: {"invalid_request", "invalid_cursor"},
    401: {"unauthenticated"},
    403: {"seat_limit_reached"},
    404: {"user_not_found", "not_found"},
    405: {"method_not_allowed"},
    406: {"not_acceptable"},  # these three come before any operation (the spec's description)
    408: {"request_timeout"},
    414: {"uri_too_long"},
    409: {"already_member", "owner_protected"},
    413: {"payload_too_large"},
    415: {"unsupported_media_type"},
    422: {"read_only_field"},
    429: {"invite_rate_limited", "invite_safety_cap_reached"},
    500: {"internal_error"},
}
# Each operation's answers (CONTRACT.md, "Operations" and the rules).
STATUSES = {
    ("/users", "get"): {"200", "400", "401"},
    ("/users", "post"): {"201", "400", "401", "403", "409", "413", "415", "429"},
    ("/users/{user_id}", "get"): {"200", "401", "404"},
    ("/users/{user_id}", "put"): {"200", "400", "401", "404", "409", "413", "415", "422"},
    ("/users/{user_id}", "delete"): {"204", "401", "404", "409"},
}
RULE_IDS = [f"R{n}" for n in range(1, 15)]


def resolve(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """node with every local $ref replaced by its target (the specs have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/") and ref not in seen, ref
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(target, document, (*seen, ref))
        return {key: resolve(value, document, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, document, seen) for item in node]
    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options"}:
                yield path, method, operation


def examples_with_schemas(document: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(where, example value, schema) for every example of the spec, $refs resolved."""
    resolved = resolve(document, document)

    def walk(node: Any, where: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        if isinstance(node, dict):
            schema = node.get("schema")
            if isinstance(schema, dict):  # a media type, parameter or header
                if "example" in node:
                    yield where + "/example", node["example"], schema
                for name, example in (node.get("examples") or {}).items():
                    yield f"{where}/examples/{name}", example["value"], schema
            elif "example" in node:  # a schema with its own example
                yield where + "/example", node["example"], node
            for key, value in node.items():
                if key not in {"example", "examples"}:
                    yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{where}/{index}")

    yield from walk(resolved, "")


def validator(schema: dict[str, Any]) -> OAS30Validator:
    return OAS30Validator(schema, format_checker=oas30_format_checker)


# --- Valid OpenAPI ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [API_SPEC, ADMIN_SPEC], ids=lambda p: p.name)
def test_spec_is_valid_openapi_3_0(path: Path) -> None:
    # Given a spec of the project
    document = spec_document(path)
    # When openapi-spec-validator checks it
    # Then it is valid OpenAPI 3.0.3
    assert document["openapi"] == "3.0.3"
    validate(document)


@pytest.mark.parametrize("path", [API_SPEC, ADMIN_SPEC], ids=lambda p: p.name)
def test_spec_every_example_matches_its_schema(path: Path) -> None:
    # Given every example of the spec: of media types, parameters, headers and schemas
    document = spec_document(path)
    found = list(examples_with_schemas(document))
    assert found
    # When each is validated against its schema (OpenAPI 3.0 semantics, formats checked)
    failures = [
        f"{where}: {error.message}"
        for where, example, schema in found
        for error in validator(schema).iter_errors(example)
    ]
    # Then none fails
    assert failures == []


def test_spec_every_component_example_is_used_and_checked() -> None:
    # Given the component examples
    named = set(SPEC["components"].get("examples", {}))
    # When the spec is searched for references to them
    text = API_SPEC.read_text(encoding="utf-8")
    used = set(re.findall(r"#/components/examples/(\w+)", text))
    # Then each is referenced from a media type (and so checked above)
    assert named == used


def test_spec_problem_examples_carry_a_code_of_their_status() -> None:
    # Given every problem example of a response
    resolved = resolve(SPEC, SPEC)
    wrong = []
    for path, method, operation in operations(resolved):
        for status, response in operation["responses"].items():
            for media_type, content in response.get("content", {}).items():
                if media_type != "application/problem+json":
                    continue
                examples = [content.get("example")] + [
                    e["value"] for e in content.get("examples", {}).values()
                ]
                for example in filter(None, examples):
                    # Then its code belongs to the status, and its status is the response's
                    if example["code"] not in CODES_BY_STATUS[int(status)]:
                        wrong.append((path, method, status, example["code"]))
                    if example["status"] != int(status):
                        wrong.append((path, method, status, example["status"]))
    assert wrong == []


# --- The contract's details -------------------------------------------------------------


def test_spec_error_codes_are_exactly_the_contracts() -> None:
    # Given the ErrorCode enum
    codes = set(SPEC["components"]["schemas"]["ErrorCode"]["enum"])
    # Then it holds every code of the contract's table, and no other
    assert codes == set().union(*CODES_BY_STATUS.values())


def test_spec_each_operation_answers_the_contracts_statuses() -> None:
    # Given the five operations
    found = {(path, method): set(op["responses"]) for path, method, op in operations(SPEC)}
    # Then each documents exactly the contract's statuses
    assert found == STATUSES


def test_spec_every_error_answer_is_problem_json_with_x_request_id() -> None:
    # Given every response of every operation
    resolved = resolve(SPEC, SPEC)
    for path, method, operation in operations(resolved):
        for status, response in operation["responses"].items():
            where = (path, method, status)
            # Then each carries X-Request-Id (R12)
            assert "X-Request-Id" in response.get("headers", {}), where
            # And each error is application/problem+json with the Problem members (R12)
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], where
                schema = response["content"]["application/problem+json"]["schema"]
                required = set(schema.get("required", []))
                for part in schema.get("allOf", []):
                    required |= set(part.get("required", []))
                assert required >= {"type", "title", "status", "detail", "code", "request_id"}
                if status == "400":
                    assert "errors" in required, where
                if status == "422":
                    assert "fields" in required, where


def test_spec_headers_of_the_rules_are_required_where_they_apply() -> None:
    # Given the responses of the five operations
    resolved = resolve(SPEC, SPEC)
    responses = {
        (path, method, status): response
        for path, method, op in operations(resolved)
        for status, response in op["responses"].items()
    }

    def headers(key: tuple[str, str, str]) -> dict[str, Any]:
        return responses[key].get("headers", {})

    # Then 401 carries WWW-Authenticate (R13), 429 Retry-After >= 1 (R7)
    for key in responses:
        if key[2] == "401":
            assert headers(key)["WWW-Authenticate"]["required"] is True
        if key[2] == "429":
            assert headers(key)["Retry-After"]["required"] is True
            assert headers(key)["Retry-After"]["schema"]["minimum"] == 1
    # And the invite's 201 carries Location and RateLimit-* (R7)
    created = headers(("/users", "post", "201"))
    for name in ("Location", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert created[name]["required"] is True, name
    assert created["RateLimit-Reset"]["schema"]["maximum"] == 3600
    assert created["Location"]["schema"]["pattern"] == "^/v1beta/users/[^/]+$"
    # And the 429 carries RateLimit-* too
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert name in headers(("/users", "post", "429"))


@pytest.mark.parametrize("rule", RULE_IDS)
def test_spec_cites_every_rule(rule: str) -> None:
    # Given the spec's description and the rest of the spec
    text = API_SPEC.read_text(encoding="utf-8")
    cited = re.compile(rf"\b{rule}\b")
    # Then the rule is summarised in info.description and cited elsewhere too
    assert cited.search(SPEC["info"]["description"]), rule
    assert len(cited.findall(text)) >= 2, rule


def test_spec_servers_are_production_and_stage() -> None:
    assert [(s["url"], s["description"]) for s in SPEC["servers"]] == [
        ("https://api.maxgood.work/v1beta", "Production"),
        ("https://stageapi.maxgood.work/v1beta", "Stage"),
    ]
    assert set(SPEC["paths"]) == {"/users", "/users/{user_id}"}


def test_spec_security_is_the_avatar_api_key_bearer() -> None:
    scheme = SPEC["components"]["securitySchemes"]["AvatarApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert scheme["bearerFormat"] == "mgak_<credential_id>.<secret>"
    assert SPEC["security"] == [{"AvatarApiKey": []}]
    assert list(SPEC["components"]["securitySchemes"]) == ["AvatarApiKey"]


def test_spec_title_contact_and_license_are_phase_1s() -> None:
    info = SPEC["info"]
    assert info["title"] == "MaxGood.work Public BETA API"
    assert info["contact"] == {
        "name": "MaxGood.work BETA API support",
        "url": "https://discord.gg/UMGkK4ES",
    }
    assert info["license"]["name"] == "Proprietary — MaxGood.work Stability & Use Contract"
    assert "one week" in info["description"]


def test_spec_tag_is_written_with_an_em_dash() -> None:
    assert [tag["name"] for tag in SPEC["tags"]] == ["Users — membership"]
    for path, method, operation in operations(SPEC):
        assert operation["tags"] == ["Users — membership"], (path, method)


def test_spec_marks_its_assumptions() -> None:
    # Given the operations' descriptions
    text = API_SPEC.read_text(encoding="utf-8")
    # Then the project's own decisions are marked as assumptions to confirm
    assert text.count("**Assumption:**") >= 5


@pytest.mark.parametrize(
    ("schema", "field", "value"),
    [
        ("Name", "maxLength", 200),
        ("Role", "maxLength", 100),
        ("Expertise", "maxLength", 500),
        ("Locale", "maxLength", 35),
        ("Notes", "maxLength", 2000),
        ("StructuredData", "x-max-bytes", 8192),
        ("StructuredData", "x-max-depth", 8),
    ],
)
def test_spec_limits_are_the_contracts(schema: str, field: str, value: int) -> None:
    assert SPEC["components"]["schemas"][schema][field] == value


def test_spec_page_limit_is_1_to_100_default_25() -> None:
    limit = SPEC["components"]["parameters"]["Limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 25)


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        (
            "MembershipUpdate",
            {"is_admin", "is_coach", "license_expires_at", "notes", "structured_data"},
        ),
        (
            "MembershipInput",
            {"is_admin", "is_coach", "license_expires_at", "notes", "structured_data"},
        ),
        ("ProfileInput", {"name", "role", "expertise", "locale"}),
        ("InviteRequest", {"email", "profile", "membership"}),
    ],
)
def test_spec_request_bodies_are_closed_and_hold_only_what_the_contract_allows(
    schema: str, fields: set[str]
) -> None:
    # Given a request schema
    found = SPEC["components"]["schemas"][schema]
    # Then it admits exactly these fields and no others (R4; POST's unknown fields answer 400)
    assert set(found["properties"]) == fields
    assert found["additionalProperties"] is False
