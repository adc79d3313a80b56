"""A small client of the v1beta API that records every exchange, so a failure can be replayed.

Every request goes through `ApiClient.request`, which keeps an `Exchange` (what was sent, what
came back) and counts requests. `curl` is the one way a request is written down for a person to
replay, credentials redacted: `Exchange.as_curl` and `reproduction` use it for exchanges, and
`curl_of` for a request sent by another layer (Schemathesis).
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Iterable, Iterator, Mapping
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


# Headers curl sends anyway, or that only label the request for Schemathesis.
NOISE_HEADERS = {"user-agent", "accept-encoding", "accept", "connection", "content-length",
                 "x-schemathesis-testcaseid"}


def shown_authorization(value: str, key: str | None = None) -> str:
    """An Authorization value as a reproduction shows it: a credential that is, or looks like,
    an Avatar key (`mgak_...`) is redacted; another (a malformed token, a bare scheme) is shown,
    since it is what was tried."""
    scheme, _, token = value.partition(" ")
    if token and ("mgak_" in token or (key and key in token)):
        return f"{scheme} {REDACTED}"
    return value


def curl(method: str, url: str, headers: Mapping[str, Any] | None = None, body: Any = None,
         *, answer: str | None = None) -> str:
    """A curl command sending one request, credentials redacted; `body` as bytes, text or a
    JSON value; `answer` (e.g. "-> 404 {...}") follows as a comment."""
    parts = ["curl", "-sS", "-X", method]
    typed = False
    for name, value in (headers or {}).items():
        value = value[0] if isinstance(value, list) else str(value)
        if name.lower() in NOISE_HEADERS:
            continue
        if name.lower() == "authorization":
            value = shown_authorization(value)
        typed = typed or name.lower() == "content-type"
        parts += ["-H", f"{name}: {value}"]
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    elif body is not None and not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False)
        if not typed:
            parts += ["-H", "Content-Type: application/json"]
    if body:
        parts += ["--data-raw", body]
    parts.append(url)
    command = shlex.join(parts)
    return f"{command}\n# {answer}".rstrip() if answer else command


def curl_of(request: Any) -> str:
    """The curl command of a sent `requests.PreparedRequest`."""
    return curl(request.method or "", request.url or "", request.headers, request.body)


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
        headers = {} if self.authorization is None else {"Authorization": self.authorization}
        who = f"[key {self.client}] " if self.client else ""
        answer = self.text if len(self.text) <= 600 else self.text[:600] + "..."
        return curl(self.method, self.url, headers, self.request_body,
                    answer=f"{who}-> {self.status} {answer}")


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
    """The five operations of /users for one Avatar key (None: no key), over one
    requests.Session; `keep=False` keeps no exchanges (a long run's own requests)."""

    def __init__(
        self,
        target_base_url: str,
        key: str | None,
        *,
        session: requests.Session | None = None,
        name: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        keep: bool = True,
    ) -> None:
        self.base_url = target_base_url.rstrip("/")
        self.name = name
        self.session = session or requests.Session()
        self.timeout = timeout
        self.keep = keep
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

    def pages(self, limit: int | None = None, *, max_pages: int = 1000) -> Iterator[Exchange]:
        """The pages of the list, following next_cursor, until a page that is not 200 (which
        is yielded too), the last page, or `max_pages`."""
        cursor = None
        for _ in range(max_pages):
            page = self.list_page(limit, cursor)
            yield page
            cursor = page.body.get("next_cursor") if (
                page.status == 200 and isinstance(page.body, dict)) else None
            if not cursor:
                return

    def members(self, limit: int | None = None, *, max_pages: int = 1000
                ) -> list[dict[str, Any]]:
        """The members of every page `pages` reaches (none of a page that is not 200)."""
        return [m for page in self.pages(limit, max_pages=max_pages) if page.status == 200
                and isinstance(page.body, dict) for m in page.body.get("data") or []]

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
        if authorization is _KEY and self._key is None:
            pass  # a client without a key sends none
        elif authorization is _KEY:
            headers["Authorization"] = f"Bearer {self._key}"
            shown = f"Bearer {REDACTED}"
        elif authorization is not None:
            headers["Authorization"] = authorization
            shown = shown_authorization(authorization, self._key)
        sent = None if json is _NO_BODY else json
        response = self.send(method, url, headers=headers, json=sent)
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
        if self.keep:
            self.exchanges.append(exchange)
        return exchange

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request as given (a full URL, headers, body), counted; no redirects."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        response = self.session.request(method, url, **kwargs)
        self.requests += 1
        return response
