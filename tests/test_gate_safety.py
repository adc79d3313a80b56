"""The gate never fails open: killed, cut off, or fed an invite it cannot read.

- The guard refuses every invite whose body it cannot read as one address made from the
  template, whatever the form (in-process, one case per form).
- The ledger holds each invite before it is sent, and each creation and removal as answered.
- A gate killed with SIGKILL at many points of a run leaves members behind, and
  `maxgood-contract cleanup` removes every one of them: the lists read exactly as before.
- A new run removes what a killed run left before it records the pre-existing members.
- A server lost mid-run makes the run exit 2 (incomplete), listing what is left and the cleanup
  command; never 1, which means a rule was broken.

The mock runs as a separate process (the fixtures of `test_gate`); between it and the gate sits
a small proxy that counts requests and, on cue, kills the gate, hangs, or stops listening.
"""

from __future__ import annotations

import gzip
import http.client
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from gate import ledger as ledgers
from harness.guard import LOST_AFTER, Guard, ServerLost, UnsafeRequest
from tests.test_gate import (  # noqa: F401 (module fixtures: mock_factory, seed_file)
    BIN,
    KEY_A,
    KEY_B,
    SMALL_BUDGET,
    MockProcess,
    mock_factory,
    seed_file,
)

BASE = "http://api.test/v1beta"
TEMPLATE = "qa+{token}@example.com"
VICTIM = "victim@real.example"


# --- the guard reads an invite strictly, or refuses it -----------------------------------------


def guard(**options: object) -> Guard:
    return Guard(BASE, {"A": "key-a"}, TEMPLATE, **options)  # type: ignore[arg-type]


def raw_invite(body: object, content_type: str | None = "application/json",
               query: str = "", **headers: str) -> requests.PreparedRequest:
    request = requests.Request("POST", f"{BASE}/users{query}",
                               headers={"Authorization": "Bearer key-a"} | headers).prepare()
    request.body = body  # type: ignore[assignment]
    if content_type is not None:
        request.headers["Content-Type"] = content_type
    else:
        request.headers.pop("Content-Type", None)
    return request


def created(user_id: str = "u1") -> requests.Response:
    response = requests.Response()
    response.status_code = 201
    response._content = json.dumps({"existing_user": False, "member": {"user_id": user_id}}
                                   ).encode()
    return response


MULTIPART = (b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\n'
             + VICTIM.encode() + b"\r\n--b--\r\n")


