"""The agent's FAQ suggestions in a real browser (Debian chromium via Playwright): an
operator watching their own live call sees, while it runs, the top answers for what the
customer just said and the utterance that triggered them, digits masked; the agent's
own words trigger nothing; another operator's call is not on their screen."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from rokuon.access.principal import Principal
from rokuon.assist import knowledge, service
from rokuon.users.tokens import create_token
from rokuon.web.app import create_app
from tests.web.conftest import NEW_PASSWORD, live_server, make_user
from tests.web.test_live_board_browser import _final

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]
START = {"event": "start", "format": {"encoding": "pcm16", "sample_rate": 8000,
                                      "channels": 2}}


def test_agent_sees_faq_answers_on_their_call(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright
    from websockets.sync.client import connect

    _, rt = installation
    with rt.db.session() as s:
        service.import_items(s, Principal.cli(), knowledge.parse_file(
            knowledge.default_file()), source="faq_ja.csv")
    make_user(rt, "sato@example.com", "operator", agent_name="佐藤")
    make_user(rt, "ivr@example.com", "operator", agent_name="ivr")
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), "ivr@example.com", ["calls:write"])
    app = create_app(rt, start_workers=False)  # no model: the test supplies the text
    auth = {"Authorization": f"Bearer {token}"}
    with live_server(rt, app) as base:
        port = base.rsplit(":", 1)[1]
        with connect(f"ws://127.0.0.1:{port}/ingest/ws", additional_headers=auth) as mine, \
                connect(f"ws://127.0.0.1:{port}/ingest/ws", additional_headers=auth) as other, \
                sync_playwright() as p:
            mine.send(json.dumps({**START, "metadata": {"agent": "佐藤", "team": "A"}}))
            call_id = json.loads(mine.recv(timeout=10))["call_id"]
            other.send(json.dumps({**START, "metadata": {"agent": "鈴木", "team": "A"}}))
            other_id = json.loads(other.recv(timeout=10))["call_id"]
            for ws in (mine, other):
                ws.send(np.zeros((8000, 2), dtype="<i2").tobytes())
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(locale="ja-JP")
            page.goto(f"{base}/login")
            page.fill("input[name=email]", "sato@example.com")
            page.fill("input[name=password]", NEW_PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/live")
            card = page.locator(f"#live-{call_id}")
            expect(card).to_be_visible(timeout=10_000)
            board = app.state.live_hub.board
            board.on_text(_final(call_id, "agent", 0.5,
                                 "お電話ありがとうございます。解約のご案内ですね。"))
            board.on_text(_final(other_id, "customer", 1.0, "請求書の金額が違います"))
            expect(card.locator("li.seg")).to_have_count(1, timeout=10_000)
            expect(card.locator("section.faq")).to_have_count(0)  # the agent's words: none
            board.on_text(_final(call_id, "customer", 4.0,
                                 "えーと、開約したいんですけど、09012345678の山田です"))
            faq = card.locator("section.faq")
            expect(faq).to_be_visible(timeout=15_000)
            expect(faq.locator("ol.faq-suggestions li").first).to_contain_text(
                "解約の手続き方法を知りたい")
            assert faq.locator("ol.faq-suggestions li").count() <= 3
            trigger = faq.locator("p.trigger").inner_text()
            assert "開約したいんですけど" in trigger and "09012345678" not in trigger
            assert "FAQ" in faq.inner_text()
            # another operator's call never reaches this screen
            expect(page.locator(f"#live-{other_id}")).to_have_count(0)
            page.screenshot(path=str(rt.settings.home / "agent-faq.png"))
            browser.close()
