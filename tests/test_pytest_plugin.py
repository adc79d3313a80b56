"""The pytest plugin installed with the mock: an integrator's suite gets `maxgood_mock` from the
entry point alone, one mock per session, reset before each test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

SUITE = '''
import requests

SEEN = []


def test_first_changes_the_state(maxgood_mock):
    assert maxgood_mock.base_url.endswith("/v1beta")
    assert maxgood_mock.api_key != maxgood_mock.api_key_b
    SEEN.append(maxgood_mock.root_url)
    answer = requests.post(maxgood_mock.base_url + "/users", json={"email": "x@example.com"},
                           headers={"Authorization": "Bearer " + maxgood_mock.api_key})
    assert answer.status_code == 201
    maxgood_mock.set_faults("wrong_field_type")
    maxgood_mock.advance_clock(7200)


def test_second_starts_from_the_seed(maxgood_mock):
    assert SEEN == [maxgood_mock.root_url]  # the same server for the whole session
    assert maxgood_mock.requests() == []  # a fresh journal
    answer = requests.get(maxgood_mock.base_url + "/users",
                          headers={"Authorization": "Bearer " + maxgood_mock.api_key_b})
    assert [m["profile"]["email"] for m in answer.json()["data"]] == [
        "coach@solo.example", "Pat.Shared@example.com"]
    assert answer.json()["data"][0]["membership"]["is_coach"] is True  # no fault left on
    (call,) = maxgood_mock.requests(method="GET")
    assert call["status"] == 200
'''


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "maxgood_mock"]
    assert plugin.value == "mock_server.pytest_plugin"


def test_a_suite_gets_the_fixture_from_the_installed_plugin(tmp_path: Path) -> None:
    # Given an integrator's suite with no conftest and no import of the mock
    (tmp_path / "test_integration.py").write_text(textwrap.dedent(SUITE), encoding="utf-8")
    # When pytest runs it in a directory of its own
    run = subprocess.run(
        # Only the plugin under test: the others installed here slow the start, not the proof.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:schemathesis",
         "-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:anyio",
         "-o", "addopts=", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    # Then both tests pass: the fixture is found, shared, and reset between them
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
