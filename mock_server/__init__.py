"""A stateful mock of the MaxGood.work v1beta user-management API."""

from .config import MockConfig
from .http.app import create_app

__all__ = ["MockConfig", "create_app"]
