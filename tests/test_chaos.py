"""Chaos: latency, 503s and dropped connections on the API, seeded so that a run replays, and
never a change of state."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from harness.target import EMBEDDED_KEY_A
from mock_server.cli import main, parse_args
from mock_server.core.chaos import ChaosSettings
from mock_server.serve import start_in_thread

from .conftest import ADMIN_PREFIX, Admin, Api, CheckedClient, make_app
from .test_state_file import mock_process

pytestmark = pytest.mark.unchecked_answers  # a 503 is outside the contract, on purpose


def set_chaos(client: CheckedClient, **settings: Any) -> dict[str, Any]:
    answer = client.put(ADMIN_PREFIX + "/chaos", json=settings)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latency=50-200,error-rate=0.1,drop-rate=0.05,seed=7",
         ChaosSettings((50, 200), 0.1, 0.05, 7)),
        ("latency=120ms", ChaosSettings((120, 120))),
        ("error_rate=1, retry-after=5", ChaosSettings(error_rate=1.0, retry_after=5)),
        ("", ChaosSettings()),
    ],
)
def test_chaos_settings_are_read_from_one_line(text: str, expected: ChaosSettings) -> None:
    assert ChaosSettings.parse(text) == expected


@pytest.mark.parametrize("text", ["latency=200-50", "error-rate=1.5", "jitter=3", "seed",
                                  "error-rate=0.6,drop-rate=0.6", "seed=x", "retry-after=0"])
def test_bad_chaos_settings_are_refused_at_start(text: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--chaos", text])
    assert stopped.value.code == 2
    assert "--chaos" in capsys.readouterr().err


def test_every_failure_is_a_503_with_retry_after_and_changes_nothing(api_a: Api, admin: Admin,
                                                                     client: CheckedClient) -> None:
    # Given chaos failing every API request
    before = admin.state()
    set_chaos(client, error_rate=1, retry_after=3)
    # When the API is called
    invited = api_a.invite("never.arrives@example.com")
    # Then it answers 503 as a problem with Retry-After, and the invite did not happen
    assert invited.status_code == 503
    assert invited.json["code"] == "service_unavailable"
    assert invited.headers["Retry-After"] == "3"
    assert invited.mimetype == "application/problem+json"
    admin.assert_unchanged(before)
    # And the admin surface and the browser's preflights are not disturbed
    assert client.options("/v1beta/users", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
    ).status_code == 204


def test_the_same_seed_replays_the_same_failures(api_a: Api, client: CheckedClient) -> None:
    def run() -> list[int]:
        set_chaos(client, error_rate=0.5, seed=1234)
        return [api_a.list().status_code for _ in range(30)]

    first = run()
    assert set(first) == {200, 503}
    assert run() == first
    assert client.get(ADMIN_PREFIX + "/chaos").json["draws"] == 30


def test_without_a_seed_one_is_picked_and_shown(client: CheckedClient) -> None:
    shown = set_chaos(client, error_rate=0.2)
    assert isinstance(shown["seed"], int) and shown["active"]
    assert set_chaos(client)["active"] is False


def test_latency_delays_the_answer(api_a: Api, client: CheckedClient) -> None:
    set_chaos(client, latency_ms={"min": 150, "max": 150})
    started = time.perf_counter()
    assert api_a.list().status_code == 200
    assert time.perf_counter() - started >= 0.15


@pytest.mark.parametrize("settings", [{"error_rate": 2}, {"error_rate": 0.7, "drop_rate": 0.7},
                                      {"latency_ms": {"min": 9, "max": 1}}, {"colour": "red"}])
def test_bad_settings_are_refused_and_change_nothing(client: CheckedClient,
                                                     settings: dict[str, Any]) -> None:
    before = client.get(ADMIN_PREFIX + "/chaos").json
    assert client.put(ADMIN_PREFIX + "/chaos", json=settings).status_code == 400
    assert client.get(ADMIN_PREFIX + "/chaos").json == before


def test_reset_restores_the_chaos_of_the_start() -> None:
    client = make_app(chaos="error-rate=0.25,seed=9").test_client()
    set_chaos(client)
    assert client.post(ADMIN_PREFIX + "/reset").status_code == 204
    shown = client.get(ADMIN_PREFIX + "/chaos").json
    assert (shown["error_rate"], shown["seed"], shown["draws"]) == (0.25, 9, 0)


@contextlib.contextmanager
def served(**config: Any) -> Iterator[str]:
    server = start_in_thread(make_app(**config))
    try:
        yield server.root_url
    finally:
        server.stop()


def assert_dropped(root: str) -> None:
    before = requests.get(root + ADMIN_PREFIX + "/state", timeout=10).content
    with pytest.raises(requests.ConnectionError):
        requests.post(root + "/v1beta/users", json={"email": "dropped@example.com"}, timeout=10,
                      headers={"Authorization": f"Bearer {EMBEDDED_KEY_A}"})
    assert requests.get(root + ADMIN_PREFIX + "/state", timeout=10).content == before
    (entry,) = requests.get(root + ADMIN_PREFIX + "/requests", timeout=10).json()["requests"]
    assert entry["code"] == "connection_dropped"


def test_a_dropped_connection_ends_before_any_answer_in_process() -> None:
    with served(chaos="drop-rate=1") as root:
        assert_dropped(root)


def test_a_dropped_connection_under_waitress() -> None:
    with mock_process("--server", "waitress", "--chaos", "drop-rate=1") as (_, root):
        assert_dropped(root)


def test_granian_cannot_drop_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--server", "granian", "--chaos", "drop-rate=0.1"])
    assert stopped.value.code == 2
    assert "waitress" in capsys.readouterr().err
