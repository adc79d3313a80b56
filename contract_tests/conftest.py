"""`pytest contract_tests`: the target is --base-url or MAXGOOD_*, else the embedded mock."""

from __future__ import annotations

import contextlib

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    # ValueError: another suite's conftest, collected in the same run, added it already.
    with contextlib.suppress(ValueError):
        parser.getgroup("maxgood").addoption(
            "--base-url", default=None,
            help="the server to judge, ending in /v1beta, with MAXGOOD_API_KEY "
                 "[MAXGOOD_API_KEY_B] (default: MAXGOOD_BASE_URL, else the embedded mock)")
