"""The call timeline in a real browser (Debian chromium via Playwright): a click halfway
along it plays from the middle of the call, a marker plays from its own moment and
names what it is (personal data by kind only), the cursor follows the playing
position, and a call still in the pipeline updates its timeline in place when the
analysis lands (no page reload)."""

from __future__ import annotations

import os
import shutil

import pytest

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from tests.calls.test_timeline import DURATION, LINES, analysed_call
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import NEW_PASSWORD, live_server, make_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]
# wait_for_function takes arrow functions: a bare expression is eval'd in the page on
# each poll, which the CSP (no 'unsafe-eval') refuses
CURRENT = "document.getElementById('player').currentTime"
CURSOR_X = "parseFloat(document.getElementById('timeline-cursor').getAttribute('x1'))"


def _sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "sato@example.com")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def _browser(p):  # type: ignore[no-untyped-def]
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"])


def test_click_seeks_markers_name_and_cursor_follows(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    _, rt = installation
    cid = analysed_call(rt, 801)
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with live_server(rt) as base, sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(locale="ja-JP")
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _sign_in(page, base)
        page.goto(f"{base}/calls/{cid}")
        page.wait_for_function("() => document.getElementById('player').readyState >= 1",
                               timeout=15_000)
        svg = page.locator("#timeline-svg")
        expect(svg).to_be_visible()
        expect(page.locator("#timeline .tl-legend")).to_contain_text("保留")

        # halfway along the first lane → the middle of the call, and it plays
        box = svg.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 14)
        page.wait_for_function(f"() => Math.abs({CURRENT} - {DURATION / 2}) < 1.5", timeout=10_000)

        # playing: the cursor moves along
        page.wait_for_function("() => !document.getElementById('player').paused", timeout=10_000)
        start_x = page.evaluate(CURSOR_X)
        assert abs(start_x - 500) < 50, start_x
        page.wait_for_function(f"() => {CURSOR_X} > {start_x + 10}", timeout=10_000)

        # a marker plays from its own moment; its tooltip names the kind, not the number
        pii = page.locator("#timeline rect.tl-marker.pii").first
        title = pii.locator("title").text_content() or ""
        assert "電話番号" in title and "1234" not in title and "090" not in title
        t = float(pii.get_attribute("data-start") or "nan")
        pii.click(force=True)
        page.wait_for_function(f"() => Math.abs({CURRENT} - {t}) < 1.0", timeout=10_000)
        ng = page.locator("#timeline rect.tl-marker.kw_ng").first
        assert "できません" in (ng.locator("title").text_content() or "")
        assert not [e for e in errors if "Content Security Policy" in e], errors
        browser.close()


def test_timeline_updates_in_place_while_the_analysis_runs(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    _, rt = installation
    cid = ingest_stream(rt, [tone_wav(DURATION, seed=802)], name="tl802.wav",
                        actor=Principal.cli(),
                        meta=parse_metadata('{"agent": "sato", "team": "A"}')).call_id
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with live_server(rt) as base, sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(locale="ja-JP")
        _sign_in(page, base)
        page.goto(f"{base}/calls/{cid}")
        expect(page.locator("#timeline .tl-updating")).to_be_visible()
        expect(page.locator("#timeline rect.tl-marker")).to_have_count(0)
        page.evaluate("window.__samePage = true")  # gone if the page reloaded

        write_transcript(rt, cid, LINES)  # the pipeline finishes while the page is open
        expect(page.locator("#call-status")).to_have_attribute("data-status", "indexed",
                                                               timeout=15_000)
        expect(page.locator("#timeline rect.tl-marker.pii")).to_have_count(1)
        expect(page.locator("#timeline rect.tl-talk.customer").first).to_be_attached()
        expect(page.locator("#timeline-done")).to_be_visible()
        expect(page.locator("#timeline .tl-updating")).to_have_count(0)
        assert page.evaluate("window.__samePage === true")
        browser.close()
