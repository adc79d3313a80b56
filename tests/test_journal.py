"""What the mock received: the request journal at /_mock/requests and the access log."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from harness.target import EMBEDDED_KEY_A

from .conftest import ADMIN_PREFIX, SHARED_EMAIL, Admin, Api, CheckedClient, make_app

SECRET_A = EMBEDDED_KEY_A.partition(".")[2]


def journal(client: CheckedClient, **filters: Any) -> dict[str, Any]:
    answer = client.get(ADMIN_PREFIX + "/requests", query_string=filters)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def test_each_api_request_is_journaled_with_its_answer(api_a: Api, client: CheckedClient,
                                                       admin: Admin) -> None:
    # Given a list, a refused invite and an admin call
    listed = api_a.list(limit=2)
    refused = api_a.invite(SHARED_EMAIL)
    admin.advance(0)
    # When the journal is read
    entries = journal(client)["requests"]
    # Then it holds the two API calls in order, not the admin call, each with its answer
    assert [(e["seq"], e["method"], e["path"], e["query"], e["status"], e["code"])
            for e in entries] == [(1, "GET", "/v1beta/users", "limit=2", 200, None),
                                  (2, "POST", "/v1beta/users", "", 409, "already_member")]
    assert [e["request_id"] for e in entries] == [listed.headers["X-Request-Id"],
                                                  refused.headers["X-Request-Id"]]
    invite = entries[1]
    assert json.loads(invite["request"]["body"]) == {"email": SHARED_EMAIL}
    assert json.loads(invite["response"]["body"]) == refused.json
    assert invite["response"]["headers"]["X-Request-Id"] == refused.headers["X-Request-Id"]
    assert invite["response"]["headers"]["RateLimit-Limit"] == refused.headers["RateLimit-Limit"]
    assert invite["duration_ms"] >= 0 and invite["at"].endswith("Z")


def test_no_key_is_journaled_whole(api_a: Api, client: CheckedClient) -> None:
    # Given a key sent as the contract says, and pasted by mistake into a query and a body
    api_a.list()
    api_a.call("GET", "/users", query={"cursor": EMBEDDED_KEY_A})
    api_a.invite(f"{EMBEDDED_KEY_A}@example.com")
    # Then the journal names the key by its credential id and never holds its secret
    text = json.dumps(journal(client))
    assert SECRET_A not in text
    assert "Bearer mgak_acmedemo01.***" in text


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"method": "post"}, ["POST 201", "POST 409"]),
        ({"method": "GET"}, ["GET 200", "GET 404", "GET 401"]),
        ({"status": "4xx"}, ["POST 409", "GET 404", "GET 401"]),
        ({"status": "201"}, ["POST 201"]),
        ({"path": "/v1beta/users/*"}, ["GET 404"]),
        ({"path": "/v1beta/users"}, ["GET 200", "POST 201", "POST 409", "GET 401"]),
        ({"method": "GET", "status": "4xx", "limit": 1}, ["GET 401"]),
        ({"limit": 2}, ["GET 404", "GET 401"]),
    ],
)
def test_the_journal_filters_by_method_path_and_status(
    api_a: Api, anon: Api, client: CheckedClient, filters: dict[str, Any], expected: list[str]
) -> None:
    api_a.list()
    api_a.invite("filtered@example.com")
    api_a.invite(SHARED_EMAIL)
    api_a.get("usr_01JZZZZZZZZZZZZZZZZZZZZZZZ")
    anon.list()
    found = journal(client, **filters)["requests"]
    assert [f"{e['method']} {e['status']}" for e in found] == expected


@pytest.mark.parametrize("filters", [{"status": "abc"}, {"status": "6xx"}, {"limit": "0"},
                                     {"limit": "x"}])
def test_a_bad_filter_is_refused(client: CheckedClient, filters: dict[str, str]) -> None:
    assert client.get(ADMIN_PREFIX + "/requests", query_string=filters).status_code == 400


@pytest.mark.mock_config(journal_size=3)
def test_the_journal_keeps_only_the_last_requests(api_a: Api, client: CheckedClient) -> None:
    for limit in range(1, 6):
        api_a.list(limit=limit)
    seen = journal(client)
    assert [e["query"] for e in seen["requests"]] == ["limit=3", "limit=4", "limit=5"]
    assert (seen["total"], seen["capacity"]) == (5, 3)


def test_a_long_body_is_cut(api_a: Api, client: CheckedClient) -> None:
    api_a.invite("long@example.com", membership={"notes": "n" * 2000,
                                                  "structured_data": {"k": "v" * 7000}})
    (entry,) = journal(client)["requests"]
    assert entry["request"]["body_truncated"] and len(entry["request"]["body"]) == 8192


def test_delete_and_reset_empty_the_journal(api_a: Api, client: CheckedClient,
                                            admin: Admin) -> None:
    api_a.list()
    assert client.delete(ADMIN_PREFIX + "/requests").status_code == 204
    assert journal(client)["requests"] == []
    api_a.list()
    assert [e["seq"] for e in journal(client)["requests"]] == [1]
    admin.reset()
    assert journal(client) == {"requests": [], "total": 0, "capacity": 500}


def test_the_access_log_writes_one_line_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a mock with its access log on (as `maxgood-mock` runs without --quiet)
    client = make_app(access_log=True).test_client()
    api = Api(client, EMBEDDED_KEY_A)
    listed = api.list(limit=1)
    refused = api.invite(SHARED_EMAIL)
    client.get(ADMIN_PREFIX + "/faults")
    # Then each request is one line: time, method, target, status, code, request id, duration
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    shape = re.compile(r"\d\d:\d\d:\d\d\.\d{3} (\S+) (\S+) (\d{3}) (\S+) (req_\w+) [\d.]+ms( .*)?")
    parsed = [shape.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [m.groups()[:5] for m in parsed] == [  # type: ignore[union-attr]
        ("GET", "/v1beta/users?limit=1", "200", "-", listed.headers["X-Request-Id"]),
        ("POST", "/v1beta/users", "409", "already_member", refused.headers["X-Request-Id"]),
        ("GET", "/_mock/faults", "200", "-", parsed[2].group(5)),  # type: ignore[union-attr]
    ]
    # And a key shows by its credential id only
    assert lines[0].endswith("key=mgak_acmedemo01.***") and SECRET_A not in "".join(lines)


def test_the_access_log_is_off_unless_asked(api_a: Api,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    api_a.list()
    assert capsys.readouterr().out == ""
