"""Bad input at the HTTP edge: never a 5xx, always a problem detail, never a change of state."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.target import EMBEDDED_KEY_A, EMBEDDED_KEY_B

from .conftest import (
    API_PREFIX,
    NEVER_ISSUED_ID,
    Admin,
    Api,
    assert_refused,
    check_every_answer_rules,
    make_app,
)

MAX_BODY = 64 * 1024


def compact_size(value: Any) -> int:
    """Bytes of a JSON value as compact UTF-8 JSON, the measure of structured_data."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def nested(depth: int) -> dict[str, Any]:
    """An object `depth` levels deep, the object itself being level 1."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


def send_membership_field(
    api: Api, seed: Any, operation: str, name: str, value: Any
) -> tuple[Any, str]:
    """Send one membership field in a new invite or in an update of the shared member; the
    answer, and the JSON pointer of the field in the body sent."""
    if operation == "invite":
        return api.invite("field@example.com", membership={name: value}), f"/membership/{name}"
    return api.put(seed.shared_id, {name: value}), f"/{name}"


# --- Date-times: RFC 3339, and the instants the spec accepts -----------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00"),
        ("0001-01-01T00:00:00-00:30", "0001-01-01T00:30:00"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999"),
        ("9999-12-31T23:59:59+14:00", "9999-12-31T09:59:59"),
        ("2027-06-30t12:00:00z", "2027-06-30T12:00:00"),
        ("2027-06-30T12:00:00.123456789+02:00", "2027-06-30T10:00:00.123456"),
    ],
)
def test_every_instant_from_year_1_to_9999_is_accepted_and_kept_in_utc(
    api_a: Api, seed: Any, value: str, stored: str
) -> None:
    answer = api_a.put(seed.shared_id, {"license_expires_at": value})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.json["membership"]["license_expires_at"].startswith(stored)


@pytest.mark.parametrize(
    "value",
    [
        "0000-12-31T23:59:59Z",  # year 0
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "2026-12-31T23:59:60Z",  # a leap second
    ],
)
@pytest.mark.parametrize("operation", ["invite", "update"])
def test_a_date_time_the_format_admits_but_the_spec_excludes_answers_400(
    api_a: Api, admin: Admin, seed: Any, value: str, operation: str
) -> None:
    state = admin.state()
    answer, pointer = send_membership_field(api_a, seed, operation, "license_expires_at", value)
    errors = assert_refused(answer, 400, "invalid_request")["errors"]
    assert [e["pointer"] for e in errors] == [pointer]
    admin.assert_unchanged(state)


# --- Malformed JSON ---------------------------------------------------------------------

MALFORMED = [
    b"",
    b"{",
    b"{'email': 'single@example.com'}",
    b'{"email": "a@example.com",}',
    b'{"email": "a@example.com"} trailing',
    b"\xff\xfe{\x00}\x00",
    b'{"email": "caf\xe9@example.com"}',  # Latin-1, not UTF-8
    b'{"email": "a@example.com", "membership": {"structured_data": {"x": NaN}}}',
    b'{"email": "a@example.com", "membership": {"structured_data": {"x": Infinity}}}',
    b"[" * 50_000,  # deep enough to break a recursive parser
    b"null",
    b"[]",
    b'"a@example.com"',
    b"42",
]


@pytest.mark.parametrize("body", MALFORMED, ids=lambda b: repr(b[:30]))
@pytest.mark.parametrize("operation", ["invite", "update"])
def test_malformed_json_answers_400_invalid_request_and_changes_nothing(
    api_a: Api, admin: Admin, seed: Any, operation: str, body: bytes
) -> None:
    # Given the seeded state
    state = admin.state()
    # When a body that is not a valid JSON object of the operation is sent
    method, path = (
        ("POST", "/users") if operation == "invite" else ("PUT", f"/users/{seed.shared_id}")
    )
    answer = api_a.call(method, path, data=body, content_type="application/json")
    # Then it answers 400 invalid_request (never a 5xx), and nothing changed
    assert_refused(answer, 400, "invalid_request")
    admin.assert_unchanged(state)


# --- Media types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"],
)
@pytest.mark.parametrize("operation", ["invite", "update"])
def test_a_body_that_is_not_json_answers_415_unsupported_media_type(
    api_a: Api, admin: Admin, seed: Any, operation: str, content_type: str | None
) -> None:
    # Given the seeded state
    state = admin.state()
    # When a valid JSON body is sent with a content type that is not JSON, or none
    method, path, body = (
        ("POST", "/users", {"email": "typed@example.com"})
        if operation == "invite"
        else ("PUT", f"/users/{seed.shared_id}", {"notes": "typed"})
    )
    answer = api_a.call(method, path, data=json.dumps(body), content_type=content_type)
    # Then it answers 415 unsupported_media_type, and nothing changed
    assert_refused(answer, 415, "unsupported_media_type")
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"],
)
def test_json_with_parameters_or_another_case_is_json(api_a: Api, content_type: str) -> None:
    # Given an invite body
    # When it is sent as application/json with a charset, or in another case
    answer = api_a.call(
        "POST", "/users", data=json.dumps({"email": "cs@example.com"}), content_type=content_type
    )
    # Then it is accepted
    assert answer.status_code == 201


# --- Body size --------------------------------------------------------------------------


def padded(body: dict[str, Any], size: int) -> bytes:
    """The JSON body padded with trailing whitespace to exactly size bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