@pytest.mark.xdist_group("gate-unit")
@pytest.mark.parametrize(("body", "content_type", "query"), [
    pytest.param(f"email={VICTIM}", "application/x-www-form-urlencoded", "", id="form body"),
    pytest.param("email=qa%2Bx%40example.com", "application/x-www-form-urlencoded", "",
                 id="form body even with a template address"),
    pytest.param(MULTIPART, "multipart/form-data; boundary=b", "", id="multipart"),
    pytest.param(f'{{"email":"{VICTIM}",}}', "application/json", "", id="trailing comma"),
    pytest.param('{"email":"qa+x@example.com",}', "application/json", "",
                 id="trailing comma with a template address"),
    pytest.param(f'{{"email":["{VICTIM}"]}}', "application/json", "", id="email as a list"),
    pytest.param('{"email":["qa+x@example.com"]}', "application/json", "",
                 id="template address in a list"),
    pytest.param(f'{{"email":{{"address":"{VICTIM}"}}}}', "application/json", "",
                 id="email as an object"),
    pytest.param(f'{{"email":"qa+x@example.com","email":"{VICTIM}"}}', "application/json", "",
                 id="duplicate keys"),
    pytest.param('{"profile":{"name":"a","name":"b"},"email":"qa+x@example.com"}',
                 "application/json", "", id="duplicate nested keys"),
    pytest.param(b'{"email":"qa+x@example.com","profile":{"name":"\xff"}}', "application/json",
                 "", id="not UTF-8"),
    pytest.param(f'{{"email":"{VICTIM}"}}'.encode("utf-16"), "application/json; charset=utf-16",
                 "", id="UTF-16"),
    pytest.param(b'\xef\xbb\xbf{"email":"qa+x@example.com"}', "application/json", "",
                 id="byte order mark"),
    pytest.param(f'{{"email":"qa+x@example.com","Email":"{VICTIM}"}}', "application/json", "",
                 id="a second email field in another case"),
    pytest.param(f'{{"email":"qa+x@example.com","\\uff45mail":"{VICTIM}"}}', "application/json",
                 "", id="a second email field in fullwidth letters"),
    pytest.param(f'{{"email":"qa+x@example.com","profile":{{"email":"{VICTIM}"}}}}',
                 "application/json", "", id="an email field in the profile"),
    pytest.param(f'"email={VICTIM}"', "application/json", "", id="a JSON string"),
    pytest.param(f'["{VICTIM}"]', "application/json", "", id="a JSON array"),
    pytest.param(f'{{"email":"{VICTIM}"}}', "text/plain", "", id="JSON sent as text/plain"),
    pytest.param(f'{{"email":"{VICTIM}"}}', None, "", id="JSON with no content type"),
    pytest.param('{"email":"qa+x@example.com"}', None, "",
                 id="template JSON with no content type"),
    pytest.param(None, "application/json", f"?email={VICTIM}", id="address in the query"),
    pytest.param('{"email":"qa+x@example.com"}', "application/json", "?e%6Dail=x%40real.example",
                 id="encoded address in the query"),
    pytest.param(io.BytesIO(b'{"email":"qa+x@example.com"}'), "application/json", "",
                 id="a stream it cannot read without consuming"),
    pytest.param(gzip.compress(f'{{"email":"{VICTIM}"}}'.encode()), "application/json", "",
                 id="gzip-encoded body"),
])
def test_guard_refuses_an_invite_it_cannot_read_as_one_template_address(
    body: object, content_type: str | None, query: str
) -> None:
    # Given a guard on a real server's traffic
    g = guard()
    sent = []
    headers = {"Content-Encoding": "gzip"} if isinstance(body, bytes) and body[:2] == b"\x1f\x8b" \
        else {}
    # When an invite arrives whose body it cannot read as exactly one template address
    with pytest.raises(UnsafeRequest, match="cannot read"):
        g.send(raw_invite(body, content_type, query, **headers),
               lambda: sent.append(1) or created())
    # Then it is refused before anything is sent, and nothing is counted or booked
    assert sent == [] and g.requests == 0 and g.entries() == []


@pytest.mark.xdist_group("gate-unit")
@pytest.mark.parametrize(("body", "content_type"), [
    ('{"email":"qa+x@example.com","profile":{"name":"Ann"}}', "application/json"),
    ('{"email":"  QA+X@EXAMPLE.COM "}', "application/json; charset=utf-8"),
    ('{"email":"qa+x@example.com"}', "application/merge-patch+json"),
    # Bodies that name nobody cannot invite anyone: negative tests of the contract go through.
    ('{"email":42}', "application/json"),
    ('{"email":null,"profile":{}}', "application/json"),
    ('{"email":[],"profile":{}}', "application/json"),
    ('{"email":[1, true, null, {}]}', "application/json"),
    ('{"profile":{"name":"no address"}}', "application/json"),
    ("[1, 2]", "application/json"),
    (None, "application/json"),
])
def test_guard_admits_one_template_address_or_none(body: str | None, content_type: str) -> None:
    g = guard()
    g.send(raw_invite(body, content_type), created)
    assert g.requests == 1


@pytest.mark.xdist_group("gate-unit")
def test_guard_refuses_a_template_address_whose_case_folding_is_not_ascii() -> None:
    g = Guard(BASE, {"A": "key-a"}, "qa+{token}@kompany.example")
    with pytest.raises(UnsafeRequest):  # the Kelvin sign K folds to k only outside ASCII
        g.send(raw_invite('{"email":"qa+x@\u212aompany.example"}'), created)


