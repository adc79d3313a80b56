"""The gate judges a server it has never seen without false alarms.

CONTRACT.md lists what implementations may do differently ("a suite must accept either"). The
stranger here is the mock behind a WSGI layer that does each of those things its own way:

- ids of another form (`user-01jd…` where the mock says `usr_01JD…`), order kept;
- date-times in another notation and precision (`…T20:08:56.203935000+00:00`, not `….203935Z`);
- JSON objects with their keys in reverse order;
- cursors of another form, and request ids of another form, never echoing the caller's;
- authentication before routing: an unknown path or method without a key answers 401.

Everything the contract fixes (statuses, codes, fields, rules) is left as the mock answers it,
so the gate must pass the stranger; and since the layer hides nothing, a fault behind it must
still be found.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

from gate import cli as gate
from harness.target import EMBEDDED_KEY_A, EMBEDDED_KEY_B
from mock_server import MockConfig, create_app
from mock_server.serve import RunningServer, start_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stranger")]

MOCK_ID = re.compile(r"usr_([0-9A-Z]{26})")
STRANGER_ID = re.compile(r"user-([0-9a-z]{26})")
INSTANT = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z")
CURSOR = re.compile(r"(^|&)cursor=([^&]*)")
CURSOR_PREFIX = "c1."
UNAUTHENTICATED = {
    "type": "https://api.maxgood.work/problems/unauthenticated", "title": "Unauthenticated",
    "status": 401, "detail": "Authenticate with an Avatar API key.", "code": "unauthenticated"}
BUDGET = ["--max-minutes", "2", "--max-requests", "1500", "--max-invites", "20",
          "--profile", "dev"]


def stranger_string(text: str) -> str:
    """An id or date-time of the mock's, written the stranger's way (Crockford base32 in lower
    case sorts as in upper case, so the (joined_at, user_id) order is kept)."""
    text = MOCK_ID.sub(lambda m: "user-" + m.group(1).lower(), text)
    return INSTANT.sub(lambda m: f"{m.group(1)}{(m.group(2) or '.0') + '000'}+00:00", text)


def stranger_json(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: stranger_json(v, k) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [stranger_json(item) for item in value]
    if isinstance(value, str):
        if key == "next_cursor":
            return CURSOR_PREFIX + base64.urlsafe_b64encode(value.encode()).decode()
        return stranger_string(value)
    return value


def mock_cursor(value: str) -> str:
    """A stranger's cursor as the mock issued it; anything else passes as it came."""
    raw = unquote(value)
    if not raw.startswith(CURSOR_PREFIX):
        return value
    try:
        return quote(base64.urlsafe_b64decode(raw[len(CURSOR_PREFIX):]).decode(), safe="")
    except (ValueError, UnicodeDecodeError):
        return value


class Stranger:
    """WSGI middleware: the mock, answering everything the contract leaves open its own way."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterator[bytes]:
        environ["PATH_INFO"] = STRANGER_ID.sub(lambda m: "usr_" + m.group(1).upper(),
                                               environ.get("PATH_INFO", ""))
        environ["QUERY_STRING"] = CURSOR.sub(lambda m: m.group(1) + "cursor=" + mock_cursor(
            m.group(2)), environ.get("QUERY_STRING", ""))
        environ.pop("HTTP_X_REQUEST_ID", None)  # never echoed: the stranger makes its own
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.update(status=status, headers=headers)
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        request_id = str(uuid.uuid4())
        status = answered["status"]
        if status[:3] in ("404", "405") and "HTTP_AUTHORIZATION" not in environ:
            # Authentication before routing: no key, no word about what exists.
            status, body = "401 UNAUTHORIZED", json.dumps(UNAUTHENTICATED).encode()
            answered["headers"] = [("Content-Type", "application/problem+json"),
                                   ("WWW-Authenticate", 'Bearer realm="maxgood.work"')]
        headers = [(name, value) for name, value in answered["headers"]
                   if name.lower() not in ("content-length", "x-request-id")]
        headers = [(name, stranger_string(value) if name.lower() == "location" else value)
                   for name, value in headers]
        content_type = next((v for n, v in headers if n.lower() == "content-type"), "")
        if body and "json" in content_type:
            document = json.loads(body)
            if isinstance(document, dict) and "code" in document:
                document["request_id"] = request_id
            body = json.dumps(stranger_json(document), ensure_ascii=False).encode()
        headers += [("X-Request-Id", request_id), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return iter([body])


@pytest.fixture
def stranger_factory() -> Iterator[Callable[..., RunningServer]]:
    servers: list[RunningServer] = []

    def start(*faults: str) -> RunningServer:
        app = create_app(MockConfig(admin=False, faults=faults))
        server = start_in_thread(Stranger(app))  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def run_gate(server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setenv("MAXGOOD_API_KEY", EMBEDDED_KEY_A)
    monkeypatch.setenv("MAXGOOD_API_KEY_B", EMBEDDED_KEY_B)
    status = gate.main(["--base-url", server.base_url, "--report-dir", str(tmp_path),
                        "--seed", "20261201", *BUDGET])
    return status, capsys.readouterr().out


def test_the_stranger_answers_the_open_details_its_own_way(
    stranger_factory: Callable[..., RunningServer]
) -> None:
    import requests

    server = stranger_factory()
    answer = requests.get(server.base_url + "/users", params={"limit": 1}, timeout=10,
                          headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}",
                                   "X-Request-Id": "mine"})
    page = answer.json()
    member = page["data"][0]
    assert STRANGER_ID.fullmatch(member["user_id"])
    assert member["membership"]["joined_at"].endswith("000+00:00")
    assert list(page) == ["next_cursor", "data"]
    assert page["next_cursor"].startswith(CURSOR_PREFIX)
    assert uuid.UUID(answer.headers["X-Request-Id"])
    following = requests.get(server.base_url + "/users", timeout=10,
                             params={"limit": 1, "cursor": page["next_cursor"]},
                             headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}"})
    assert following.status_code == 200
    assert following.json()["data"][0]["user_id"] != member["user_id"]
    read = requests.get(f"{server.base_url}/users/{member['user_id']}", timeout=10,
                        headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}"})
    assert read.status_code == 200 and read.json()["user_id"] == member["user_id"]
    unknown = requests.patch(server.base_url + "/users", timeout=10)
    assert unknown.status_code == 401 and unknown.json()["code"] == "unauthenticated"


def test_the_gate_passes_a_server_that_differs_only_where_the_contract_allows(
    stranger_factory: Callable[..., RunningServer], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a correct server that writes ids, date-times, key order, cursors and request ids
    # its own way
    server = stranger_factory()
    # When the gate runs all three suites against it
    status, out = run_gate(server, tmp_path, monkeypatch, capsys)
    # Then no rule is failed for any of those differences
    assert status == 0, out
    assert "FAIL" not in out


def test_the_gate_still_finds_a_fault_behind_the_stranger(
    stranger_factory: Callable[..., RunningServer], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same stranger, whose invites overwrite a person's identity (R2)
    server = stranger_factory("invite_overwrites_identity")
    # When the gate runs against it
    status, out = run_gate(server, tmp_path, monkeypatch, capsys)
    # Then it fails, naming R2
    assert status == 1, out
    assert "FAIL R2" in out
