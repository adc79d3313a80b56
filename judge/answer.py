"""The neutral answer every judgement reads: status, headers, body, and what was asked.

Drivers build one from whatever their HTTP layer gives (requests, Schemathesis, Flask's test
client); the judge never sees that layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_NOT_JSON = object()


class Headers(Mapping[str, str]):
    """Answer headers, looked up ignoring case; a header sent several times is joined by ", "."""

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._values: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            values = value if isinstance(value, list | tuple) else [value]
            text = ", ".join(str(v) for v in values)
            key = name.lower()
            if key in self._values:
                text = f"{self._values[key][1]}, {text}"
            self._values[key] = (name, text)

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Answer:
    """One answer and the request it answers (`path` relative to the API base, e.g. /users)."""

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    method: str = ""
    path: str = ""

    @classmethod
    def of(cls, status: int, headers: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
           body: bytes | str | None = b"", *, method: str = "", path: str = "",
           json_body: Any = _NOT_JSON) -> Answer:
        """An answer from plain values; `json_body` is serialised when given."""
        if json_body is not _NOT_JSON:
            body = json.dumps(json_body).encode()
        if isinstance(body, str):
            body = body.encode()
        return cls(status, Headers(headers), body or b"", method.upper(), path)

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON; None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def media_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def code(self) -> Any:
        """The problem detail's `code`, if the body is an object that has one."""
        body = self.json
        return body.get("code") if isinstance(body, dict) else None

    @property
    def where(self) -> str:
        """How a finding names this answer: `GET /users/x answered 404`."""
        asked = f"{self.method} {self.path}".strip()
        return f"{asked} answered {self.status}" if asked else f"an answer {self.status}"

    @property
    def is_invite(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0].rstrip("/") == "/users"
