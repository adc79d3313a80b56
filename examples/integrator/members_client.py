"""An integrator's own client of the MaxGood.work v1beta users API (the code under test).

Written the way a team would write it against the spec: typed members, pagination, and a
retry policy for what the network and the rate limits throw at it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests


class ApiProblem(Exception):
    """A refusal, as the API's problem details describe it."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail')}")
        self.status = status
        self.code = problem.get("code")
        self.problem = problem


class RateLimited(ApiProblem):
    def __init__(self, status: int, problem: dict[str, Any], retry_after: int) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class UnexpectedAnswer(Exception):
    """The server answered something the client cannot trust."""


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    name: str | None
    is_admin: bool
    is_coach: bool
    notes: str | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Member:
        profile, membership = data["profile"], data["membership"]
        for flag in ("is_admin", "is_coach"):
            if not isinstance(membership[flag], bool):
                raise UnexpectedAnswer(f"membership.{flag} is not a boolean: {membership[flag]!r}")
        return cls(data["user_id"], profile["email"], profile["name"], membership["is_admin"],
                   membership["is_coach"], membership["notes"])


@dataclass(frozen=True)
class Invited:
    member: Member
    existing_user: bool
    ignored_profile_fields: list[str]


class MembersClient:
    """Members of one Avatar, through its API key."""

    def __init__(self, base_url: str, api_key: str, *, retries: int = 3,
                 timeout: float = 5.0, sleep: Any = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"
        self.retries = retries
        self.timeout = timeout
        self.sleep = sleep

    def invite(self, email: str, name: str | None = None, **membership: Any) -> Invited:
        body: dict[str, Any] = {"email": email}
        if name is not None:
            body["profile"] = {"name": name}
        if membership:
            body["membership"] = membership
        data = self._call("POST", "/users", json=body)
        return Invited(Member.parse(data["member"]), data["existing_user"],
                       data["ignored_profile_fields"])

    def get(self, user_id: str) -> Member:
        return Member.parse(self._call("GET", f"/users/{user_id}"))

    def update(self, user_id: str, **fields: Any) -> Member:
        return Member.parse(self._call("PUT", f"/users/{user_id}", json=fields))

    def remove(self, user_id: str) -> None:
        self._call("DELETE", f"/users/{user_id}")

    def members(self, page_size: int = 25) -> Iterator[Member]:
        """Every active member, page after page."""
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["cursor"] = cursor
            page = self._call("GET", "/users", params=params)
            yield from (Member.parse(item) for item in page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call, retried on a dropped connection or a 503 (after its Retry-After)."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                answer = self.http.request(method, self.base_url + path, timeout=self.timeout,
                                           **kwargs)
            except requests.ConnectionError:
                if last:
                    raise
                self.sleep(0.5 * 2**attempt)
                continue
            if answer.status_code == 503 and not last:
                self.sleep(int(answer.headers.get("Retry-After", "1")))
                continue
            return self._result(answer)
        raise AssertionError("unreachable")

    @staticmethod
    def _result(answer: requests.Response) -> Any:
        if answer.status_code == 204:
            return None
        if answer.ok:
            return answer.json()
        problem = answer.json() if "json" in answer.headers.get("Content-Type", "") else {}
        if answer.status_code == 429:
            raise RateLimited(429, problem, int(answer.headers["Retry-After"]))
        raise ApiProblem(answer.status_code, problem)