@pytest.mark.xdist_group("gate-unit")
def test_guard_counts_the_server_lost_after_requests_in_a_row_get_no_answer() -> None:
    # Given a server that stops answering
    g = guard()
    listing = requests.Request("GET", f"{BASE}/users",
                               headers={"Authorization": "Bearer key-a"}).prepare()

    def refused() -> requests.Response:
        raise requests.ConnectionError("Connection refused")

    g.send(listing, lambda: created())  # an answer resets the count
    for _ in range(LOST_AFTER):
        with pytest.raises(requests.ConnectionError):
            g.send(listing, refused)
    # When the run sends another request, it is refused without being sent: a run against a
    # dead server ends after a few timeouts, not one per request
    sent: list[int] = []
    with pytest.raises(ServerLost, match="stopped answering"):
        g.send(listing, lambda: sent.append(1) or created())
    assert sent == [] and g.lost is not None
    # Cleanup may still try (it has its own, shorter, patience)
    g.teardown = True
    g.send(listing, lambda: created())


# --- the ledger -------------------------------------------------------------------------------


@pytest.mark.xdist_group("gate-unit")
def test_ledger_holds_each_invite_before_it_is_sent(tmp_path: Path) -> None:
    # Given a guard whose journal is a ledger on disk
    path = tmp_path / "ledger.jsonl"
    book = ledgers.Ledger(path, "mgc00000001")
    g = guard(journal=book)
    seen_before_sending: list[dict[str, object]] = []

    def forward() -> requests.Response:
        # What a SIGKILL at this instant would leave on disk
        seen_before_sending.extend(json.loads(line) for line in path.read_text().splitlines())
        return created("usr_1")

    # When an invite is sent, then its member removed
    g.send(raw_invite('{"email":"qa+mgc00000001g1@example.com"}'), forward)
    removal = requests.Request("DELETE", f"{BASE}/users/usr_1",
                               headers={"Authorization": "Bearer key-a"}).prepare()
    gone = requests.Response()
    gone.status_code = 204
    g.send(removal, lambda: gone)
    # Then the address was on disk before the invite left, and the ledger replays to nothing left
    assert seen_before_sending == [{"event": "invite", "run": "mgc00000001", "key": "A",
                                    "email": "qa+mgc00000001g1@example.com"}]
    (run,) = ledgers.read(path)
    assert run.invited == {"qa+mgc00000001g1@example.com": "A"}
    assert run.active == {} and run.removed == {("A", "usr_1")}


@pytest.mark.xdist_group("gate-unit")
def test_an_invite_the_ledger_cannot_hold_is_not_sent(tmp_path: Path) -> None:
    book = ledgers.Ledger(tmp_path / "ledger.jsonl", "mgc00000002")
    book.close()  # every write now fails
    g = guard(journal=book)
    sent: list[int] = []
    with pytest.raises(UnsafeRequest, match="ledger cannot be written"):
        g.send(raw_invite('{"email":"qa+x@example.com"}'), lambda: sent.append(1) or created())
    assert sent == [] and g.requests == 0 and g.invite_attempts == 0


@pytest.mark.xdist_group("gate-unit")
def test_ledger_reading_skips_a_line_torn_by_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    book = ledgers.Ledger(path, "mgc00000003")
    book.created("A", "usr_1", "qa+1@example.com", True)
    book.close()
    with path.open("a") as torn:
        torn.write('{"event":"removed","run":"mgc00000003","key":"A","us')
    (run,) = ledgers.read(path)
    assert run.open and run.active == {("A", "usr_1"): "qa+1@example.com"}


