"""The coaching cycle in a real browser (Debian chromium via Playwright): the supervisor
stops the player at a moment, takes that moment into a comment, overrides a failed QA
criterion with a reason (the score moves, the automatic score stays beside it); the agent
acknowledges the comment; the coach's queue shows the call as acknowledged and
overridden."""

from __future__ import annotations

import os
import shutil

import pytest

from rokuon.store.models import CallKpi
from tests.coaching.test_coaching import _call
from tests.web.conftest import NEW_PASSWORD, live_server, make_user, totp_code

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]


def _sign_in(page, base: str, email: str, secret: str | None) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("main button[type=submit]")
    if secret:
        page.wait_for_url(f"{base}/mfa")
        page.fill("input[name=code]", totp_code(secret))
        page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_comment_override_acknowledge_in_the_browser(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    _, rt = installation
    cid = _call(rt, 408)
    with rt.db.session() as s:
        kpi = s.get(CallKpi, cid)
        assert kpi is not None
        kpi.complaint = True
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    op = make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with live_server(rt) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(locale="ja-JP")
        _sign_in(page, base, "sv@example.com", sv)
        page.goto(f"{base}/calls/{cid}")

        # the moment comes from the player's position
        page.wait_for_function("document.querySelector('audio').readyState >= 1",
                               timeout=15_000)
        page.evaluate("document.querySelector('audio').currentTime = 6.4")
        page.wait_for_function("document.querySelector('audio').currentTime > 6",
                               timeout=10_000)
        page.click("#comment-now")
        expect(page.locator("#comment-at")).to_have_value("0:06")
        page.fill("#comment-form textarea[name=body]", "ここで要件を復唱しましょう")
        page.click("#comment-form button[type=submit]")
        comment = page.locator("#comments li.comment").first
        expect(comment).to_contain_text("ここで要件を復唱しましょう", timeout=10_000)
        expect(comment.locator("a.seek")).to_have_text("0:06")
        expect(comment).to_contain_text("未確認")

        # override a failed criterion: the score moves, the automatic one stays beside it
        before = page.locator("#qa .qa-total strong").inner_text()
        row = page.locator("#qa tr.crit.fail").first
        label = row.locator("td").first.inner_text().split("\n")[0]
        row.locator("select[name=result]").select_option("pass")
        row.locator("input[name=reason]").fill("録音を聞いて確認しました: 言っています")
        row.locator("button[type=submit]").click()
        expect(page.locator("#qa .automatic")).to_contain_text(before, timeout=10_000)
        after = page.locator("#qa .qa-total strong").inner_text()
        assert float(after) > float(before)
        changed = page.locator("#qa tr.crit", has_text=label).first
        expect(changed).to_have_class("crit pass")
        expect(changed.locator(".override")).to_contain_text("sv@example.com")

        # the agent acknowledges; supervisors see who did
        _sign_in(page, base, "sato@example.com", op)
        page.goto(f"{base}/calls/{cid}")
        expect(page.locator("#qa .override-form")).to_have_count(0)
        page.locator("#comments button.ack").first.click()
        expect(page.locator("#comments li.comment").first).to_contain_text(
            "sato@example.com が確認済み", timeout=10_000)

        _sign_in(page, base, "sv@example.com", sv)
        page.goto(f"{base}/coaching")
        queued = page.locator("#coaching-queue tr", has=page.locator(f"a[href='/calls/{cid}']"))
        expect(queued).to_contain_text("苦情")
        expect(queued).to_contain_text("確認済み")
        expect(queued).to_contain_text("手動修正あり")
        expect(queued).to_contain_text(f"{float(after):.0f} 手動修正あり")
        browser.close()