@pytest.mark.parametrize("operation", ["invite", "update"])
def test_a_body_of_exactly_64_kib_is_read_and_one_byte_more_answers_413(
    api_a: Api, admin: Admin, seed: Any, operation: str
) -> None:
    # Given a valid body padded to exactly 64 KiB
    method, path, body = (
        ("POST", "/users", {"email": "big@example.com"})
        if operation == "invite"
        else ("PUT", f"/users/{seed.shared_id}", {"notes": "big"})
    )
    # When it is sent one byte too large
    state = admin.state()
    too_large = api_a.call(
        method, path, data=padded(body, MAX_BODY + 1), content_type="application/json"
    )
    # Then it answers 413 payload_too_large, and nothing changed
    assert_refused(too_large, 413, "payload_too_large")
    admin.assert_unchanged(state)
    # When it is sent at exactly the limit
    fits = api_a.call(method, path, data=padded(body, MAX_BODY), content_type="application/json")
    # Then it is read
    assert fits.status_code in (200, 201)


@pytest.mark.mock_config(max_body_bytes=1024)
def test_the_body_limit_is_configurable(api_a: Api) -> None:
    # Given a mock with a 1 KiB body limit
    # When a 1025-byte invite is sent
    answer = api_a.call(
        "POST",
        "/users",
        data=padded({"email": "k@example.com"}, 1025),
        content_type="application/json",
    )
    # Then it answers 413
    assert_refused(answer, 413, "payload_too_large")


def test_a_huge_body_that_is_not_json_answers_413_or_415(api_a: Api, admin: Admin) -> None:
    # Given the seeded state
    state = admin.state()
    # When a megabyte of text is sent (which of 413 and 415 wins may differ)
    answer = api_a.call("POST", "/users", data=b"x" * (1 << 20), content_type="text/plain")
    # Then it is refused with either, and nothing changed
    assert answer.status_code in (413, 415)
    admin.assert_unchanged(state)


# --- structured_data limits -------------------------------------------------------------