@pytest.mark.xdist_group("gate-unit")
@pytest.mark.parametrize(("args", "message"), [
    ([], "no base URL"),
    (["--base-url", "http://127.0.0.1:9/v1beta", "--ledger", "no-such-ledger.jsonl"],
     "no ledger at no-such-ledger.jsonl"),
    (["--base-url", "http://127.0.0.1:9/v1beta"], "connection refused"),
])
def test_cleanup_exits_2_saying_what_is_wrong(tmp_path: Path, args: list[str],
                                               message: str) -> None:
    done = cleanup(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr


# --- a proxy that counts, kills, hangs and stops listening -------------------------------------


HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass
class Proxy:
    """Between the gate and the mock: forwards every request and misbehaves on cue."""

    upstream: str  # the mock's base URL
    port: int = 0
    count: int = 0
    hang_after: int | None = None  # requests after this many wait for `release`
    refuse_after: int | None = None  # after this many, the proxy stops listening
    # Called with (n, method, path) once a request reached the mock, before its answer is
    # passed back: a SIGKILL here leaves a change the gate never heard of.
    forwarded: Callable[[int, str, str], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.listen()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1beta"

    def listen(self) -> None:
        """(Again) forward everything, on the same port."""
        self.hang_after = self.refuse_after = None
        self.forwarded = None
        self.release.set()
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def next(self) -> int:
        with self._lock:
            self.count += 1
            return self.count


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a refusal is immediate

        def handle_one_request(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or not self.parse_request():
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            n = proxy.next()
            if proxy.hang_after is not None and n > proxy.hang_after:
                proxy.release.wait(120)
                return
            if proxy.refuse_after is not None and n > proxy.refuse_after:
                threading.Thread(target=proxy.stop_listening).start()
                return  # the connection closes without an answer
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            conn.close()
            if proxy.forwarded is not None:
                proxy.forwarded(n, self.command, self.path)
            try:
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            except OSError:
                pass  # the gate was killed while this answer was on its way

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def mock(mock_factory) -> MockProcess:  # noqa: F811
    """A mock of this test's own: the kills leave its state to the cleanup under test."""
    return mock_factory()


@pytest.fixture
def proxy(mock: MockProcess) -> Iterator[Proxy]:
    front = Proxy(mock.base_url)
    yield front
    front.release.set()
    front.stop_listening()


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAXGOOD_", "FUZZ_"))} | {"FUZZ_DB": "none"}
    return env | {"MAXGOOD_API_KEY": KEY_A, "MAXGOOD_API_KEY_B": KEY_B}


def start_gate(base_url: str, reports: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "maxgood-contract"), "--base-url", base_url, "--report-dir", str(reports),
         *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
        cwd=reports.parent)


def cleanup(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "maxgood-contract"), "cleanup", *args],
                          capture_output=True, text=True, timeout=120,
                          env=environment() | (env or {}), cwd=cwd)


def foreign(mock: MockProcess, before: dict[str, bytes]) -> int:
    """How many members the lists hold that were not there before."""
    known = {name: {m["user_id"] for line in pages.splitlines() for m in json.loads(line)}
             for name, pages in before.items()}
    now = {name: {m["user_id"] for line in pages.splitlines() for m in json.loads(line)}
           for name, pages in mock.lists().items()}
    return sum(len(now[name] - known[name]) for name in now)


def kill_when(process: list[subprocess.Popen[str]], should: Callable[[int, str, str], bool]
              ) -> Callable[[int, str, str], None]:
    counts: dict[str, int] = {}

    def forwarded(n: int, method: str, path: str) -> None:
        kind = "invite" if method == "POST" else method.lower()
        counts[kind] = counts.get(kind, 0) + 1
        if process and process[0].poll() is None and should(n, kind, str(counts[kind])):
            process[0].send_signal(signal.SIGKILL)
            process[0].wait(10)

    return forwarded


# Kill points spread over a run of all three suites (about 540 requests, 15 to 20 invites):
# in preflight, in the gate's checks, in each suite, at invites whose answer the gate never
# reads, and at a removal during cleanup.
KILL_POINTS = [("request", "3"), ("invite", "1"), ("request", "45"), ("invite", "4"),
               ("request", "160"), ("invite", "9"), ("request", "380"), ("delete", "8")]
RUN = [*SMALL_BUDGET, "--seed", "7"]


