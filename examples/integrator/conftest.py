"""The mock for this suite: the plugin's `maxgood_mock` fixture, with a small invite limit."""

import pytest

from mock_server import MockConfig


@pytest.fixture(scope="session")
def maxgood_mock_config() -> MockConfig:
    # Five invites an hour, so the rate limit is reached in a few calls.
    return MockConfig(invites_per_hour=5)