@pytest.mark.parametrize(
    ("structured_data", "accepted"),
    [
        (nested(8), True),
        (nested(9), False),
        ({"list": [[[[[[["seven levels below the object"]]]]]]]}, True),
        ({"list": [[[[[[[["eight levels below the object"]]]]]]]]}, False),
        ({"k": "x" * (8192 - compact_size({"k": ""}))}, True),
        ({"k": "x" * (8193 - compact_size({"k": ""}))}, False),
        ({"k": "é" * ((8192 - compact_size({"k": ""})) // 2)}, True),  # 2 bytes each in UTF-8
        ({"k": "é" * ((8192 - compact_size({"k": ""})) // 2 + 1)}, False),
    ],
    ids=[
        "depth-8",
        "depth-9",
        "array-depth-8",
        "array-depth-9",
        "8192-bytes",
        "8193-bytes",
        "8192-bytes-utf8",
        "8194-bytes-utf8",
    ],
)
@pytest.mark.parametrize("operation", ["invite", "update"])
def test_structured_data_deeper_than_8_or_larger_than_8_kib_answers_400(
    api_a: Api,
    admin: Admin,
    seed: Any,
    operation: str,
    structured_data: dict[str, Any],
    accepted: bool,
) -> None:
    # Given structured_data at or just over a limit
    state = admin.state()
    # When it is sent in an invite or an update
    answer, pointer = send_membership_field(
        api_a, seed, operation, "structured_data", structured_data
    )
    # Then at the limit it is stored whole; over it, 400 pointing at it and nothing changed
    if accepted:
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)[:300]
        shown = answer.json["member"] if operation == "invite" else answer.json
        assert shown["membership"]["structured_data"] == structured_data
    else:
        errors = assert_refused(answer, 400, "invalid_request")["errors"]
        assert any(e["pointer"].startswith(pointer) for e in errors), errors
        admin.assert_unchanged(state)


# --- Odd Unicode ------------------------------------------------------------------------

ODD_TEXT = [
    "🦄 Unicorn Üñíçødé",
    "مريم الحسيني",  # right to left
    "\u202eevil\u202c override",  # bidi controls
    "e\u0301\u0301 combining",
    "zero\u200bwidth",
    "NUL \u0000 inside",
    "𝕳𝖎𝖌𝖍 plane",
    "\ufeffBOM first",
]


@pytest.mark.parametrize("text", ODD_TEXT, ids=lambda t: t.encode("unicode_escape").decode()[:20])
def test_odd_unicode_round_trips_exactly(api_a: Api, text: str) -> None:
    # Given text with emoji, right-to-left script, controls or NUL
    # When it is sent as a name, notes and structured data
    answer = api_a.invite(
        "unicode@example.com",
        profile={"name": text},
        membership={"notes": text, "structured_data": {text: [text]}},
    )
    # Then it is stored and answered exactly as sent (or refused as 400, never a 5xx)
    assert answer.status_code in (201, 400)
    if answer.status_code == 201:
        member = api_a.get(answer.json["member"]["user_id"]).json
        assert member["profile"]["name"] == text
        assert member["membership"]["notes"] == text
        assert member["membership"]["structured_data"] == {text: [text]}


def test_a_lone_surrogate_is_refused_or_kept_never_a_5xx(api_a: Api) -> None:
    # Given notes holding an escaped lone surrogate (grammatical JSON, but no Unicode text)
    body = b'{"email": "surrogate@example.com", "membership": {"notes": "a\\ud800b"}}'
    # When it is sent
    with api_a.client.unchecked():
        answer = api_a.call("POST", "/users", data=body, content_type="application/json")
        listed = api_a.list(limit=100)
    # Then it is refused as 400 or stored, and A's list still answers
    assert answer.status_code in (201, 400), answer.status_code
    assert listed.status_code == 200, f"the list answers {listed.status_code} afterwards"


def test_a_long_name_counts_characters_not_bytes(api_a: Api) -> None:
    # Given a name of 200 emoji (800 bytes in UTF-8)
    # When it is sent
    answer = api_a.invite("emoji@example.com", profile={"name": "🦄" * 200})
    # Then it fits the 200-character limit
    assert answer.status_code == 201


@pytest.mark.parametrize(
    "email",
    ["name+tag@sub.example.com", "o'brien@example.ie", "x@example.co.uk", "first.last@example.com"],
)
def test_ordinary_addresses_are_accepted(api_a: Api, email: str) -> None:
    # Given an ordinary address
    # When it is invited
    # Then it is accepted as sent
    assert api_a.invite_ok(email)["member"]["profile"]["email"] == email


# --- Unknown paths and methods ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta",  # ("/" leads to the docs page)
        "/v1beta/",
        "/v1beta/members",
        "/v1beta/users/",
        f"/v1beta/users/{NEVER_ISSUED_ID}/memberships",
        "/v2/users",
        "/v1beta/users/%00",
        "/favicon.ico",
    ],
)
def test_unknown_paths_answer_404_not_found(api_a: Api, admin: Admin, path: str) -> None:
    # Given the seeded state
    state = admin.state()
    # When a path the API does not have is asked for, with a valid key
    answer = api_a.client.get(path, headers={"Authorization": f"Bearer {api_a.key}"})
    # Then it answers 404 not_found as a problem detail, and nothing changed
    if path == "/v1beta/users/%00":
        assert answer.status_code == 404  # an id no member has: user_not_found also fits
    else:
        assert_refused(answer, 404, "not_found")
    admin.assert_unchanged(state)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/v1beta/users", {"GET", "POST"}),
        ("PUT", "/v1beta/users", {"GET", "POST"}),
        ("DELETE", "/v1beta/users", {"GET", "POST"}),
        ("PATCH", f"/v1beta/users/{NEVER_ISSUED_ID}", {"GET", "PUT", "DELETE"}),
        ("POST", f"/v1beta/users/{NEVER_ISSUED_ID}", {"GET", "PUT", "DELETE"}),
    ],
)
def test_unknown_methods_answer_405_method_not_allowed_with_allow(
    api_a: Api, admin: Admin, method: str, path: str, allowed: set[str]
) -> None:
    # Given the seeded state
    state = admin.state()
    # When a method the path does not have is used
    answer = api_a.client.open(
        path,
        method=method,
        json={"notes": "x"},
        headers={"Authorization": f"Bearer {api_a.key}"},
    )
    # Then it answers 405 method_not_allowed, Allow naming the path's methods, nothing changed
    assert_refused(answer, 405, "method_not_allowed")
    offered = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert allowed <= offered
    assert method not in offered
    admin.assert_unchanged(state)


def test_an_unknown_user_id_of_odd_shape_answers_404(api_a: Api) -> None:
    # Given ids no member has: too long, odd characters
    for user_id in ["u" * 65, "usr_%F0%9F%A6%84", "..", "usr_01%20x"]:
        # When A reads them
        # Then each answers 404 user_not_found
        assert_refused(api_a.get(user_id), 404, "user_not_found")


# --- Before any operation: Accept, the target's length, slashes, empty answers ------------


def refused_before_any_operation(response: Any, status: int, code: str) -> None:
    """A refusal the spec lists for every path (its description), not per operation: the
    rules of every answer hold (R12), and it is the one named."""
    check_every_answer_rules(response)
    assert (response.status_code, response.json["code"]) == (status, code)


@pytest.mark.parametrize(
    "accept",
    [
        "application/xml",
        "text/html",
        "text/*",
        "application/json;q=0",
        "application/json;q=0, application/problem+json;q=0",
        "image/png, text/csv;q=0.5",
        "@@@",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/users"), ("DELETE", "/users/u")])
def test_an_accept_the_api_cannot_satisfy_answers_406_and_changes_nothing(
    api_a: Api, admin: Admin, client: Any, accept: str, method: str, path: str
) -> None:
    # Given the seeded state
    before = admin.state()
    # When a request accepts neither JSON nor problem+json
    with client.unchecked():
        answer = api_a.call(method, path, headers={"Accept": accept})
    # Then it answers 406 not_acceptable as a problem detail, and nothing changed (R11)
    refused_before_any_operation(answer, 406, "not_acceptable")
    admin.assert_unchanged(before)


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "*/*",
        "application/*",
        "application/json",
        "application/problem+json",
        "APPLICATION/JSON; charset=utf-8",
        "text/html, application/xhtml+xml, */*;q=0.8",
        "application/xml, application/json;q=0.1",
    ],
)
def test_an_accept_that_admits_json_is_answered(api_a: Api, accept: str) -> None:
    answer = api_a.call("GET", "/users", headers={"Accept": accept} if accept else None)
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"


def test_a_204_carries_no_content_type(api_a: Api, seed: Any) -> None:
    # When the shared member is removed
    answer = api_a.delete(seed.shared_id)
    # Then the 204 has no body and says no type for it
    assert answer.status_code == 204
    assert answer.get_data() == b""
    assert "Content-Type" not in answer.headers


@pytest.mark.parametrize("path", ["/v1beta//users", "//v1beta/users", "/v1beta/users//x"])
def test_a_double_slash_is_no_path_never_a_redirect(client: Any, admin: Admin, path: str) -> None:
    before = admin.state()
    with client.unchecked():  # openapi-core finds no server for such a path
        answer = client.get(path, headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}"})
    refused_before_any_operation(answer, 404, "not_found")
    admin.assert_unchanged(before)


@pytest.mark.parametrize(
    "limit",
    ["9" * 4301, "1" * 5000, "0" * 3000 + "1" * 4301, "0" * 8000 + "101"],
    ids=["4301 nines", "5000 ones", "zeros then 4301 ones", "8000 zeros then 101"],
)
def test_a_limit_of_thousands_of_digits_answers_400(api_a: Api, limit: str) -> None:
    # Python's int() refuses more than 4300 digits: once a 500 internal_error
    errors = assert_refused(api_a.list(limit=limit), 400, "invalid_request")["errors"]
    assert [error["pointer"] for error in errors] == ["/limit"]


@pytest.mark.parametrize(
    ("limit", "size"), [("0" * 5000 + "1", 1), ("0001", 1), ("02", 2)], ids=["5001", "4", "2"]
)
def test_a_limit_with_leading_zeros_is_its_number(api_a: Api, limit: str, size: int) -> None:
    answer = api_a.list(limit=limit)
    assert answer.status_code == 200
    assert len(answer.json["data"]) == size


@pytest.mark.parametrize(
    "query",
    [{"cursor": "c" * 9000}, {"x": "y" * 9000}, {"limit": "1" * 100_000}],
    ids=["cursor", "unknown parameter", "limit"],
)
def test_a_request_target_over_8_kib_answers_414(
    api_a: Api, admin: Admin, client: Any, query: dict[str, str]
) -> None:
    before = admin.state()
    with client.unchecked():
        answer = api_a.call("GET", "/users", query=query)
    refused_before_any_operation(answer, 414, "uri_too_long")
    admin.assert_unchanged(before)


# --- The admin surface behind a token ------------------------------------------------------

ADMIN_TOKEN = "adm-7f3c9e1b2d"


@pytest.mark.mock_config(admin_token=ADMIN_TOKEN)
@pytest.mark.parametrize(
    "sent", [None, "", "wrong", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1], "é" + ADMIN_TOKEN]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/_mock/state"), ("POST", "/_mock/reset"), ("POST", "/_mock/avatars")],
)
def test_with_an_admin_token_the_admin_surface_refuses_any_other(
    client: Any, sent: str | None, method: str, path: str
) -> None:
    # Given a mock whose admin surface needs a token, and its state
    def state() -> bytes:
        answer = client.get("/_mock/state", headers={"X-Admin-Token": ADMIN_TOKEN})
        assert answer.status_code == 200
        return answer.get_data()

    before = state()
    # When the admin surface is called without it, or with another
    headers = {} if sent is None else {"X-Admin-Token": sent}
    with client.unchecked():
        answer = client.open(path, method=method, headers=headers, json={})
    # Then it answers 401 unauthenticated, and nothing changed
    check_every_answer_rules(answer)
    assert answer.json["code"] == "unauthenticated"
    assert answer.status_code == 401
    assert ADMIN_TOKEN not in answer.get_data(as_text=True)
    assert state() == before