@pytest.mark.slow
@pytest.mark.xdist_group("gate-safety-kills")
def test_cleanup_after_sigkill_at_any_point_leaves_nothing(
    mock: MockProcess, proxy: Proxy, tmp_path: Path
) -> None:
    # Given a server with pre-existing members in two Avatars
    before = mock.lists()
    reports = tmp_path / "reports"
    left_behind, reports_of_cleanup = [], []
    for kind, at in KILL_POINTS:
        # When a gate run is killed with SIGKILL at that point ...
        process: list[subprocess.Popen[str]] = []
        proxy.count = 0
        proxy.forwarded = kill_when(process, lambda n, k, c, kind=kind, at=at: (
            (kind == "request" and str(n) == at) or (kind == k and c == at)))
        process.append(start_gate(proxy.base_url, reports, *RUN))
        process[0].communicate(timeout=180)
        assert process[0].returncode == -signal.SIGKILL, (kind, at, "ended before the kill")
        proxy.forwarded = None
        left_behind.append(foreign(mock, before))
        # ... and `maxgood-contract cleanup` runs with the same target and report directory
        done = cleanup("--base-url", proxy.base_url, "--report-dir", str(reports), cwd=tmp_path)
        # Then it exits 0 and every list reads exactly as before the run
        assert done.returncode == 0, (kind, at, done.stdout + done.stderr)
        assert "failed 0" in done.stdout
        assert mock.lists() == before, (kind, at, done.stdout)
        reports_of_cleanup.append(done.stdout)
    # The kills did leave members behind (else the test would prove nothing), and a second
    # cleanup finds nothing: it is idempotent.
    assert sum(left_behind) > 0 and sum(1 for n in left_behind if n) >= 4, left_behind
    # A kill between an invite reaching the server and its answer reaching the gate leaves a
    # member only the ledger's record of the invite, written before it was sent, can name.
    assert any("its answer never recorded (ledger)" in out for out in reports_of_cleanup)
    again = cleanup("--base-url", proxy.base_url, "--report-dir", str(reports), cwd=tmp_path)
    assert again.returncode == 0 and "found 0," in again.stdout, again.stdout
    print(f"\nkills: {len(KILL_POINTS)}; members left behind per kill: {left_behind}; "
          "left after cleanup: 0")


def kill_at_invite(proxy: Proxy, reports: Path, invite: int) -> None:
    process: list[subprocess.Popen[str]] = []
    proxy.forwarded = kill_when(process, lambda n, k, c: k == "invite" and c == str(invite))
    process.append(start_gate(proxy.base_url, reports, *RUN))
    process[0].communicate(timeout=180)
    assert process[0].returncode == -signal.SIGKILL
    proxy.forwarded = None


@pytest.mark.slow
@pytest.mark.xdist_group("gate-safety")
def test_a_new_run_removes_what_a_killed_run_left_first_and_never_counts_it(
    mock: MockProcess, proxy: Proxy, tmp_path: Path
) -> None:
    # Given a killed run that left members behind, and its ledger lost with its workspace
    before = mock.lists()
    kill_at_invite(proxy, tmp_path / "lost", 5)
    left = foreign(mock, before)
    assert left > 0
    # When a read-only run comes first, it names them and removes nothing
    smoke = start_gate(proxy.base_url, tmp_path / "smoke", "--suites", "gate", "--read-only")
    stdout, stderr = smoke.communicate(timeout=120)
    assert smoke.returncode == 0, stdout + stderr
    assert stdout.count("a read-only run removes nothing") == left, stdout
    assert re.search(r"pre-existing members\W+A 3, B 3", stdout), stdout
    assert foreign(mock, before) == left
    # When a new run starts with another report directory
    done = start_gate(proxy.base_url, tmp_path / "reports", "--suites", "gate")
    stdout, stderr = done.communicate(timeout=120)
    # Then it finds them through the list, removes them first and says so, passes, and its
    # pre-existing members are the seed's alone
    assert done.returncode == 0, stdout + stderr
    assert f"found {left} member(s) an earlier run left" in stderr
    assert f"before the run: {left} member(s) left by earlier runs" in stdout
    assert re.search(r"pre-existing members\W+A 3, B 3", stdout), stdout
    assert mock.lists() == before


