"""The mock's own admin surface under /_mock (openapi/mock-admin.yaml); off with --no-admin."""

from __future__ import annotations

import re
import secrets
from typing import Any

import jsonschema_rs
from flask import Blueprint, Response, request
from ulid import ULID

from openapi import load_admin_spec

from ..core.chaos import ChaosSettings
from ..core.errors import AlreadyMember, FieldError, InvalidRequest, NotFound
from ..core.seed import add_key
from ..core.store import ACTIVE, Avatar, Membership, User
from ..faults import describe
from ..validation import parse_json, to_json_schema
from .chaos import can_drop
from .docs import admin_index
from .responses import json_response
from .state import get_state

bp = Blueprint("admin", __name__, url_prefix="/_mock")

_validators: dict[str, Any] = {}


def admin_body(schema_name: str) -> Any:
    """The JSON body, checked against the admin spec's schema of that name."""
    body = parse_json(request.get_data(cache=True) or b"{}")
    if schema_name not in _validators:
        spec = load_admin_spec()
        schema = to_json_schema(spec["components"]["schemas"][schema_name], spec)
        _validators[schema_name] = jsonschema_rs.Draft4Validator(schema, validate_formats=True)
    errors = [
        FieldError("".join(f"/{p}" for p in e.instance_path), e.message)
        for e in _validators[schema_name].iter_errors(body)
    ]
    if errors:
        raise InvalidRequest(f"The body does not match {schema_name}.", errors)
    return body


@bp.get("", provide_automatic_options=False)
def index() -> Response | str:
    """GET /_mock: every admin call, as a page or as JSON."""
    return admin_index()


@bp.post("/reset", provide_automatic_options=False)
def reset() -> Response:
    get_state().reset()
    return Response(status=204)


@bp.get("/state", provide_automatic_options=False)
def export_state() -> Response:
    return json_response(get_state().dump())


@bp.put("/state", provide_automatic_options=False)
def import_state() -> Response:
    data = admin_body("State")
    try:
        get_state().load(data)
    except (KeyError, TypeError, ValueError) as exc:  # SeedError is a ValueError
        raise InvalidRequest("The state cannot be loaded.", [FieldError("", str(exc))]) from exc
    return export_state()


@bp.post("/avatars", provide_automatic_options=False)
def create_avatar() -> Response:
    state = get_state()
    body = admin_body("NewAvatar")
    store = state.store
    with store.lock:
        avatar = Avatar(f"avt_{ULID()}".lower(), body["name"], body["type"])
        store.avatars[avatar.avatar_id] = avatar
        owner = _user_for(body["owner_email"], {"name": body.get("owner_name")})
        stamp = state.clock.now_dt()
        store.put_membership(
            Membership(
                avatar_id=avatar.avatar_id,
                user_id=owner.user_id,
                is_owner=True,
                is_admin=True,
                is_coach=False,
                license_expires_at=None,
                notes=None,
                structured_data={},
                status=ACTIVE,
                joined_at=stamp,
                updated_at=stamp,
            )
        )
        api_key = _new_key(avatar.avatar_id)
    return json_response(
        {"avatar_id": avatar.avatar_id, "api_key": api_key, "owner_user_id": owner.user_id}, 201
    )


@bp.post("/avatars/<avatar_id>/keys", provide_automatic_options=False)
def issue_key(avatar_id: str) -> Response:
    store = get_state().store
    with store.lock:
        if avatar_id not in store.avatars:
            raise NotFound("No such Avatar.")
        api_key = _new_key(avatar_id)
    credential_id = api_key.removeprefix("mgak_").partition(".")[0]
    return json_response({"credential_id": credential_id, "api_key": api_key}, 201)


@bp.delete("/avatars/<avatar_id>/invites", provide_automatic_options=False)
def forget_invites(avatar_id: str) -> Response:
    """The Avatar's hourly invite window emptied, as if the hour had passed for it alone (R7)."""
    store = get_state().store
    with store.lock:
        if avatar_id not in store.avatars:
            raise NotFound("No such Avatar.")
        store.invite_log.pop(avatar_id, None)
    return Response(status=204)


