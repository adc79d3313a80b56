"""A small client of the v1beta API that records every exchange, so a failure can be replayed.

Every request goes through `ApiClient.request`, which keeps an `Exchange` (what was sent, what
came back) and counts requests. `Exchange.as_curl` renders one as a curl command with the key
redacted, and `reproduction` renders a sequence of them, in the order they were sent.
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from judge import Answer

REDACTED = "<redacted>"
DEFAULT_TIMEOUT = 30.0

_SEQUENCE = itertools.count()  # orders exchanges of several clients into one reproduction
_KEY = object()  # the default authorization: this client's own key
_NO_BODY = object()


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as sent and as seen."""

    method: str
    url: str
    request_body: Any  # the JSON sent, or None
    status: int
    headers: Mapping[str, str] = field(repr=False)  # the answer's headers, case-insensitive
    body: Any  # the answer parsed as JSON, or None when it is not JSON
    text: str = field(repr=False)
    authorization: str | None = field(default=None, repr=False)  # as shown in curl: redacted
    client: str = ""  # which client sent it, e.g. "A"
    seq: int = field(default=0, repr=False)
    path: str = ""  # relative to the API base, e.g. /users/usr_1 (query left out)
    content: bytes = field(default=b"", repr=False)  # the answer's body as received

    @cached_property
    def answer(self) -> Answer:
        """This exchange as the judge reads it."""
        return Answer.of(self.status, self.headers, self.content, method=self.method,
                         path=self.path)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def as_curl(self) -> str:
        """A curl command sending the same request (key redacted) and, as a comment, the answer."""
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(self.url)]
        if self.authorization is not None:
            parts += ["-H", shlex.quote(f"Authorization: {self.authorization}")]
        if self.request_body is not None:
            parts += ["-H", shlex.quote("Content-Type: application/json")]
            parts += ["--data-raw", shlex.quote(json.dumps(self.request_body, ensure_ascii=False))]
        who = f" [key {self.client}]" if self.client else ""
        answer = self.text if len(self.text) <= 600 else self.text[:600] + "..."
        return f"{' '.join(parts)}\n#{who} -> {self.status} {answer}".rstrip()


def reproduction(exchanges: Iterable[Exchange]) -> str:
    """The exchanges as curl commands in the order they were sent, keys redacted."""
    ordered = sorted(exchanges, key=lambda exchange: exchange.seq)
    return "\n".join(exchange.as_curl() for exchange in ordered)


def answer_of(response: requests.Response, base_url: str) -> Answer:
    """A `requests` answer as the judge reads it; its path relative to `base_url`."""
    request = response.request
    path = urlsplit(request.url or "").path
    base = urlsplit(base_url).path.rstrip("/")
    if base and path.startswith(base):
        path = path[len(base):] or "/"
    return Answer.of(response.status_code, response.headers, response.content,
                     method=request.method or "", path=path)


class ApiError(Exception):
    """An answer the caller could not go on from (e.g. a page of the list that is not 200)."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        super().__init__(f"{exchange.method} {exchange.url} answered {exchange.status}")


class ApiClient:
    """The five operations of /users for one Avatar key, over one requests.Session."""

    def __init__(
        self,
        target_base_url: str,
        key: str,
        *,
        session: requests.Session | None = None,
        name: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = target_base_url.rstrip("/")
        self.name = name
        self.session = session or requests.Session()
        self.timeout = timeout
        self.requests = 0
        self.exchanges: list[Exchange] = []
        self._key = key

    # -- the operations ---------------------------------------------------------------------

    def list_page(self, limit: int | None = None, cursor: str | None = None) -> Exchange:
        params: dict[str, Any] = {}
        if limit is not None:
            params["limit"] = limit
        if cursor is not None:
            params["cursor"] = cursor
        return self.request("GET", "/users", params=params)

    def list_all(self, limit: int | None = None, *, max_pages: int = 1000) -> list[dict[str, Any]]:
        """Every member, following next_cursor; raises ApiError on a page that is not 200."""
        members: list[dict[str, Any]] = []
        cursor = None
        for _ in range(max_pages):
            page = self.list_page(limit, cursor)
            if page.status != 200 or not isinstance(page.body, dict):
                raise ApiError(page)
            members.extend(page.body.get("data") or [])
            cursor = page.body.get("next_cursor")
            if cursor is None:
                return members
        raise ApiError(page)  # a cursor chain that never ends

    def invite(self, body: Any) -> Exchange:
        return self.request("POST", "/users", json=body)

    def get(self, user_id: str) -> Exchange:
        return self.request("GET", self.user_path(user_id))

    def update(self, user_id: str, body: Any) -> Exchange:
        return self.request("PUT", self.user_path(user_id), json=body)

    def remove(self, user_id: str) -> Exchange:
        return self.request("DELETE", self.user_path(user_id))

    # -- the one way out ----------------------------------------------------------------------

    @staticmethod
    def user_path(user_id: str) -> str:
        return "/users/" + quote(user_id, safe="")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _NO_BODY,
        params: Mapping[str, Any] | None = None,
        authorization: Any = _KEY,
    ) -> Exchange:
        """Send one request and record it; `authorization=None` sends no Authorization header."""
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params)
        headers: dict[str, str] = {}
        shown: str | None = None
        if authorization is _KEY:
            headers["Authorization"] = f"Bearer {self._key}"
            shown = f"Bearer {REDACTED}"
        elif authorization is not None:
            headers["Authorization"] = authorization
            shown = authorization.replace(self._key, REDACTED)
        sent = None if json is _NO_BODY else json
        response = self.session.request(
            method,
            url,
            headers=headers,
            json=sent,
            timeout=self.timeout,
            allow_redirects=False,
        )
        self.requests += 1
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        exchange = Exchange(
            method=method,
            url=url,
            request_body=sent,
            status=response.status_code,
            headers=response.headers,
            body=body,
            text=response.text,
            authorization=shown,
            client=self.name,
            seq=next(_SEQUENCE),
            path=path,
            content=response.content,
        )
        self.exchanges.append(exchange)
        return exchange