@pytest.mark.slow
@pytest.mark.xdist_group("gate-safety")
def test_cleanup_without_the_ledger_finds_the_runs_members_through_the_template(
    mock: MockProcess, proxy: Proxy, tmp_path: Path
) -> None:
    before = mock.lists()
    kill_at_invite(proxy, tmp_path / "reports", 6)
    (tmp_path / "reports" / ledgers.LEDGER_NAME).unlink()
    done = cleanup("--base-url", proxy.base_url, "--report-dir", str(tmp_path / "reports"),
                   cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "made from the template by run mgc" in done.stdout
    assert mock.lists() == before


@pytest.mark.slow
@pytest.mark.xdist_group("gate-safety")
def test_cleanup_finds_each_avatar_by_its_id_when_the_keys_come_swapped(
    mock: MockProcess, proxy: Proxy, tmp_path: Path
) -> None:
    before = mock.lists()
    reports = tmp_path / "reports"
    kill_at_invite(proxy, reports, 6)
    done = cleanup("--base-url", proxy.base_url, "--report-dir", str(reports), cwd=tmp_path,
                   env={"MAXGOOD_API_KEY": KEY_B, "MAXGOOD_API_KEY_B": KEY_A})
    assert done.returncode == 0, done.stdout + done.stderr
    # Each membership removed through the key of its own Avatar: none mistaken for gone
    assert re.search(r"removed +Avatar B: .* \(ledger\)", done.stdout), done.stdout
    assert "already gone 0," in done.stdout, done.stdout
    assert mock.lists() == before


@pytest.mark.slow
@pytest.mark.xdist_group("gate-safety")
def test_cleanup_reports_a_member_already_gone(
    mock: MockProcess, proxy: Proxy, tmp_path: Path
) -> None:
    # Given a killed run, one of whose members someone removed meanwhile
    before = mock.lists()
    reports = tmp_path / "reports"
    kill_at_invite(proxy, reports, 6)
    (run,) = [r for r in ledgers.read(reports / ledgers.LEDGER_NAME) if r.active]
    key, user_id = next(iter(run.active))
    gone = requests.delete(f"{mock.base_url}/users/{user_id}", timeout=10, headers={
        "Authorization": f"Bearer {KEY_A if key == 'A' else KEY_B}"})
    assert gone.status_code == 204
    # When cleanup runs
    done = cleanup("--base-url", proxy.base_url, "--report-dir", str(reports), cwd=tmp_path)
    # Then it says so, removes the rest, and nothing is left
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"already gone +Avatar {key}: user {user_id}", done.stdout), done.stdout
    assert mock.lists() == before


@pytest.mark.slow
@pytest.mark.xdist_group("gate-safety")
@pytest.mark.parametrize(("mode", "after"), [("refuse", 60), ("hang", 85)])
def test_a_server_lost_mid_run_is_incomplete_not_a_violation(
    mock: MockProcess, proxy: Proxy, tmp_path: Path, mode: str, after: int
) -> None:
    # Given a server that answers `after` requests, then hangs or refuses connections
    before = mock.lists()
    if mode == "hang":
        proxy.hang_after = after
    else:
        proxy.refuse_after = after
    reports = tmp_path / "reports"
    # When the gate runs against it
    started = time.monotonic()
    run = start_gate(proxy.base_url, reports, "--suites", "gate", "--request-timeout", "1")
    stdout, stderr = run.communicate(timeout=180)
    # Then it exits 2 (incomplete), not 1, within a bounded time, listing what it could not
    # remove and printing the command that removes it
    assert run.returncode == 2, stdout + stderr
    assert time.monotonic() - started < 90
    assert "INCOMPLETE" in stdout and "server stopped answering" in stdout
    assert foreign(mock, before) > 0  # the outage did strand members
    (command,) = re.findall(
        r"remove what is left with: (maxgood-contract cleanup .*?)  \(keys", stderr)
    assert "usr_" in stdout
    # And once the server answers again, that command removes every one of them
    proxy.release.set()
    if mode == "refuse":
        proxy.listen()
    else:
        proxy.hang_after = None
    done = cleanup(*command.split()[2:], cwd=reports.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert mock.lists() == before
