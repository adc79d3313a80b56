"""A pytest plugin for integrators: the `maxgood_mock` fixture.

Installed with the package (entry point `pytest11`), so a test suite only asks for it::

    def test_invite(maxgood_mock):
        client = MyClient(maxgood_mock.base_url, maxgood_mock.api_key)
        client.invite("alex@example.com")
        (call,) = maxgood_mock.requests(method="POST")
        assert call["status"] == 201

One mock per test session, served in-process on a free loopback port, and reset before each
test (seed, clock, faults, chaos, journal). Override the `maxgood_mock_config` fixture (scope
session) to start it with other limits, a seed file or faults.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

ADMIN_TIMEOUT = 10


@dataclass
class MaxGoodMock:
    """The running mock: where it is, the demo keys, and its admin surface as methods."""

    root_url: str
    api_key: str  # Avatar A: avt_acme, enterprise
    api_key_b: str  # Avatar B: avt_solo, essential
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def base_url(self) -> str:
        """The API's base URL, ending in /v1beta."""
        return self.root_url + "/v1beta"

    @property
    def admin_url(self) -> str:
        return self.root_url + "/_mock"

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed: state, clock, faults, chaos and journal as at start."""
        self._admin("POST", "/reset", expect=204)

    def state(self) -> dict[str, Any]:
        """The whole state (a dump that --seed and --state load)."""
        return self._admin("GET", "/state").json()

    def load_state(self, dump: dict[str, Any]) -> None:
        self._admin("PUT", "/state", json=dump)

    # -- tenants and people ----------------------------------------------------------------------

    def add_avatar(self, type: str = "essential", name: str = "Northwind Mentoring",
                   owner_email: str = "owner@northwind.example",
                   owner_name: str | None = "Nia North") -> dict[str, str]:
        """A new Avatar with its owner and a key: {"avatar_id", "api_key", "owner_user_id"}."""
        body = {"type": type, "name": name, "owner_email": owner_email, "owner_name": owner_name}
        return self._admin("POST", "/avatars", json=body, expect=201).json()

    def add_key(self, avatar_id: str) -> dict[str, str]:
        """Another key for an Avatar: {"credential_id", "api_key"}."""
        return self._admin("POST", f"/avatars/{avatar_id}/keys", expect=201).json()

    def revoke_key(self, credential_id: str) -> None:
        self._admin("DELETE", f"/keys/{credential_id}", expect=204)

    def add_user(self, email: str, name: str | None = None, role: str | None = None,
                 expertise: str | None = None, locale: str | None = None) -> str:
        """Someone who already has a MaxGood.work account but no membership here; the user id."""
        body = {"email": email, "name": name, "role": role, "expertise": expertise,
                "locale": locale}
        return self._admin("POST", "/users", json=body, expect=201).json()["user_id"]

    # -- time, faults, chaos -------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> str:
        """Move the mock's clock forward (the rolling-hour invite limits follow); the new now."""
        return self._admin("POST", "/clock/advance", json={"seconds": seconds}).json()["now"]

    def set_faults(self, *names: str) -> None:
        """Switch these injectable faults on and every other off (`maxgood-mock --list-faults`)."""
        self._admin("PUT", "/faults", json={"active": list(names)})

    def set_chaos(self, **settings: Any) -> dict[str, Any]:
        """latency_ms={"min", "max"}, error_rate, drop_rate, seed, retry_after; none: off."""
        return self._admin("PUT", "/chaos", json=settings).json()

    # -- the journal -----------------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None,
                 status: int | str | None = None) -> list[dict[str, Any]]:
        """What the API received since the test began, oldest first (see GET /_mock/requests)."""
        query = {k: str(v) for k, v in (("method", method), ("path", path), ("status", status))
                 if v is not None}
        return self._admin("GET", "/requests", params=query).json()["requests"]

    def clear_requests(self) -> None:
        self._admin("DELETE", "/requests", expect=204)

    def _admin(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        answer = self.http.request(method, self.admin_url + path, timeout=ADMIN_TIMEOUT, **kwargs)
        if answer.status_code != expect:
            raise AssertionError(f"{method} /_mock{path} answered {answer.status_code}: "
                                 f"{answer.text[:500]}")
        return answer


@pytest.fixture(scope="session")
def maxgood_mock_config() -> Any:
    """The MockConfig the session's mock starts with; override it to change limits or seed."""
    from mock_server.config import MockConfig

    return MockConfig()


@pytest.fixture(scope="session")
def maxgood_mock_server(maxgood_mock_config: Any) -> Iterator[MaxGoodMock]:
    """The session's mock, served from a thread on a free loopback port."""
    from mock_server import create_app
    from mock_server.core.seed import seed_keys
    from mock_server.serve import start_in_thread

    config = maxgood_mock_config
    if not config.admin:
        raise pytest.UsageError("maxgood_mock needs the admin surface (admin=True)")
    first_keys: dict[str, str] = {}  # the first key of each Avatar, in the seed's order
    for avatar_id, _, key in seed_keys(config.seed):
        first_keys.setdefault(avatar_id, key)
    key_a, key_b = [*first_keys.values(), "", ""][:2]
    server = start_in_thread(create_app(config))
    try:
        yield MaxGoodMock(server.root_url, key_a, key_b)
    finally:
        server.stop()


@pytest.fixture
def maxgood_mock(maxgood_mock_server: MaxGoodMock) -> MaxGoodMock:
    """The mock, reset for this test."""
    maxgood_mock_server.reset()
    return maxgood_mock_server
