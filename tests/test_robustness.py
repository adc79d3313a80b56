"""Robustness over a real socket: concurrent writers, hostile requests, slow clients, the
admin surface off the loopback, and sustained load.

The concurrency tests serve their own mock on a free loopback port (`start_in_thread`), so
that requests truly overlap; the hostile requests go to the mock behind each HTTP server it
runs on (werkzeug in tests, waitress and granian under `maxgood-mock`), which differ in what
reaches the app; what the HTTP layer itself refuses, and slow clients, go to `maxgood-mock` on
each of its servers; the load runs against `maxgood-mock` in a process of its own, whose
memory is read from /proc. The figures are in `make bench` (bench/RESULTS.md), not here.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.target import EMBEDDED_KEY_A, EMBEDDED_KEY_B
from mock_server import MockConfig, create_app
from mock_server.cli import is_loopback
from mock_server.serve import RunningServer, start_in_thread

from .conftest import AVATAR_A, AVATAR_B, NEVER_ISSUED_ID, SHARED_EMAIL

pytestmark = pytest.mark.xdist_group("robustness")

OWNER_A_ID = "usr_01JD0000000000000000ACME00"
SHARED_ID = "usr_01JD0000000000000000PAT000"
PROBLEM_MEMBERS = ("type", "title", "status", "detail", "code", "request_id")
TIMEOUT = 10.0


# --- A served mock, its keys, and what it answers ------------------------------------------


@dataclass
class Served:
    """A mock on a real port, reached over HTTP only."""

    root_url: str

    @property
    def base(self) -> str:
        return self.root_url + "/v1beta"

    @property
    def port(self) -> int:
        return int(self.root_url.rsplit(":", 1)[1])

    def call(
        self, method: str, path: str, key: str | None = EMBEDDED_KEY_A, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        session = kwargs.pop("session", requests)
        return session.request(method, self.base + path, headers=headers, timeout=TIMEOUT, **kwargs)

    def state(self) -> dict[str, Any]:
        answer = requests.get(self.root_url + "/_mock/state", timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def list_ids(self, key: str = EMBEDDED_KEY_A) -> list[str]:
        """Every active member's id, walking next_cursor (R10)."""
        ids: list[str] = []
        cursor = None
        for _ in range(1_000):
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = self.call("GET", "/users", key, params=params)
            assert page.status_code == 200, page.text
            ids += [member["user_id"] for member in page.json()["data"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return ids
        raise AssertionError("R10 Pagination is exact: the walk never ends")

    def new_avatar(self, name: str, owner_email: str) -> str:
        """A new essential Avatar; its API key."""
        body = {"type": "essential", "name": name, "owner_email": owner_email, "owner_name": None}
        answer = requests.post(self.root_url + "/_mock/avatars", json=body, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.json()["api_key"]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start mocks with the given MockConfig fields; all are stopped after the test."""
    running: list[RunningServer] = []

    def start(**config: Any) -> Served:
        server = start_in_thread(create_app(MockConfig(**config)))
        running.append(server)
        return Served(server.root_url)

    yield start
    for server in running:
        server.stop()


@dataclass
class MockProcess:
    """`maxgood-mock` as a process of its own (waitress or granian, as people run it)."""

    process: subprocess.Popen[bytes]
    served: Served

    def rss(self) -> int:
        """Resident memory of the process and its children (granian's worker), in bytes."""
        return sum(_rss(pid) for pid in _with_descendants(self.process.pid))


def _with_descendants(pid: int) -> list[int]:
    """pid and every process below it (Linux /proc)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [pid] + [found for child in children for found in _with_descendants(child)]


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@contextlib.contextmanager
def spawned_mock(*options: str) -> Iterator[MockProcess]:
    """`python -m mock_server.cli --port <free> <options>`, up until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mock_server.cli", "--port", str(port), "--quiet", *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    served = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.perf_counter() + 30
        while True:
            assert process.poll() is None, "the mock exited at start-up"
            with contextlib.suppress(requests.ConnectionError):
                if served.call("GET", "/users").status_code == 200:
                    break
            assert time.perf_counter() < deadline, "the mock did not start within 30 s"
            time.sleep(0.05)
        yield MockProcess(process, served)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def assert_problem(status: int, headers: dict[str, str], body: bytes, where: str) -> None:
    """R12: a 4xx (never a 5xx) answered as a problem detail naming its own request id."""
    assert 400 <= status < 500, f"{where}: answered {status}: {body[:300]!r}"
    content_type = headers.get("content-type", "")
    assert content_type.startswith("application/problem+json"), f"{where}: {content_type!r}"
    problem = json.loads(body)
    missing = [name for name in PROBLEM_MEMBERS if name not in problem]
    assert not missing, f"{where}: the problem lacks {missing}: {problem}"
    assert problem["status"] == status, f"{where}: {problem}"
    assert problem["request_id"] == headers.get("x-request-id"), f"{where}: request_id"


def together(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run action(0..count-1) on `count` threads released at the same instant."""
    gate = threading.Barrier(count, timeout=TIMEOUT)

    def run(number: int) -> Any:
        gate.wait()
        return action(number)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def codes(answers: list[requests.Response]) -> Counter[tuple[int, str | None]]:
    """How many answers of each (status, problem code)."""
    found: Counter[tuple[int, str | None]] = Counter()
    for answer in answers:
        code = answer.json().get("code") if answer.status_code >= 400 else None
        found[answer.status_code, code] += 1
    return found


# --- Concurrency ------------------------------------------------------------------------


def test_r7_concurrent_invites_fill_the_seats_exactly(serve: Callable[..., Served]) -> None:
    # Given B (essential) with 2 seeded members and a seat limit of 10
    mock = serve(seat_limits={"essential": 10, "enterprise": 500}, invites_per_hour=1_000)
    # When 40 threads invite 40 new people at once
    answers = together(
        40,
        lambda n: mock.call("POST", "/users", EMBEDDED_KEY_B, json={"email": f"s{n}@example.com"}),
    )
    # Then exactly 8 get in and 32 are refused 403 seat_limit_reached
    assert codes(answers) == {(201, None): 8, (403, "seat_limit_reached"): 32}
    # And the list, the counters and the users agree with the 8
    listed = mock.list_ids(EMBEDDED_KEY_B)
    assert len(listed) == len(set(listed)) == 10
    invited = {answer.json()["member"]["user_id"] for answer in answers if answer.ok}
    assert invited <= set(listed)
    state = mock.state()
    assert len(state["invite_log"][AVATAR_B]) == len(state["platform_invites"]) == 8
    assert (
        sum(m["status"] == "active" and m["avatar_id"] == AVATAR_B for m in state["memberships"])
        == 10
    )


def test_r7_concurrent_invites_stop_at_the_hourly_limit(serve: Callable[..., Served]) -> None:
    # Given A (enterprise) allowed 12 invites an hour
    mock = serve(invites_per_hour=12)
    before = set(mock.list_ids())
    # When 40 threads invite 40 new people at once
    answers = together(
        40, lambda n: mock.call("POST", "/users", json={"email": f"h{n}@example.com"})
    )
    # Then exactly 12 are accepted and 28 answer 429 invite_rate_limited with Retry-After
    assert codes(answers) == {(201, None): 12, (429, "invite_rate_limited"): 28}
    for answer in answers:
        assert 0 <= int(answer.headers["RateLimit-Remaining"]) <= 11 or not answer.ok
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
    # And the list grew by exactly the 12, and the counters say 12
    invited = {answer.json()["member"]["user_id"] for answer in answers if answer.ok}
    assert set(mock.list_ids()) == before | invited
    assert len(invited) == 12
    assert len(mock.state()["invite_log"][AVATAR_A]) == 12
    final = mock.call("POST", "/users", json={"email": "one.more@example.com"})
    assert final.status_code == 429
    assert final.headers["RateLimit-Remaining"] == "0"


def test_r7_concurrent_invites_to_two_avatars_stop_at_the_safety_cap(
    serve: Callable[..., Served],
) -> None:
    # Given a platform cap of 15 invites an hour, 10 per Avatar
    mock = serve(invites_per_hour=10, safety_cap_per_hour=15)
    # When A and B each send 20 invites at once
    keys = (EMBEDDED_KEY_A, EMBEDDED_KEY_B)
    answers = together(
        40, lambda n: mock.call("POST", "/users", keys[n % 2], json={"email": f"c{n}@example.com"})
    )
    # Then 15 are accepted in all, at most 10 per Avatar, and every refusal is a 429
    accepted = [answers[n] for n in range(40) if answers[n].ok]
    assert len(accepted) == 15, codes(answers)
    per_avatar = Counter(answer.json()["member"]["membership"]["avatar_id"] for answer in accepted)
    assert max(per_avatar.values()) <= 10
    assert {status for status, _ in codes(answers)} == {201, 429}
    state = mock.state()
    assert len(state["platform_invites"]) == 15
    assert {a: len(t) for a, t in state["invite_log"].items() if t} == dict(per_avatar)


def test_r3_concurrent_case_variants_of_one_email_make_one_user(
    serve: Callable[..., Served],
) -> None:
    # Given A, B and two new Avatars
    mock = serve()
    keys = [
        EMBEDDED_KEY_A,
        EMBEDDED_KEY_B,
        mock.new_avatar("North", "north@example.com"),
        mock.new_avatar("South", "south@example.com"),
    ]
    variants = [
        "Casey.Race@Example.com",
        "casey.race@example.com",
        " CASEY.RACE@EXAMPLE.COM ",
        "cAsEy.RaCe@example.COM",
        "\tCasey.Race@example.com",
    ]
    # When 40 threads invite case variants of one email into the four Avatars at once
    answers = together(
        40,
        lambda n: mock.call(
            "POST", "/users", keys[n % 4], json={"email": variants[n % len(variants)]}
        ),
    )
    # Then each Avatar accepts exactly one (409 already_member for the rest) ...
    assert codes(answers) == {(201, None): 4, (409, "already_member"): 36}
    accepted = [answer.json() for answer in answers if answer.ok]
    assert len({result["member"]["membership"]["avatar_id"] for result in accepted}) == 4
    # ... all four are the same user, created once
    assert len({result["member"]["user_id"] for result in accepted}) == 1
    assert sorted(result["existing_user"] for result in accepted) == [False, True, True, True]
    users = [u for u in mock.state()["users"] if u["email"].strip().lower() == variants[1]]
    assert len(users) == 1, users


def test_r5_r6_concurrent_puts_and_deletes_leave_a_state_some_serial_order_explains(
    serve: Callable[..., Served],
) -> None:
    mock = serve()
    for round_number in range(4):
        # Given a fresh member of A
        email = f"racer{round_number}@example.com"
        invited = mock.call("POST", "/users", json={"email": email, "membership": {"notes": "0"}})
        user_id = invited.json()["member"]["user_id"]

        # When 24 whole-membership PUTs and 4 DELETEs of that member run at once
        def act(n: int, user_id: str = user_id) -> requests.Response:
            if n % 7 == 6:
                return mock.call("DELETE", f"/users/{user_id}")
            body = {"notes": f"n{n}", "is_coach": n % 2 == 0, "structured_data": {"n": n}}
            return mock.call("PUT", f"/users/{user_id}", json=body)

        answers = together(28, act)
        deletes = [answers[n] for n in range(28) if n % 7 == 6]
        puts = {n: answers[n] for n in range(28) if n % 7 != 6}
        # Then exactly one DELETE removed the member; the others found nobody (R6)
        assert codes(deletes) == {(204, None): 1, (404, "user_not_found"): 3}
        assert {(a.status_code) for a in puts.values()} <= {200, 404}
        # And the member is gone from the API
        assert mock.call("GET", f"/users/{user_id}").status_code == 404
        assert user_id not in mock.list_ids()
        # And the removed membership holds exactly the last PUT that answered 200, whole (R5)
        (stored,) = [
            m
            for m in mock.state()["memberships"]
            if m["user_id"] == user_id and m["avatar_id"] == AVATAR_A
        ]
        assert stored["status"] == "removed"
        done = {n: a.json() for n, a in puts.items() if a.status_code == 200}
        if done:
            last = max(done, key=lambda n: done[n]["membership"]["updated_at"])
            expected = {
                "notes": f"n{last}",
                "is_coach": last % 2 == 0,
                "structured_data": {"n": last},
            }
            assert {name: stored[name] for name in expected} == expected
        else:
            assert stored["notes"] == "0"


def test_r5_concurrent_puts_never_mix_two_bodies(serve: Callable[..., Served]) -> None:
    # Given the shared member of A
    mock = serve()

    # When 32 PUTs, each setting three fields to its own values, run at once
    def put(n: int) -> requests.Response:
        body = {"notes": f"n{n}", "is_admin": n % 2 == 1, "structured_data": {"n": n}}
        return mock.call("PUT", f"/users/{SHARED_ID}", json=body)

    answers = together(32, put)
    # Then all succeed, each answer shows its own body, and the member holds one body whole
    assert codes(answers) == {(200, None): 32}
    for n, answer in enumerate(answers):
        assert answer.json()["membership"]["notes"] == f"n{n}"
    final = mock.call("GET", f"/users/{SHARED_ID}").json()["membership"]
    n = final["structured_data"]["n"]
    assert (final["notes"], final["is_admin"]) == (f"n{n}", n % 2 == 1)
    # And updated_at moved forward with every PUT: 32 distinct values
    assert len({answer.json()["membership"]["updated_at"] for answer in answers}) == 32


# --- Hostile requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def exchange(port: int, request: bytes, timeout: float = TIMEOUT) -> RawAnswer | None:
    """Send raw bytes and read one answer; None if the server closed without answering.

    The bytes are sent from a second thread, so that an answer given before the whole body
    was read (a 413) is still heard.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:

        def send() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(request)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", 0))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
        except ConnectionResetError:
            return None
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sender.join(timeout=TIMEOUT)
        return RawAnswer(int(lines[0].split(" ", 2)[1]), headers, body[:length])


def http(
    method: str | bytes,
    target: str | bytes,
    body: bytes | None = None,
    *,
    key: str | bytes | None = EMBEDDED_KEY_A,
    content_type: str | bytes | None = "application/json",
    headers: list[bytes] | None = None,
    chunked: bool = False,
) -> bytes:
    """A raw HTTP/1.1 request under /v1beta; anything may be bytes, to say what no client would."""

    def raw(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8")

    lines = [raw(method) + b" /v1beta" + raw(target) + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines.append(b"Connection: close")
    if key is not None:
        lines.append(b"Authorization: Bearer " + raw(key))
    if body is not None and content_type is not None:
        lines.append(b"Content-Type: " + raw(content_type))
    lines += headers or []
    if body is not None and chunked:
        lines.append(b"Transfer-Encoding: chunked")
        step = 65536
        body = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
                for i in range(0, len(body), step)
            )
            + b"0\r\n\r\n"
        )
    elif body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def nested_object(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"a":' * depth + leaf + b"}" * depth


def invite_with(structured_data: bytes) -> bytes:
    return b'{"email":"deep@example.com","membership":{"structured_data":' + structured_data + b"}}"


TEN_MB = 10 * 1024 * 1024
PADDED = b'{"email":"padded@example.com"}' + b" " * (100 * 1024)
USER = f"/users/{SHARED_ID}"
OWNER = f"/users/{OWNER_A_ID}"

# Requests every one of which the app must refuse with a 4xx problem detail and no change.
HOSTILE: dict[str, bytes] = {
    # malformed JSON
    "json: truncated": http("POST", "/users", b'{"email":'),
    "json: single quotes": http("POST", "/users", b"{'email': 'q@example.com'}"),
    "json: trailing comma": http("POST", "/users", b'{"email":"t@example.com",}'),
    "json: two documents": http("POST", "/users", b'{"email":"a@example.com"}{"email":"b"}'),
    "json: BOM first": http("POST", "/users", b'\xef\xbb\xbf{"email":"bom@example.com"}'),
    "json: an array": http("POST", "/users", b'[{"email":"arr@example.com"}]'),
    "json: null": http("POST", "/users", b"null"),
    "json: empty body": http("POST", "/users", b""),
    "json: NaN": http("POST", "/users", invite_with(b'{"x":NaN}')),
    "json: overflowing number": http("POST", "/users", invite_with(b'{"x":1e999}')),
    "json: 5000-digit integer": http("POST", "/users", invite_with(b'{"x":' + b"9" * 5000 + b"}")),
    "json: PUT malformed": http("PUT", USER, b'{"notes": "unterminated}'),
    # not UTF-8
    "utf-8: latin-1 email": http("POST", "/users", b'{"email":"caf\xe9@example.com"}'),
    "utf-8: UTF-16 body": http("POST", "/users", '{"email":"u16@example.com"}'.encode("utf-16")),
    "utf-8: overlong slash": http("POST", "/users", b'{"email":"a\xc0\xafb@example.com"}'),
    "utf-8: encoded surrogate": http("POST", "/users", b'{"email":"a\xed\xa0\x80@example.com"}'),
    "utf-8: PUT latin-1": http("PUT", USER, b'{"notes":"caf\xe9"}'),
    # odd Unicode
    "unicode: lone surrogate in notes": http(
        "POST", "/users", b'{"email":"ls@example.com","membership":{"notes":"a\\ud800b"}}'
    ),
    "unicode: lone surrogate in a key": http("POST", "/users", invite_with(b'{"\\udfff":1}')),
    "unicode: lone surrogate in PUT": http("PUT", USER, b'{"notes":"\\udbff"}'),
    "unicode: fullwidth at sign": http("POST", "/users", '{"email":"a\uff20example.com"}'.encode()),
    "unicode: name of 201 astral chars": http(
        "POST",
        "/users",
        json.dumps({"email": "long@example.com", "profile": {"name": "\U0001d573" * 201}}).encode(),
    ),
    # size
    "size: 10 MB with Content-Length": http("POST", "/users", b"a" * TEN_MB),
    "size: 10 MB chunked": http("POST", "/users", b"a" * TEN_MB, chunked=True),
    "size: valid JSON padded past 64 KiB": http("POST", "/users", PADDED),
    "size: valid JSON padded past 64 KiB, chunked": http("POST", "/users", PADDED, chunked=True),
    "size: PUT of 10 MB": http("PUT", USER, b'{"notes":"' + b"n" * TEN_MB + b'"}'),
    # depth
    "depth: structured_data 10,000 objects deep": http(
        "POST", "/users", invite_with(nested_object(10_000))
    ),
    "depth: structured_data 10,000 arrays deep": http(
        "POST", "/users", invite_with(b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    ),
    "depth: structured_data 500 deep": http("POST", "/users", invite_with(nested_object(500))),
    "depth: PUT 10,000 deep": http(
        "PUT", USER, b'{"structured_data":' + nested_object(10_000) + b"}"
    ),
    # NUL bytes
    "nul: raw in JSON": http("POST", "/users", b'{"email":"a\x00b@example.com"}'),
    "nul: escaped in email": http("POST", "/users", b'{"email":"a\\u0000b@example.com"}'),
    "nul: escaped in the path": http("DELETE", "/users/%00"),
    "nul: in limit": http("GET", "/users?limit=%00"),
    "nul: in the cursor": http("GET", "/users?cursor=%00"),
    # headers
    "header: a 32 KiB key": http("GET", "/users", key="mgak_x." + "k" * 32768),
    "header: a 32 KiB junk header": http(
        "POST", "/users", b"{}", headers=[b"X-Junk: " + b"j" * 32768]
    ),
    "header: key in Latin-1": http("GET", "/users", key=b"mgak_acmedemo01.\xe9\xff"),
    "header: Basic scheme": http("GET", "/users", key=None, headers=[b"Authorization: Basic YTpi"]),
    "header: a revoked-looking key": http("GET", "/users", key="mgak_acmedemo01.wrong-secret"),
    "header: empty credential": http("GET", "/users", key="mgak_."),
    "header: no key on DELETE": http("DELETE", USER, key=None),
    # content types
    "type: text/plain": http(
        "POST", "/users", b'{"email":"tp@example.com"}', content_type="text/plain"
    ),
    "type: none": http("POST", "/users", b'{"email":"nt@example.com"}', content_type=None),
    "type: form": http(
        "POST", "/users", b"email=f%40example.com", content_type="application/x-www-form-urlencoded"
    ),
    "type: multipart": http(
        "POST",
        "/users",
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nm@example.com\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    ),
    "type: merge-patch on PUT": http(
        "PUT", USER, b'{"notes":"x"}', content_type="application/merge-patch+json"
    ),
    "type: xml": http(
        "POST", "/users", b"<email>x@example.com</email>", content_type="application/xml"
    ),
    # methods and paths
    "method: PATCH": http("PATCH", USER, b'{"notes":"p"}'),
    "method: TRACE": http("TRACE", "/users"),
    "method: OPTIONS": http("OPTIONS", "/users"),
    "method: PROPFIND": http("PROPFIND", "/users"),
    "method: FOO": http("FOO", USER),
    "method: POST on a member": http("POST", USER, b'{"email":"pm@example.com"}'),
    "path: traversal to the admin reset": http("POST", "/users/..%2F..%2F_mock%2Freset", b"{}"),
    "path: a member's sub-path": http("GET", USER + "/memberships"),
    "path: an id of 4 KiB": http("DELETE", "/users/" + "u" * 4096),
    "path: an id of odd Unicode": http("PUT", "/users/%E2%80%AE%F0%9F%A6%84", b'{"notes":"x"}'),
    # garbage cursors and limits
    "cursor: empty": http("GET", "/users?cursor="),
    "cursor: a dot": http("GET", "/users?cursor=."),
    "cursor: three parts": http("GET", "/users?cursor=a.b.c"),
    "cursor: bad percent-encoding": http("GET", "/users?cursor=%FF%FE"),
    "cursor: right-to-left override": http("GET", "/users?cursor=%E2%80%AE"),
    "cursor: 4 KiB": http("GET", "/users?cursor=" + "A" * 4096 + ".AAAA"),
    "cursor: forged signature": http(
        "GET", "/users?cursor=WyIyMDI2LTAxLTAxIiwieCIsIngiXQ.AAAAAAAAAAAAAAAAAAAAAA"
    ),
    "limit: letters": http("GET", "/users?limit=abc"),
    "limit: zero": http("GET", "/users?limit=0"),
    "limit: 101": http("GET", "/users?limit=101"),
    "limit: negative": http("GET", "/users?limit=-1"),
    "limit: exponent": http("GET", "/users?limit=1e1"),
    "limit: Arabic-Indic digit": http("GET", "/users?limit=%D9%A3"),
    "limit: 30 digits": http("GET", "/users?limit=" + "9" * 30),
    # refusals of well-formed requests
    "rule: PUT the owner's is_admin false": http("PUT", OWNER, b'{"is_admin":false}'),
    "rule: DELETE the owner": http("DELETE", OWNER),
    "rule: PUT a profile field": http("PUT", USER, b'{"name":"Renamed","notes":"x"}'),
    "rule: PUT an empty body": http("PUT", USER, b"{}"),
    "rule: invite an active member": http(
        "POST", "/users", json.dumps({"email": SHARED_EMAIL}).encode()
    ),
    "rule: GET a user who never existed": http("GET", f"/users/{NEVER_ISSUED_ID}"),
    "rule: B's key on A's-only member": http("DELETE", OWNER, key=EMBEDDED_KEY_B),
}

# Requests at the edge of HTTP: the server in front may refuse them itself (a 4xx of its own
# making, or a closed connection) or pass them on; werkzeug, waitress and granian differ here.
EDGE_OF_HTTP: dict[str, bytes] = {
    "a NUL in the target": http("GET", "/users/\x00"),
    "a NUL in a header": http("GET", "/users", key=b"mgak_acmedemo01.acme\x00demo"),
    "a 100 KiB header line": http("GET", "/users", headers=[b"X-Big: " + b"b" * 102400]),
    "500 headers": http("GET", "/users", headers=[b"X-H%d: v" % i for i in range(500)]),
    "a 100 KiB target": http("GET", "/users?cursor=" + "c" * 102400),
    "a TLS hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
    "a request line of garbage": b"\xff\xfe\xfd\r\n\r\n",
    "HTTP/9.9": b"GET /v1beta/users HTTP/9.9\r\nHost: x\r\n\r\n",
    "a negative Content-Length": http("POST", "/users", None, headers=[b"Content-Length: -5"]),
}


@pytest.fixture(scope="module", params=["werkzeug", "waitress", "granian"])
def hostile_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The mock behind each HTTP server it runs on: they differ in what reaches the app."""
    if request.param == "werkzeug":
        server = start_in_thread(create_app(MockConfig()))
        yield server.root_url
        server.stop()
        return
    with spawned_mock("--server", request.param, "--threads", "2") as spawned:
        yield spawned.served.root_url


@pytest.fixture
def hostile_target(hostile_server: str) -> Iterator[Served]:
    """One mock per server for the whole corpus, reset after each case so that one failure
    stays one."""
    yield Served(hostile_server)
    requests.post(hostile_server + "/_mock/reset", timeout=TIMEOUT).raise_for_status()


def assert_still_answers(mock: Served) -> None:
    answer = mock.call("GET", "/users", params={"limit": 1})
    assert answer.status_code == 200, f"the mock no longer answers: {answer.status_code}"


@pytest.mark.parametrize("name", HOSTILE)
def test_r11_r12_a_hostile_request_answers_a_4xx_problem_and_changes_nothing(
    hostile_target: Served, name: str
) -> None:
    # Given the seeded state
    before = hostile_target.state()
    # When a hostile request arrives on the socket
    answer = exchange(hostile_target.port, HOSTILE[name])
    # Then it is answered with a 4xx problem detail (never a 5xx) ...
    assert answer is not None, f"{name}: the connection closed without an answer"
    assert_problem(answer.status, answer.headers, answer.body, name)
    # ... the mock still answers, and nothing changed (R11)
    assert_still_answers(hostile_target)
    assert hostile_target.state() == before, f"{name}: the state changed"


@pytest.mark.parametrize("name", EDGE_OF_HTTP)
def test_requests_at_the_edge_of_http_never_answer_5xx_and_change_nothing(
    hostile_target: Served, name: str
) -> None:
    # Given the seeded state
    before = hostile_target.state()
    # When a request that bends HTTP itself arrives
    answer = exchange(hostile_target.port, EDGE_OF_HTTP[name])
    # Then it is refused by the server or answered by the app, never with a 5xx ...
    assert answer is None or answer.status < 500, f"{name}: {answer}"
    if answer is not None and answer.headers.get("content-type", "").startswith(
        "application/problem+json"
    ):
        assert_problem(answer.status, answer.headers, answer.body, name)
    # ... the mock still answers, and nothing changed (R11)
    assert_still_answers(hostile_target)
    assert hostile_target.state() == before, f"{name}: the state changed"


def test_stalled_connections_do_not_stop_other_clients(hostile_target: Served) -> None:
    # Given 20 connections that sent half a request and then went quiet
    stalled = []
    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", hostile_target.port), timeout=TIMEOUT)
            sock.sendall(b"POST /v1beta/users HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
            stalled.append(sock)
        # When another client asks for the list
        began = time.perf_counter()
        assert_still_answers(hostile_target)
        # Then it is answered at once
        assert time.perf_counter() - began < 2.0
    finally:
        for sock in stalled:
            sock.close()


def test_a_cursor_of_another_avatar_answers_400_invalid_cursor(hostile_target: Served) -> None:
    # Given a cursor B issued
    page = hostile_target.call("GET", "/users", EMBEDDED_KEY_B, params={"limit": 1})
    cursor = page.json()["next_cursor"]
    assert cursor
    before = hostile_target.state()
    # When A presents it
    answer = hostile_target.call("GET", "/users", params={"cursor": cursor})
    # Then it answers 400 invalid_cursor (R10) and nothing changed
    assert_problem(answer.status_code, _lower(answer.headers), answer.content, "B's cursor")
    assert answer.json()["code"] == "invalid_cursor"
    assert hostile_target.state() == before


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# --- What the HTTP server itself refuses --------------------------------------------------

SECRET = EMBEDDED_KEY_A.split(".", 1)[1]
KEYED = b"Authorization: Bearer " + EMBEDDED_KEY_A.encode()


def head(request_line: bytes, *lines: bytes, end: bytes = b"\r\n") -> bytes:
    """A request head with the key, `Connection: close`, then `lines`, each ended by `end`."""
    every = [request_line, b"Host: 127.0.0.1", KEYED, b"Connection: close", *lines]
    return b"".join(line + end for line in every) + end


# Requests an HTTP server refuses before any app could see them, or that reach the app bent.
SERVER_LAYER: dict[str, bytes] = {
    "a double slash": head(b"GET /v1beta//users HTTP/1.1"),
    "a target of 20 KiB": head(b"GET /v1beta/users?cursor=" + b"c" * 20480 + b" HTTP/1.1"),
    "a target of 100 KiB": head(b"GET /v1beta/users?cursor=" + b"c" * 102400 + b" HTTP/1.1"),
    "a space in the target": head(b"GET /v1beta/us ers HTTP/1.1"),
    "a limit of 5000 digits": head(b"GET /v1beta/users?limit=" + b"9" * 5000 + b" HTTP/1.1"),
    "an Accept of XML only": head(b"GET /v1beta/users HTTP/1.1", b"Accept: application/xml"),
    "a CR inside the key's header": head(b"GET /v1beta/users HTTP/1.1", KEYED + b"\rX-Injected: 1"),
    "an LF inside the key's header": head(
        b"GET /v1beta/users HTTP/1.1", KEYED + b"\nX-Injected: 1"
    ),
    "bare-LF line endings": head(b"GET /v1beta/users HTTP/1.1", end=b"\n"),
    "a space before a header's colon": head(b"GET /v1beta/users HTTP/1.1", b"X-Bad : 1"),
    "a space inside a header name": head(b"GET /v1beta/users HTTP/1.1", b"X Bad: 1"),
    "an obsolete folded header": head(b"GET /v1beta/users HTTP/1.1", b"X-A: a", b"  folded"),
    "an unknown transfer coding": head(b"POST /v1beta/users HTTP/1.1", b"Transfer-Encoding: gzip"),
    "two Content-Lengths": head(
        b"POST /v1beta/users HTTP/1.1", b"Content-Length: 2", b"Content-Length: 3"
    )
    + b"{}",
    "a Content-Length of letters": head(b"POST /v1beta/users HTTP/1.1", b"Content-Length: ab"),
    "a Content-Length of 30 digits": head(
        b"POST /v1beta/users HTTP/1.1", b"Content-Length: " + b"9" * 30
    ),
    "Content-Length and chunked": head(
        b"POST /v1beta/users HTTP/1.1",
        b"Content-Type: application/json",
        b"Content-Length: 5",
        b"Transfer-Encoding: chunked",
    )
    + b'1c\r\n{"email":"smuggle@example.com"}\r\n0\r\n\r\n',
    "a malformed chunk": head(
        b"POST /v1beta/users HTTP/1.1",
        b"Content-Type: application/json",
        b"Transfer-Encoding: chunked",
    )
    + b'zz\r\n{"email":"chunk@example.com"}\r\n0\r\n\r\n',
}
# Granian's HTTP layer (hyper) refuses these itself, before any Python runs: a 400 (414 for a
# target over 64 KiB) with no body and the connection closed. Nothing is echoed, but no body
# means no problem detail: waitress, which hands its refusals to the app, answers them all as
# the contract does (docs/SERVERS.md).
GRANIAN_REFUSES_BARE = {
    "a target of 100 KiB": 414,
    "a space in the target": 400,
    "a CR inside the key's header": 400,
    "a space before a header's colon": 400,
    "a space inside a header name": 400,
    "an obsolete folded header": 400,
    "an unknown transfer coding": 400,
    "two Content-Lengths": 400,
    "a Content-Length of letters": 400,
    "a Content-Length of 30 digits": 400,
}
# HTTP lets a server read these as a request (RFC 9112: a bare LF may end a line, an obs-fold
# may be replaced by a space) or refuse them with a 400: hyper reads bare LF, waitress unfolds.
MAY_BE_ANSWERED = {"bare-LF line endings", "an obsolete folded header"}


def everything_sent_back(port: int, request: bytes, timeout: float = TIMEOUT) -> bytes:
    """Every byte the server sends until it closes (or `timeout`), for a request that asks
    for `Connection: close`."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        deadline = time.perf_counter() + timeout
        with contextlib.suppress(OSError):
            while time.perf_counter() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
    return received


def parse_answer(raw: bytes) -> RawAnswer | None:
    if not raw:
        return None
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(lines[0].split(" ", 2)[1]), headers, body)


@pytest.fixture(scope="module", params=["granian", "waitress"])
def real_server(request: pytest.FixtureRequest) -> Iterator[Served]:
    """`maxgood-mock` on each server it offers, as a person runs it."""
    with spawned_mock("--server", request.param) as spawned:
        yield spawned.served


@pytest.fixture
def real_target(real_server: Served) -> Iterator[Served]:
    yield real_server
    requests.post(real_server.root_url + "/_mock/reset", timeout=TIMEOUT).raise_for_status()


@pytest.mark.parametrize("name", SERVER_LAYER)
def test_a_request_the_http_layer_refuses_is_a_problem_or_a_bare_refusal_never_an_echo(
    real_target: Served, request: pytest.FixtureRequest, name: str
) -> None:
    # Given the seeded state
    before = real_target.state()
    # When a request that bends HTTP arrives on the socket
    raw = everything_sent_back(real_target.port, SERVER_LAYER[name])
    answer = parse_answer(raw)
    # Then nothing of what was sent comes back: not the key, not an injected header
    assert SECRET.encode() not in raw, f"{name}: the answer echoes the key: {raw[:500]!r}"
    assert b"X-Injected" not in raw, f"{name}: the answer echoes a header: {raw[:500]!r}"
    # ... it is answered, never with a 5xx: a problem detail with a code ...
    assert answer is not None, f"{name}: the connection closed without an answer"
    server = request.node.callspec.params["real_server"]
    if server == "granian" and name in GRANIAN_REFUSES_BARE:
        # ... or, where granian's HTTP layer refuses it, a bodiless refusal and a close
        assert (answer.status, answer.body) == (GRANIAN_REFUSES_BARE[name], b""), raw[:300]
        assert answer.headers.get("connection") == "close"
    elif name in MAY_BE_ANSWERED and answer.status == 200:
        assert answer.headers["content-type"] == "application/json"
    else:
        assert_problem(answer.status, answer.headers, answer.body, f"{server}: {name}")
    # ... the mock still answers, and nothing changed (R11)
    assert_still_answers(real_target)
    assert real_target.state() == before, f"{name}: the state changed"


INVITE = b'{"email":"cut.short@example.com"}'
CUT_SHORT: dict[str, bytes] = {
    "a Content-Length longer than the body": head(
        b"POST /v1beta/users HTTP/1.1", b"Content-Type: application/json", b"Content-Length: 100"
    )
    + INVITE,
    "a chunked body with no last chunk": head(
        b"POST /v1beta/users HTTP/1.1",
        b"Content-Type: application/json",
        b"Transfer-Encoding: chunked",
    )
    + b"%x\r\n%s\r\n" % (len(INVITE), INVITE),
}


@pytest.mark.parametrize("name", CUT_SHORT)
def test_a_body_cut_short_by_the_client_is_never_acted_on(real_target: Served, name: str) -> None:
    # Given the seeded state
    before = real_target.state()
    # When a client sends a valid invite as the start of a longer body, then stops sending
    with socket.create_connection(("127.0.0.1", real_target.port), timeout=TIMEOUT) as sock:
        sock.sendall(CUT_SHORT[name])
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                raw += chunk
    # Then it is refused as a problem detail, or the connection closed unanswered ...
    answer = parse_answer(raw)
    if answer is not None:
        assert_problem(answer.status, answer.headers, answer.body, name)
    # ... and the invite it began was never made
    assert real_target.state() == before, f"{name}: a body that never arrived whole was acted on"


# --- Slow clients -------------------------------------------------------------------------

SLOW_BODIES = 32
SLOW_HEADS = 32
PROBES = 300


def hold_slow_clients(
    port: int, bodies: int = SLOW_BODIES, heads: int = SLOW_HEADS
) -> list[socket.socket]:
    """`bodies` connections that sent a head announcing 1000 bytes and then one byte of it,
    and `heads` that sent half a head; none sends more."""
    held = []
    for _ in range(bodies):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(
            head(b"POST /v1beta/users HTTP/1.1", b"Content-Type: application/json")[:-2]
            + b"Content-Length: 1000\r\n\r\n{"
        )
        held.append(sock)
    for _ in range(heads):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(b"GET /v1beta/users HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        held.append(sock)
    time.sleep(0.5)  # until the server has taken them all in: what is measured is the siege
    return held


def still_open(sock: socket.socket) -> bool:
    """Whether the server has neither answered nor closed this connection."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer, or b"" for a close
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)
    return False


def list_latencies(mock: Served, count: int) -> list[float]:
    """Seconds each of `count` GET /users took, one after another on one connection."""
    seconds = []
    with requests.Session() as session:
        for _ in range(count):
            began = time.perf_counter()
            answer = mock.call("GET", "/users", params={"limit": 1}, session=session)
            seconds.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text
    return seconds


def p99(seconds: list[float]) -> float:
    return sorted(seconds)[max(0, round(len(seconds) * 0.99) - 1)]


def siege(mock: Served) -> tuple[float, float, int]:
    """The p99 of GET /users quiet, then with the slow clients held; how many were still held
    at the end (none answered, none let go)."""
    quiet = p99(list_latencies(mock, PROBES))
    held = hold_slow_clients(mock.port)
    try:
        loaded = p99(list_latencies(mock, PROBES))
        return quiet, loaded, sum(still_open(sock) for sock in held)
    finally:
        for sock in held:
            sock.close()


def test_slow_clients_do_not_slow_the_others(real_target: Served) -> None:
    # Given 32 clients that hold a body unsent and 32 a head unfinished
    # When another client asks for the list 300 times, one request after another
    # Then every request is answered, at p99 within 100 ms (or, on a machine so busy that the
    # quiet p99 is already near that, within three times the quiet p99). A loaded machine
    # stalls a process now and then for longer than that; a frozen mock fails every attempt,
    # so the best of three sieges is judged.
    sieges = []
    for _ in range(3):
        quiet, loaded, still_held = siege(real_target)
        assert still_held == SLOW_BODIES + SLOW_HEADS, f"only {still_held} slow clients held"
        sieges.append((loaded, quiet))
        if loaded < max(0.100, 3 * quiet):
            return
    raise AssertionError(
        "p99 with slow clients held, quiet p99 (ms): "
        + ", ".join(f"{loaded * 1000:.0f}, {quiet * 1000:.0f}" for loaded, quiet in sieges)
    )


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_a_request_that_stalls_is_let_go_within_the_read_timeout(server: str) -> None:
    # Given a mock that gives a request 1 s to arrive whole
    with spawned_mock("--server", server, "--read-timeout", "1") as spawned:
        mock = spawned.served
        before = mock.state()
        held = hold_slow_clients(mock.port, bodies=2, heads=2)
        for sock in held:
            sock.settimeout(6)
        try:
            began = time.perf_counter()
            # When they send nothing more: each is answered or closed within a few seconds
            answers = [parse_answer(sock.recv(65536)) for sock in held]
            waited = time.perf_counter() - began
        finally:
            for sock in held:
                sock.close()
        assert waited < 6
        # Then a body that stalled is a 408 problem on granian; waitress closes the connection
        # (its parser cannot answer a request it never finished reading); heads just close
        for answer in answers:
            if answer is not None and answer.status != 408:
                raise AssertionError(f"{server}: {answer}")
            if answer is not None:
                assert_problem(answer.status, answer.headers, answer.body, server)
        bodies = answers[:2]
        if server == "granian":
            assert all(answer is not None and answer.status == 408 for answer in bodies)
        # ... the mock still answers, and nothing changed
        assert_still_answers(mock)
        assert mock.state() == before


# --- The admin surface off the loopback ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("mock.internal", False),
        ("localhost.example.com", False),
    ],
)
def test_only_loopback_addresses_count_as_the_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_binding_beyond_the_loopback_without_a_token_or_no_admin_is_refused() -> None:
    command = [sys.executable, "-m", "mock_server.cli", "--host", "0.0.0.0", "--port"]
    done = subprocess.run([*command, str(free_port())], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--admin-token" in done.stderr and "--no-admin" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("options", "admin_answers"),
    [
        (("--admin-token", "t0k3n-for-tests"), {None: 401, "t0k3n-for-tests": 200}),
        (("--no-admin",), {None: 404}),
    ],
    ids=["admin token", "no admin"],
)
def test_beyond_the_loopback_the_admin_surface_needs_its_token_or_is_gone(
    options: tuple[str, ...], admin_answers: dict[str | None, int]
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "mock_server.cli", "--host", "0.0.0.0", "--port", str(port)]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        # Then it says so at start ...
        banner = []
        for line in process.stdout or []:
            banner.append(line)
            if "beyond the loopback" in line:
                break
        assert "beyond the loopback on 0.0.0.0" in banner[-1], banner
        assert ("X-Admin-Token" if "--admin-token" in options else "off") in banner[-1]
        mock = Served(f"http://127.0.0.1:{port}")
        deadline = time.perf_counter() + 30
        while True:
            with contextlib.suppress(requests.ConnectionError):
                assert_still_answers(mock)
                break
            assert time.perf_counter() < deadline, "the mock did not start within 30 s"
            time.sleep(0.05)
        # ... and the admin surface answers only with the token, or not at all
        for token, status in admin_answers.items():
            headers = {"X-Admin-Token": token} if token else {}
            answer = requests.get(mock.root_url + "/_mock/state", headers=headers, timeout=10)
            assert answer.status_code == status, answer.text
            assert "t0k3n-for-tests" not in answer.text
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- Sustained load -----------------------------------------------------------------------

LOAD_SECONDS = 10.0
WARMUP_SECONDS = 3.0
CLIENTS = 6
MAX_REQUESTS_PER_CLIENT = 50_000  # a bound besides the clock
# Resident memory the mock process may gain during the measured run, after the warm-up: what it
# keeps on purpose (the invite log, cached instants) is far below this; a leak of a few hundred
# bytes a request is not.
RSS_BOUND = 8 * 1024 * 1024

# Each step of the workload and the statuses it may answer.
ALLOWED: dict[str, set[int]] = {
    "list": {200},
    "walk": {200},
    "get": {200, 404},
    "invite": {201, 409},
    "put": {200, 404},
    "delete": {204, 404},
    "bad key": {401},
    "bad body": {400},
    "owner": {409},
}
REFUSALS = {"bad key", "bad body", "owner"}


class Client:
    """One client of the mixed workload: its own session and a small pool of emails."""

    def __init__(self, mock: Served, number: int) -> None:
        self.mock = mock
        self.session = requests.Session()
        self.random = random.Random(number)
        self.emails = [f"load{number}-{i}@example.com" for i in range(8)]
        self.members: dict[str, str] = {}  # email -> user_id, as far as this client knows
        self.seen: Counter[tuple[str, int]] = Counter()
        self.unexpected: list[str] = []

    def step(self) -> None:
        kind = self.random.choices(list(ALLOWED), weights=[6, 1, 6, 4, 5, 3, 1, 1, 1])[0]
        answer = self.send(kind)
        self.seen[kind, answer.status_code] += 1
        if answer.status_code not in ALLOWED[kind]:
            self.unexpected.append(f"{kind}: {answer.status_code} {answer.text[:200]}")

    def send(self, kind: str) -> requests.Response:
        def call(method: str, path: str, **kwargs: Any) -> requests.Response:
            return self.mock.call(method, path, session=self.session, **kwargs)

        email = self.random.choice(self.emails)
        user_id = self.members.get(email, NEVER_ISSUED_ID)
        if kind == "list":
            return call("GET", "/users", params={"limit": 25})
        if kind == "walk":
            self.mock.list_ids()
            return call("GET", "/users")
        if kind == "get":
            return call("GET", f"/users/{user_id}")
        if kind == "invite":
            body = {"email": email, "membership": {"notes": "load", "structured_data": {"k": 1}}}
            answer = call("POST", "/users", json=body)
            if answer.status_code == 201:
                self.members[email] = answer.json()["member"]["user_id"]
            return answer
        if kind == "put":
            body = {"notes": f"n{self.random.randrange(1000)}", "is_coach": True}
            return call("PUT", f"/users/{user_id}", json=body)
        if kind == "delete":
            return call("DELETE", f"/users/{user_id}")
        if kind == "bad key":
            return self.mock.call("GET", "/users", key="mgak_nobody.nothing", session=self.session)
        if kind == "bad body":
            return call("POST", "/users", data=b"{", headers={"Content-Type": "application/json"})
        return call("DELETE", f"/users/{OWNER_A_ID}")

    def run_until(self, deadline: float) -> None:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.perf_counter() >= deadline:
                return
            self.step()


def run_load(clients: list[Client], seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        for done in [pool.submit(client.run_until, deadline) for client in clients]:
            done.result()


@pytest.fixture
def mock_process() -> Iterator[MockProcess]:
    """The mock on granian (the command's default), with invite limits out of reach."""
    if not Path("/proc/self/status").exists():
        pytest.skip("reads resident memory from /proc")
    with spawned_mock("--invites-per-hour", "1000000", "--safety-cap", "1000000") as spawned:
        yield spawned


def test_sustained_mixed_load_answers_every_request_and_keeps_memory_steady(
    mock_process: MockProcess,
) -> None:
    # Given the mock in its own process, with invite limits a long run cannot reach
    mock = mock_process.served
    clients = [Client(mock, number) for number in range(CLIENTS)]
    try:
        # When six clients mix reads, invites, updates, removals and refusals: a warm-up ...
        run_load(clients, WARMUP_SECONDS)
        after_warmup = mock_process.rss()
        # ... then the measured run
        run_load(clients, LOAD_SECONDS)
        after_load = mock_process.rss()
    finally:
        for client in clients:
            client.session.close()
    seen = sum((client.seen for client in clients), Counter())
    sent = sum(seen.values())
    # Then every answer was one its step allows (no 5xx, no error of the client) ...
    unexpected = [line for client in clients for line in client.unexpected]
    assert not unexpected, unexpected[:10]
    assert sent > 1000, f"only {sent} requests in {WARMUP_SECONDS + LOAD_SECONDS:g} s"
    assert {kind for kind, status in seen if status < 300} == set(ALLOWED) - REFUSALS
    # ... the state is still consistent: the list walk matches the exported active members
    active = {
        m["user_id"]
        for m in mock.state()["memberships"]
        if m["avatar_id"] == AVATAR_A and m["status"] == "active"
    }
    listed = mock.list_ids()
    assert len(listed) == len(set(listed)) and set(listed) == active
    # ... and the process holds about the memory it held after the warm-up
    growth = after_load - after_warmup
    assert growth < RSS_BOUND, (
        f"RSS grew by {growth / 2**20:.1f} MiB over {sent} requests "
        f"({growth / sent:.0f} bytes a request)"
    )
