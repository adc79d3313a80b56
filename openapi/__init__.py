"""The hand-written specs, shipped with the package: the single source of truth."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
API_SPEC_PATH = HERE / "v1beta.yaml"
ADMIN_SPEC_PATH = HERE / "mock-admin.yaml"
API_PREFIX = "/v1beta"


@functools.cache
def load_api_spec() -> dict[str, Any]:
    """The v1beta spec as a dict, parsed once; treat it as read-only."""
    return yaml.safe_load(API_SPEC_PATH.read_text(encoding="utf-8"))


@functools.cache
def load_admin_spec() -> dict[str, Any]:
    """The mock's admin spec as a dict, parsed once; treat it as read-only."""
    return yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))
