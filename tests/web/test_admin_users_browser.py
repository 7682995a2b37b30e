"""User administration in a real browser (Debian chromium via Playwright): the admin adds
an operator from the Users page and reads the one-time password, the new user signs in
with it and must choose a password; the admin makes them a supervisor of team B, then
deactivates them, and their open session ends."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.coaching.test_coaching_browser import _sign_in
from tests.web.conftest import NEW_PASSWORD, live_server, make_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]


def test_add_change_deactivate_in_the_browser(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    _, rt = installation
    boss = make_user(rt, "boss@example.com", "admin")
    with live_server(rt) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(locale="ja-JP")
        _sign_in(page, base, "boss@example.com", boss)
        page.click("nav a[href='/admin/users']")
        page.wait_for_url(f"{base}/admin/users")
        page.fill("#adm-add input[name=email]", "kato@example.com")
        page.select_option("#adm-add select[name=role]", "operator")
        page.fill("#adm-add input[name=agent_name]", "kato")
        page.click("#adm-add button[type=submit]")
        otp = page.locator("#adm-password").inner_text().strip()
        assert len(otp) >= 16

        newcomer = browser.new_context(locale="ja-JP").new_page()
        newcomer.goto(f"{base}/login")
        newcomer.fill("input[name=email]", "kato@example.com")
        newcomer.fill("input[name=password]", otp)
        newcomer.click("main button[type=submit]")
        newcomer.wait_for_url(f"{base}/password")
        newcomer.fill("input[name=current_password]", otp)
        newcomer.fill("input[name=new_password]", NEW_PASSWORD)
        newcomer.click("main button[type=submit]")
        newcomer.wait_for_url(f"{base}/")

        page.goto(f"{base}/admin/users")
        row = page.locator("#adm-users tr[data-email='kato@example.com']")
        row.locator("select[name=role]").select_option("supervisor")
        row.locator("input[name=team]").fill("B")
        row.locator(".role-form button[type=submit]").click()
        expect(page.locator("#adm-notice")).to_be_visible()
        row = page.locator("#adm-users tr[data-email='kato@example.com']")
        expect(row.locator("select[name=role]")).to_have_value("supervisor")
        expect(row.locator("input[name=team]")).to_have_value("B")
        row.locator("button.deactivate").click()
        expect(page.locator("#adm-notice")).to_be_visible()
        expect(page.locator("#adm-users tr[data-email='kato@example.com']")).to_have_class(
            "inactive")

        newcomer.goto(f"{base}/")
        newcomer.wait_for_url(f"{base}/login*")  # deactivated: signed out at once
        browser.close()