@pytest.mark.mock_config(admin_token=ADMIN_TOKEN)
def test_with_an_admin_token_the_admin_surface_answers_it_and_the_api_needs_none(
    client: Any, api_a: Api
) -> None:
    answer = client.post("/_mock/reset", headers={"X-Admin-Token": ADMIN_TOKEN})
    assert answer.status_code == 204
    assert api_a.list().status_code == 200


def test_without_an_admin_token_the_admin_surface_is_open_on_loopback(client: Any) -> None:
    assert client.get("/_mock/state").status_code == 200


# --- Fuzzing what comes before the body: query strings and headers -------------------------

# Any text a header value can carry on the wire (Latin-1, no CR, LF or NUL).
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
)
HEADER_NAMES = st.sampled_from(
    [
        "Accept",
        "Authorization",
        "Content-Type",
        "Content-Length",
        "Origin",
        "Prefer",
        "X-Request-Id",
        "If-None-Match",
        "Range",
        "Transfer-Encoding",
        "X-Admin-Token",
        "Accept-Encoding",
        "Cookie",
        "Host",
        "Expect",
    ]
)
QUERY = st.lists(
    st.tuples(
        st.sampled_from(["limit", "cursor", "x", "limit[]", ""]) | st.text(max_size=10),
        # text, or runs of one digit up to past Python's 4300-digit int() limit
        st.text(max_size=60)
        | st.builds(str.__mul__, st.sampled_from("0159"), st.integers(0, 7000)),
    ),
    max_size=4,
)
TARGETS = st.sampled_from(
    [
        ("GET", "/users"),
        ("GET", "/users/{id}"),
        ("PUT", "/users/{id}"),
        ("DELETE", "/users/{id}"),
        ("POST", "/users"),
        ("GET", "/users/nobody"),
        ("PATCH", "/users"),
    ]
)


