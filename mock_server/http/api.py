"""The five v1beta operations: parse, call the core, serialise."""

from __future__ import annotations

from flask import Blueprint, Response, g, request, url_for

from openapi import API_PREFIX

from .responses import json_body, json_response
from .state import get_state

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


def authenticate(operation: str) -> str:
    """The key's Avatar id (R13); raises Unauthenticated."""
    return get_state().service.authenticate(request.headers.get("Authorization"), operation)


@bp.get("/users", provide_automatic_options=False)
def list_users() -> Response:
    state = get_state()
    avatar_id = authenticate("listUsers")
    limit, cursor = state.schemas.list_query(request.args.get("limit"), request.args.get("cursor"))
    return json_response(state.service.list_members(avatar_id, limit, cursor))


@bp.post("/users", provide_automatic_options=False)
def invite_user() -> Response:
    state = get_state()
    # R7: every answer after authentication carries RateLimit-* (added in after_request).
    g.rate_limited_avatar = avatar_id = authenticate("inviteUser")
    invited = state.service.invite(avatar_id, json_body())
    user_id = invited.member["user_id"]
    body = {
        "existing_user": invited.existing_user,
        "ignored_profile_fields": invited.ignored_profile_fields,
        "member": invited.member,
    }
    return json_response(body, 201, {"Location": url_for("api.get_user", user_id=user_id)})


@bp.get("/users/<user_id>", provide_automatic_options=False)
def get_user(user_id: str) -> Response:
    avatar_id = authenticate("getUser")
    return json_response(get_state().service.get_member(avatar_id, user_id))


@bp.put("/users/<user_id>", provide_automatic_options=False)
def update_user(user_id: str) -> Response:
    avatar_id = authenticate("updateUser")
    return json_response(get_state().service.update_member(avatar_id, user_id, json_body()))


@bp.delete("/users/<user_id>", provide_automatic_options=False)
def remove_user(user_id: str) -> Response:
    avatar_id = authenticate("removeUser")
    get_state().service.remove_member(avatar_id, user_id)
    return Response(status=204)
