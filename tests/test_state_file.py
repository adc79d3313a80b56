"""State that survives: a dump of GET /_mock/state is a seed, `--state FILE` is saved at exit,
and a bad seed or state file is one clear line and exit status 2."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.target import EMBEDDED_KEY_A, EMBEDDED_KEY_B
from mock_server.cli import main
from mock_server.core.seed import SeedError, load_start
from mock_server.http.state import _email_key
from mock_server.persist import save_state

from .conftest import ADMIN_PREFIX, Admin, Api, make_app

# What fuzzing leaves behind: C1 controls (the YAML reader refuses U+0081), bidi marks, a NUL,
# an astral character, a number beyond 64 bits.
ODD_TEXT = "caf\u00e9 \x81\x9f \u202e\u2066 \x00 \U0001f984 \ufeff"


def churn(api_a: Api, api_b: Api, admin: Admin) -> None:
    """Every kind of change the state can hold: odd Unicode, a removed membership, a revoked
    key, a new Avatar, a moved clock, invite logs."""
    odd = api_a.invite_ok("odd.unicode@example.com", profile={"name": ODD_TEXT, "locale": "fr"},
                          membership={"notes": ODD_TEXT, "structured_data": {
                              ODD_TEXT: [ODD_TEXT, 2**70, -0.5, None, {"\x81": True}]}})
    assert odd["member"]["profile"]["name"] == ODD_TEXT
    gone = api_b.add_member("gone@example.com")
    assert api_b.delete(gone["user_id"]).status_code == 204
    extra = admin.new_avatar(owner_email="Owner+\x81@Example.com")
    admin.revoke(admin.new_key(extra["avatar_id"])["credential_id"])
    admin.advance(3600.25)


def test_a_dump_after_odd_data_loads_back_as_a_seed(api_a: Api, api_b: Api, admin: Admin,
                                                   tmp_path: Path) -> None:
    # Given a state that fuzzing-like data has been through
    churn(api_a, api_b, admin)
    dump = admin.state()
    assert b"\xc2\x81" in dump  # U+0081, as the API answered it (raw UTF-8 in the JSON)
    # When the dump, saved exactly as answered, is the seed of another mock
    (tmp_path / "state.json").write_bytes(dump)
    again = Admin(make_app(seed=str(tmp_path / "state.json")).test_client())
    # Then that mock holds the same state, byte for byte, and both keys still work
    assert again.state() == dump
    for key in (EMBEDDED_KEY_A, EMBEDDED_KEY_B):
        assert Api(again.client, key).list().status_code == 200


def test_the_default_seed_round_trips_through_a_state_file(admin: Admin, tmp_path: Path) -> None:
    # The dump the issue saw fail: the seed's own state, loaded through --state
    path = tmp_path / "saved.json"
    path.write_bytes(admin.state())
    again = Admin(make_app(state_file=str(path)).test_client())
    assert json.loads(again.state()) == json.loads(admin.state())


def test_a_saved_state_is_complete_and_written_whole(api_a: Api, api_b: Api, admin: Admin,
                                                    app, tmp_path: Path) -> None:
    # Given a changed state saved over an older file
    churn(api_a, api_b, admin)
    path = tmp_path / "mock-state.json"
    path.write_text("old", encoding="utf-8")
    save_state(app.extensions["maxgood"], path)
    # Then the file is the dump (ASCII-escaped), with no temporary file left beside it
    assert json.loads(path.read_text(encoding="ascii")) == json.loads(admin.state())
    assert [p.name for p in tmp_path.iterdir()] == ["mock-state.json"]
    # And it loads back with its clock offset
    start = load_start(path, _email_key)
    assert start.clock_offset == pytest.approx(3600.25)


def test_a_state_without_an_owner_is_refused_through_the_admin_too(admin: Admin) -> None:
    # Given a dump whose Avatar lost its owner (R9 cannot hold from such a state)
    before = admin.state()
    dump = json.loads(before)
    for membership in dump["memberships"]:
        membership["is_owner"] = False
    # When it is put back
    answer = admin.put_state(json.dumps(dump).encode())
    # Then it is refused, naming the rule, and nothing changed
    assert answer.status_code == 400
    assert "exactly one owner" in answer.json["errors"][0]["message"]
    admin.assert_unchanged(before)


def owner_lost(dump: dict) -> dict:
    dump["memberships"] = [m for m in dump["memberships"] if not m["is_owner"]]
    return dump


def unknown_avatar(dump: dict) -> dict:
    dump["memberships"][0]["avatar_id"] = "avt_nowhere"
    return dump


def two_owners(dump: dict) -> dict:
    for membership in dump["memberships"]:
        membership["is_owner"] = True
    return dump


def field_missing(dump: dict) -> dict:
    del dump["users"][0]["email"]
    return dump


def unknown_field(dump: dict) -> dict:
    dump["avatars"][0]["colour"] = "blue"
    return dump


def bad_instant(dump: dict) -> dict:
    dump["users"][0]["created_at"] = "yesterday"
    return dump


BAD_DUMPS = [owner_lost, unknown_avatar, two_owners, field_missing, unknown_field, bad_instant]

BAD_FILES = {
    "not JSON": b'{"avatars": [',
    "not YAML": b"avatars: [\n  - {",
    "not a mapping": b"- a\n- b\n",
    "not UTF-8": b"avatars: [\xff]\n",
    "a seed without its owner": b"avatars:\n  - {avatar_id: avt_x, name: X, type: essential}\n",
    "an unknown type": b"avatars:\n  - {avatar_id: avt_x, name: X, type: premium}\n",
    "a seed key of the wrong form": b"avatars:\n  - {avatar_id: a, name: X, type: essential, "
                                    b"keys: [nope]}\n",
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(["--port", "1", *argv])
    return stopped.value.code, capsys.readouterr().err


def assert_one_clear_line(err: str, path: Path) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("maxgood-mock: ") and str(path) in lines[0]


@pytest.mark.parametrize("spoil", BAD_DUMPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("option", ["--seed", "--state"])
def test_a_bad_dump_is_one_line_and_exit_2(spoil, option: str, admin: Admin, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spoil(json.loads(admin.state()))), encoding="utf-8")
    status, err = run_cli(capsys, option, str(path))
    assert status == 2
    assert_one_clear_line(err, path)


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_seed_file_is_one_line_and_exit_2(content: bytes, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    status, err = run_cli(capsys, "--seed", str(path))
    assert status == 2
    assert_one_clear_line(err, path)
    with pytest.raises(SeedError):
        load_start(path, _email_key)


def test_a_missing_seed_file_is_one_line_and_exit_2(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_cli(capsys, "--seed", str(tmp_path / "nowhere.yaml"))
    assert status == 2
    assert_one_clear_line(err, tmp_path / "nowhere.yaml")


# --- the process saves its state when told to stop ------------------------------------------


@contextlib.contextmanager
def mock_process(*options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mock_server.cli", "--port", str(port), "--quiet", *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            with contextlib.suppress(requests.ConnectionError):
                requests.get(root + "/openapi.json", timeout=2)
                break
            assert time.monotonic() < deadline, "the mock did not start within 30 s"
            time.sleep(0.05)
        yield process, root
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def invite(root: str, email: str) -> str:
    answer = requests.post(root + "/v1beta/users", json={"email": email}, timeout=10,
                           headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}"})
    assert answer.status_code == 201, answer.text
    return answer.json()["member"]["user_id"]


@pytest.mark.parametrize(
    ("server", "stop"),
    [("waitress", signal.SIGTERM), ("waitress", signal.SIGINT), ("granian", signal.SIGTERM)],
)
def test_the_state_is_saved_when_the_mock_is_stopped(server: str, stop: signal.Signals,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "mock-state.json"
    # Given a mock started with --state (no file yet: the seed) and a member invited
    with mock_process("--server", server, "--state", str(path)) as (process, root):
        user_id = invite(root, f"kept.{server}@example.com")
        dump = requests.get(root + ADMIN_PREFIX + "/state", timeout=10).json()
        # When it is told to stop
        process.send_signal(stop)
        process.wait(timeout=20)
        # Then it saved its state
        assert json.loads(path.read_text(encoding="ascii")) == dump
    # And the next start goes on from there
    with mock_process("--server", server, "--state", str(path)) as (process, root):
        answer = requests.get(f"{root}/v1beta/users/{user_id}", timeout=10,
                              headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}"})
        assert answer.status_code == 200, answer.text
