"""The one problem+json envelope (RFC 9457) every refusal is answered with (R12)."""

from __future__ import annotations

from typing import Any

from .core.errors import ApiError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://api.maxgood.work/problems/"


class ProblemRenderer:
    """Turns an ApiError into the problem body and the headers that go with it."""

    def body(self, error: ApiError, request_id: str) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + error.code,
            "title": error.title,
            "status": error.status,
            "detail": error.detail,
            "code": error.code,
            "request_id": request_id,
            **error.extensions(),
        }

    def headers(self, error: ApiError) -> dict[str, str]:
        return error.headers()
