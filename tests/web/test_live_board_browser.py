"""The live board in a real browser (Debian chromium via Playwright): a call streamed
over the generic WebSocket appears for the supervisor of its team, its transcript grows
and its alert shows while the call runs — card digits masked — and it is marked ended
with a link to the stored call when the stream stops."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.engine.types import Segment
from rokuon.live.transcriber import LiveText
from rokuon.store.models import Alert
from rokuon.users.tokens import create_token
from rokuon.web.app import create_app
from tests.web.conftest import NEW_PASSWORD, make_user, totp_code

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]


def _final(call_id: str, speaker: str, start: float, text: str) -> LiveText:
    seg = Segment(speaker, start, start + 2.0, text, channel=0 if speaker == "agent" else 1)
    return LiveText("final", call_id, speaker, seg.channel, start, start + 2.0, text, 0.4,
                    [seg])


def test_supervisor_watches_a_live_call(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    import uvicorn
    from playwright.sync_api import expect, sync_playwright
    from websockets.sync.client import connect

    _, rt = installation
    secret = make_user(rt, "sv@example.com", "supervisor", team="A")
    make_user(rt, "ivr@example.com", "operator", agent_name="佐藤")
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), "ivr@example.com", ["calls:write"])
    app = create_app(rt, start_workers=False)  # no model: the test supplies the text
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        assert t.is_alive()
        time.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    try:
        with connect(f"ws://127.0.0.1:{port}/ingest/ws",
                     additional_headers={"Authorization": f"Bearer {token}"}) as ws, \
                sync_playwright() as p:
            ws.send(json.dumps({"event": "start", "metadata": {"agent": "佐藤", "team": "A"},
                                "format": {"encoding": "pcm16", "sample_rate": 8000,
                                           "channels": 2}}))
            call_id = json.loads(ws.recv(timeout=10))["call_id"]
            ws.send(np.zeros((8000, 2), dtype="<i2").tobytes())
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(locale="ja-JP")
            page.goto(f"{base}/login")
            page.fill("input[name=email]", "sv@example.com")
            page.fill("input[name=password]", NEW_PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{base}/mfa")
            page.fill("input[name=code]", totp_code(secret))
            page.click("main button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/live")
            card = page.locator(f"#live-{call_id}")
            expect(card).to_be_visible(timeout=10_000)
            expect(card).to_contain_text("佐藤")
            board = app.state.live_hub.board
            board.on_text(_final(call_id, "agent", 0.5, "お電話ありがとうございます。"))
            expect(card.locator("li.seg")).to_have_count(1, timeout=10_000)
            board.on_text(_final(call_id, "customer", 3.0, "ふざけるな、責任者を出せ。"))
            board.on_text(_final(call_id, "customer", 6.0,
                                 "カード番号は4980 1234 5678 9012です。"))
            expect(card.locator("li.alert[data-rule=abusive_customer]")).to_be_visible(
                timeout=10_000)
            expect(card.locator("li.alert[data-rule=card_data]")).to_be_visible()
            expect(card.locator("li.seg")).to_have_count(3)
            assert "9012" not in card.inner_text() and "4980" not in card.inner_text()
            assert "カスハラ" in card.inner_text() or "苦情" in card.inner_text()
            ws.send(json.dumps({"event": "stop"}))
            assert json.loads(ws.recv(timeout=30))["event"] == "stored"
            expect(card.locator(f"a[href='/calls/{call_id}']")).to_be_visible(timeout=10_000)
            page.screenshot(path=str(rt.settings.home / "live-board.png"))
            browser.close()
        with rt.db.session() as s:  # kept, once per rule, masked (and sent to webhooks)
            stored = {a.rule: a for a in s.scalars(select(Alert).where(
                Alert.call_id == call_id))}
        assert {"abusive_customer", "card_data"} <= set(stored)
        assert "9012" not in stored["card_data"].text
    finally:
        srv.should_exit = True
        t.join(10)
