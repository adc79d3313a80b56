"""Requests a check sends itself: a generated case sent again with other keys, ids or addresses."""

from __future__ import annotations

from typing import Any

from schemathesis import Case, Response
from schemathesis.core.parameters import ParameterLocation

from contract_tests.state import RunState

WRITES = ("PUT", "DELETE")


def variant(case: Case, *, user_id: str | None = None, email: str | None = None) -> Case:
    """A copy of `case` without credentials, naming another member or inviting another address."""
    copy = case.derive()
    if user_id is not None:
        copy.path_parameters["user_id"] = user_id
    if email is not None:
        copy.body = {**copy.body, "email": email}
    return copy


def send(state: RunState, case: Case, authorization: str | None) -> Response:
    """Send `case` with exactly this Authorization value (None: no header at all)."""
    kwargs = case.as_transport_kwargs(base_url=state.target.base_url)
    kwargs.pop("auth", None)
    headers = {k: v for k, v in kwargs.pop("headers").items() if k.lower() != "authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = state.anonymous.send(kwargs.pop("method"), kwargs.pop("url"), headers=headers,
                                  **kwargs)
    if case.method == "POST" and case.path == "/users" and answer.status_code == 201:
        state.count_invite()
    return Response.from_requests(answer, verify=True)


def is_probeable(case: Case) -> bool:
    """Whether a case reaches its own operation, so its answer without a key must be 401.

    Unknown paths and methods may be answered 404/405 before authentication (the contract lets
    implementations differ), so cases aimed at them are not probed.
    """
    meta = case.meta
    if case.method != case.operation.method.upper():
        return False
    return meta is None or not meta.is_negative_at(ParameterLocation.PATH)


class AuthProbe:
    """A case sent again without a valid key; writes aim at the sentinel so a change shows."""

    def __init__(self, state: RunState, case: Case) -> None:
        self.state = state
        self.watch_sentinel = case.method in WRITES and state.sentinel is not None
        self.email: str | None = None
        body = case.body
        if case.method == "POST" and isinstance(body, dict) and state.is_fresh_email(
            body.get("email")
        ):
            self.email = state.fresh_email()
        self.case = variant(
            case,
            user_id=state.sentinel if self.watch_sentinel else None,
            email=self.email,
        )
        self.label = f"{case.method} {self.case.formatted_path}"

    def send(self, authorization: str | None) -> Response:
        return send(self.state, self.case, authorization)

    def change(self) -> str | None:
        """What the refused request changed, if anything (R13: it must change nothing)."""
        state = self.state
        if self.watch_sentinel:
            now = state.a.get(state.sentinel)
            seen = now.body if now.status == 200 else now.status
            if seen != state.sentinel_state:
                return f"the member {state.sentinel} became {_short(seen)}"
        if self.email is not None:
            wanted = self.email.lower()
            emails = (str((m.get("profile") or {}).get("email", "")) for m in state.a.members())
            if any(email.strip().lower() == wanted for email in emails):
                return f"{self.email} became a member"
        return None


def unknown_user_answer(state: RunState, case: Case) -> tuple[Response, str] | None:
    """The answer key A gets for the same request naming an id no active member has."""
    nobody = state.nobody(case.method)
    if nobody is None or nobody == case.path_parameters.get("user_id"):
        return None
    answer = send(state, variant(case, user_id=nobody), f"Bearer {state.target.key_a}")
    return answer, nobody


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."