@bp.delete("/keys/<credential_id>", provide_automatic_options=False)
def revoke_key(credential_id: str) -> Response:
    store = get_state().store
    with store.lock:
        key = store.keys.get(credential_id)
        if key is None:
            raise NotFound("No such key.")
        key.revoked = True  # R13: a revoked key answers 401 at once
    return Response(status=204)


@bp.post("/users", provide_automatic_options=False)
def create_user() -> Response:
    state = get_state()
    body = admin_body("NewUser")
    with state.store.lock:
        if state.service.email_key(body["email"]) in state.store.users_by_email:
            raise AlreadyMember()
        user = _user_for(body["email"], body)
    return json_response({"user_id": user.user_id}, 201)


@bp.post("/clock/advance", provide_automatic_options=False)
def advance_clock() -> Response:
    clock = get_state().clock
    clock.advance(float(admin_body("ClockAdvance")["seconds"]))
    return json_response({"now": clock.now_dt().isoformat().replace("+00:00", "Z")})


@bp.get("/faults", provide_automatic_options=False)
def list_faults() -> Response:
    return json_response({"faults": describe(get_state().faults)})


@bp.put("/faults", provide_automatic_options=False)
def switch_faults() -> Response:
    names = admin_body("FaultSwitch")["active"]
    try:
        get_state().set_faults(names)
    except KeyError as exc:
        raise InvalidRequest(
            "Unknown fault.", [FieldError("/active", f"no such fault: {exc.args[0]}")]
        ) from exc
    return list_faults()


@bp.get("/chaos", provide_automatic_options=False)
def show_chaos() -> Response:
    return json_response(get_state().chaos.as_json())


@bp.put("/chaos", provide_automatic_options=False)
def set_chaos() -> Response:
    """New chaos settings; the seeded sequence starts again (so the same PUT replays)."""
    body = admin_body("ChaosSettings")
    try:
        settings = ChaosSettings.from_json(body)
    except ValueError as exc:
        raise InvalidRequest("The chaos settings are not valid.", [FieldError("", str(exc))]) \
            from exc
    if settings.drop_rate and not can_drop(request.environ):
        raise InvalidRequest("This server cannot drop a connection (serve with waitress).",
                             [FieldError("/drop_rate", "needs a server that exposes the "
                                         "connection: waitress or the in-process one")])
    get_state().chaos.configure(settings)
    return show_chaos()


@bp.get("/requests", provide_automatic_options=False)
def list_requests() -> Response:
    """The journal, oldest first, filtered by method, path (a glob) and status (201, 4xx)."""
    args = request.args
    limit = args.get("limit")
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= 10_000):
        raise InvalidRequest("limit is a whole number from 1 to 10000.",
                             [FieldError("/limit", "not a whole number from 1 to 10000")])
    status = args.get("status")
    if status is not None and not re.fullmatch(r"[1-5](\d\d|xx|XX)", status):
        raise InvalidRequest("status is a status code (409) or a class (4xx).",
                             [FieldError("/status", "not a status code or class")])
    journal = get_state().journal
    found = journal.select(args.get("method"), args.get("path"), status,
                           int(limit) if limit else None)
    return json_response({"requests": [entry.as_json() for entry in found],
                          "total": journal.total, "capacity": journal.size})


@bp.delete("/requests", provide_automatic_options=False)
def clear_requests() -> Response:
    get_state().journal.clear()
    return Response(status=204)


def _user_for(email: str, profile: dict[str, Any]) -> User:
    """The platform user with this email, created from `profile` if there is none."""
    state = get_state()
    store = state.store
    user_id = store.users_by_email.get(state.service.email_key(email))
    if user_id is not None:
        return store.users[user_id]
    user = User(
        user_id=f"usr_{ULID()}",
        email=email.strip(),
        name=profile.get("name"),
        role=profile.get("role"),
        expertise=profile.get("expertise"),
        locale=profile.get("locale"),
        created_at=state.clock.now_dt(),
    )
    store.users[user.user_id] = user
    store.users_by_email[state.service.email_key(email)] = user.user_id
    return user


def _new_key(avatar_id: str) -> str:
    api_key = f"mgak_{secrets.token_hex(6)}.{secrets.token_urlsafe(24)}"
    add_key(get_state().store, avatar_id, api_key)
    return api_key
