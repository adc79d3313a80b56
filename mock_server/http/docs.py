"""Interactive API docs at /docs (and /), served offline: Swagger UI's assets come from the
pinned `swagger-ui-bundle` package, the spec from this mock, "Try it out" calls this mock with
the seed's first demo key already authorized. No CDN, no call to any other host (the online
validator badge is off).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    send_from_directory,
)
from swagger_ui_bundle import swagger_ui_path

from openapi import API_PREFIX, load_admin_spec, load_api_spec

from ..core.seed import seed_keys
from .responses import json_response
from .state import get_state

bp = Blueprint("docs", __name__, template_folder="templates")

ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css",
                    "favicon-16x16.png", "favicon-32x32.png"})
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@bp.get("/", provide_automatic_options=False)
def root() -> Response:
    # a bare redirect: no HTML page, as every other answer of the mock is JSON or the docs
    return Response(status=302, headers={"Location": "/docs"})


@bp.get("/docs", provide_automatic_options=False)
def page() -> str:
    config = get_state().config
    keys = demo_keys()
    specs = [{"url": "/docs/openapi.json", "name": "MaxGood.work v1beta API"}]
    if config.admin:
        specs.append({"url": "/docs/mock-admin.json", "name": "Mock admin surface (/_mock)"})
    return render_template(
        "docs.html", keys=keys, base_url=request.host_url.rstrip("/") + API_PREFIX,
        admin=config.admin,
        settings={"specs": specs, "key": keys[0][2] if keys else None},
    )


@bp.get("/docs/static/<name>", provide_automatic_options=False)
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)


@bp.get("/docs/openapi.json", provide_automatic_options=False)
def api_spec() -> Response:
    """The spec, with this mock first among its servers so that "Try it out" calls it."""
    return json_response(served_here(load_api_spec(), API_PREFIX))


@bp.get("/docs/mock-admin.json", provide_automatic_options=False)
def admin_spec() -> Response:
    if not get_state().config.admin:
        abort(404)
    return json_response(served_here(load_admin_spec(), "/_mock", keep_servers=False))


def served_here(spec: dict[str, Any], prefix: str, keep_servers: bool = True) -> dict[str, Any]:
    here = copy.deepcopy(spec)
    mock = {"url": request.host_url.rstrip("/") + prefix, "description": "This mock"}
    here["servers"] = [mock, *(spec.get("servers", []) if keep_servers else [])]
    return here


def demo_keys() -> list[tuple[str, str, str]]:
    """(avatar_id, type, key) of the seed's keys in clear; none when started from a dump."""
    config = get_state().config
    if config.state_file:
        return []
    return seed_keys(config.seed)


def admin_operations() -> list[dict[str, str]]:
    """Every call of the admin surface, as its spec lists them."""
    found = []
    for path, item in load_admin_spec()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                found.append({"method": method.upper(), "path": "/_mock" + path,
                              "operationId": operation["operationId"],
                              "summary": operation.get("summary", "")})
    return found


def admin_index() -> Response | str:
    """GET /_mock: the admin calls, as a page for a browser and as JSON for anything else."""
    operations = admin_operations()
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return render_template("admin_index.html", operations=operations)
    return json_response({"operations": operations, "spec": "/docs/mock-admin.json",
                          "docs": "/docs"})
