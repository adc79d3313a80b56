"""The docs page: interactive API docs served offline from the mock, "Try it out" calling it.

The browser tests drive Debian's Chromium (`apt-get install chromium`) with Playwright, which
downloads no browser of its own; without Chromium they are skipped, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_server.serve import start_in_thread

from .conftest import ADMIN_SPEC, API_SPEC, CheckedClient, make_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
METHODS = ("get", "post", "put", "delete")


def operations(path: Path) -> set[tuple[str, str]]:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in METHODS if m in item}


# --- the page and its assets, without a browser ---------------------------------------------


def test_the_root_leads_to_the_docs(client: CheckedClient) -> None:
    answer = client.get("/")
    assert (answer.status_code, answer.headers["Location"]) == (302, "/docs")


def test_the_page_names_the_demo_keys_and_loads_nothing_from_elsewhere(
    client: CheckedClient,
) -> None:
    page = client.get("/docs").get_data(as_text=True)
    assert "mgak_acmedemo01.acme-demo-secret-do-not-use-in-production" in page
    assert "mgak_solodemo01.solo-demo-secret-do-not-use-in-production" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        if source.startswith("/docs/static/"):
            assert client.get(source).status_code == 200, source


def test_only_the_swagger_ui_assets_are_served(client: CheckedClient) -> None:
    assert client.get("/docs/static/swagger-ui.css").mimetype == "text/css"
    for name in ("index.html", "..%2Fapp.py", "swagger-initializer.js"):
        assert client.get(f"/docs/static/{name}").status_code == 404


def test_the_docs_spec_puts_this_mock_first_among_its_servers(client: CheckedClient) -> None:
    spec = client.get("/docs/openapi.json").json
    assert spec["servers"][0] == {"url": "http://localhost/v1beta", "description": "This mock"}
    assert spec["paths"] == yaml.safe_load(API_SPEC.read_text(encoding="utf-8"))["paths"]
    admin = client.get("/docs/mock-admin.json").json
    assert admin["servers"] == [{"url": "http://localhost/_mock", "description": "This mock"}]


def test_the_admin_index_lists_every_admin_call(client: CheckedClient) -> None:
    listed = client.get("/_mock").json["operations"]
    assert {(o["method"], o["path"].removeprefix("/_mock")) for o in listed} == operations(
        ADMIN_SPEC)
    page = client.get("/_mock", headers={"Accept": "text/html"})
    assert page.mimetype == "text/html"
    assert page.get_data(as_text=True).count("<code>") == len(listed)


def test_without_the_admin_surface_the_docs_show_the_api_only() -> None:
    client = make_app(admin=False).test_client()
    assert client.get("/docs/mock-admin.json").status_code == 404
    assert client.get("/_mock").status_code == 404
    assert "mock-admin.json" not in client.get("/docs").get_data(as_text=True)


# --- in a real browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def served() -> Iterator[str]:
    server = start_in_thread(make_app())
    yield server.root_url
    server.stop()


def test_the_docs_page_renders_every_operation_and_tries_get_users(browser: Any, served: str,
                                                                   tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    # Given the docs, opened from the root as a person would
    page.goto(served + "/", wait_until="networkidle")
    page.wait_for_selector("body[data-docs-ready=true]", timeout=30_000)
    page.wait_for_selector(".opblock", timeout=30_000)
    # Then every operation of the spec is on the page
    rendered = {
        (block.query_selector(".opblock-summary-method").inner_text().strip(),
         block.query_selector(".opblock-summary-path").get_attribute("data-path"))
        for block in page.query_selector_all(".opblock")
    }
    assert rendered == operations(API_SPEC)
    # When GET /users is tried out with the key already authorized
    block = page.locator(".opblock-get", has=page.locator("[data-path='/users']"))
    block.locator(".opblock-summary").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table tr.response td.response-col_status").first
    status.wait_for(timeout=30_000)
    # Then the mock answered 200 with its members
    assert status.inner_text().strip() == "200"
    assert "owner@acme.example" in block.locator(".live-responses-table").inner_text()
    # And nothing was fetched from anywhere but the mock
    assert asked and all(url.startswith(served) for url in asked), asked
    shot = Path(os.environ.get("MAXGOOD_DOCS_SCREENSHOT") or tmp_path / "docs.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.close()


def test_the_admin_index_opens_in_the_browser(browser: Any, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "/_mock")
    rows = page.locator("tr").count() - 1
    assert rows == len(operations(ADMIN_SPEC))
    page.close()


def test_every_address_the_banner_prints_answers(served: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    import requests

    from mock_server.cli import announce
    from mock_server.config import MockConfig

    host, port = served.removeprefix("http://").split(":")
    announce(argparse.Namespace(host=host, port=int(port), quiet=False), MockConfig())
    banner = capsys.readouterr().out
    addresses = set(re.findall(r"http://[^\s)]+", banner))
    assert {served + "/docs", served + "/_mock", served + "/openapi.yaml"} <= addresses
    key = "mgak_acmedemo01.acme-demo-secret-do-not-use-in-production"
    for address in addresses - {served + "/v1beta"}:  # a base URL, not a page
        answer = requests.get(address, timeout=10, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, f"{address}: {answer.status_code}"
