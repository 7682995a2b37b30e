"""The scorecard editor in a real browser (Debian chromium via Playwright): a supervisor
removes a criterion, adds one in a blank row, raises the pass mark and saves (a mistake
first: the problems are listed and the rows kept); then re-scores past calls and watches
the run page refresh itself to the per-call deltas."""

from __future__ import annotations

import os
import shutil

import pytest

from rokuon.scorecards import rescore
from tests.coaching.test_coaching_browser import _sign_in
from tests.scorecards.test_rescore import _call
from tests.web.conftest import live_server, make_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]


def test_edit_a_scorecard_and_rescore_in_the_browser(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    _, rt = installation
    cid = _call(rt, 801)
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    with live_server(rt) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(locale="ja-JP")
        _sign_in(page, base, "sv@example.com", sv)
        page.click("nav a[href='/scorecards']")
        page.wait_for_url(f"{base}/scorecards")
        page.click("a[href='/scorecards/default_ja']")
        page.wait_for_url(f"{base}/scorecards/default_ja")

        rows = page.locator("#sc-editor tbody tr")
        ids = [rows.nth(i).locator("input[name$='_id']").input_value()
               for i in range(rows.count())]
        first_blank = ids.index("")
        greeting = ids.index("greeting")
        page.check(f"input[name=c{greeting}_remove]")
        n = first_blank
        page.fill(f"input[name=c{n}_id]", "restate")
        page.fill(f"input[name=c{n}_label]", "復唱")
        page.select_option(f"select[name=c{n}_type]", "phrase_present")
        page.select_option(f"select[name=c{n}_speaker]", "agent")
        page.fill(f"textarea[name=c{n}_phrases]", "復唱いたします\n繰り返します")
        page.fill(f"input[name=c{n}_weight]", "40")
        page.fill(f"input[name=c{n}_within_s]", "10")  # a mistake first: both windows
        page.fill(f"input[name=c{n}_last_s]", "10")
        page.fill("input[name=pass_score]", "85")
        page.click("#sc-editor button[type=submit]")
        expect(page.locator("#sc-problems")).to_contain_text("restate")
        expect(page.locator("#sc-editor textarea").filter(has_text="復唱いたします")
               ).to_have_count(1)  # the rows come back to correct
        row = page.locator("#sc-editor tbody tr").filter(
            has=page.locator("input[value=restate]"))
        row.locator("input[name$='_last_s']").fill("")
        page.fill("input[name=pass_score]", "85")
        page.click("#sc-editor button[type=submit]")
        expect(page.locator("#sc-saved")).to_be_visible()
        expect(page.locator("h1 .badge")).to_have_text("第1版")
        ids = page.locator("#sc-editor tbody tr input[name$='_id']")
        values = [ids.nth(i).input_value() for i in range(ids.count())]
        assert "restate" in values and "greeting" not in values

        page.click("#sc-rescore button[type=submit]")
        page.wait_for_url(f"{base}/scorecards/runs/*")
        expect(page.locator("#rescore-status")).to_have_attribute("data-status", "pending")
        assert rescore.run_pending(rt) == 1  # the server's worker, here in the test
        # the page refreshes itself until the run is done
        expect(page.locator("#rescore-status")).to_have_attribute(
            "data-status", "done", timeout=15_000)
        deltas = page.locator("#rescore-deltas tbody tr")
        expect(deltas).to_have_count(1)
        expect(deltas.first.locator("a")).to_have_attribute("href", f"/calls/{cid}")
        assert deltas.first.locator(".delta").inner_text().startswith("-")
        browser.close()
