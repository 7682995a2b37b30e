"""/api/docs in a real browser (Debian chromium): Swagger UI renders the API from this
server alone — its assets are served here, nothing is fetched from elsewhere, and the
Content-Security-Policy blocks nothing it needs."""

from __future__ import annotations

import os
import shutil

import pytest
from fastapi.testclient import TestClient

from rokuon.web.app import create_app
from tests.web.conftest import live_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_assets_are_served_here(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    with TestClient(create_app(rt, start_workers=False)) as c:
        page = c.get("/api/docs")
        assert page.status_code == 200 and "<script>" not in page.text  # no inline script
        assert "http" not in page.text.replace('charset="utf-8"', "")  # nothing remote
        js = c.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
        assert js.status_code == 200 and "SwaggerUIBundle" in js.text
        assert c.get("/static/vendor/swagger-ui/swagger-ui.css").status_code == 200


@pytest.mark.browser
def test_swagger_ui_renders_offline(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    _, rt = installation
    with live_server(rt) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page()
        elsewhere: list[str] = []
        blocked: list[str] = []
        page.on("request", lambda r: elsewhere.append(r.url)
                if not r.url.startswith(base) and not r.url.startswith("data:") else None)
        page.on("console", lambda m: blocked.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(f"{base}/api/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("rokuon",
                                                                         timeout=15_000)
        expect(page.locator(".opblock-summary-path", has_text="/api/calls").first
               ).to_be_visible()
        assert elsewhere == [] and blocked == []
        browser.close()