@functools.cache
def fuzzed_app() -> Any:
    return make_app()


def send_and_check(method: str, path: str, query: Any, headers: list[tuple[str, str]]) -> None:
    """Send one request to a freshly reset mock: never a 5xx, every 4xx a problem detail
    (R12), and a refusal changes nothing (R11)."""
    # One mock, reset before each example (so that one example's success moves no other's)
    client = fuzzed_app().test_client(checked=False)
    assert client.post("/_mock/reset").status_code == 204
    before = client.get("/_mock/state").get_data()
    body = b'{"notes":"fuzz"}' if method in ("PUT", "PATCH") else b'{"email":"f@example.com"}'
    answer = client.open(
        API_PREFIX + path.replace("{id}", "usr_01JD0000000000000000PAT000"),
        method=method,
        query_string=query,
        headers=headers,
        data=body if method != "GET" else None,
    )
    check_every_answer_rules(answer)
    if answer.status_code >= 400:
        assert client.get("/_mock/state").get_data() == before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=QUERY)
def test_no_query_string_of_the_list_gets_a_5xx(query: list[tuple[str, str]]) -> None:
    send_and_check("GET", "/users", query, [("Authorization", f"Bearer {EMBEDDED_KEY_A}")])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=TARGETS,
    query=QUERY,
    headers=st.lists(st.tuples(HEADER_NAMES, HEADER_TEXT), max_size=4),
    key=st.sampled_from([EMBEDDED_KEY_A, EMBEDDED_KEY_B, None]),
)
def test_no_header_gets_a_5xx_or_changes_state_when_refused(
    target: tuple[str, str],
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    key: str | None,
) -> None:
    method, path = target
    sent = [("Authorization", f"Bearer {key}")] if key else []
    send_and_check(method, path, query, sent + headers)
