"""FAQ suggestions on a live call: a customer's final utterance fed into the board of a
running app shows, on the agent's own view of the call, the top answers with the
(masked) utterance that triggered them; the agent's own words trigger nothing; the
worker never blocks the transcriber, keeps only the newest utterance per call, drops
stale ones and survives a failing lookup."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from rokuon.access.principal import Principal
from rokuon.assist import knowledge, service
from rokuon.assist.live import LiveAssist
from rokuon.calls.metadata import CallMetadata
from rokuon.engine.analysis.config import load_config
from rokuon.engine.types import Segment
from rokuon.live.board import LiveBoard
from rokuon.live.transcriber import LiveText
from tests.web.conftest import make_user, sign_in


class _Session:
    def __init__(self, call_id: str, agent: str, team: str) -> None:
        self.call_id, self.source, self.seconds, self.is_paused = call_id, "ws", 30.0, False
        self.meta = CallMetadata.model_validate({"agent": agent, "team": team})


def _final(call_id: str, speaker: str, start: float, text: str) -> LiveText:
    seg = Segment(speaker, start, start + 3.0, text, channel=0 if speaker == "agent" else 1)
    return LiveText("final", call_id, speaker, seg.channel, start, start + 3.0, text, 0.4,
                    [seg])


def _wait(cond: Any, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_agent_sees_suggestions_for_the_customer_utterance(client: TestClient,  # type: ignore[no-untyped-def]
                                                           installation) -> None:
    _, rt = installation
    with rt.db.session() as s:
        service.import_items(s, Principal.cli(), knowledge.parse_file(
            knowledge.default_file()), source="faq_ja.csv")
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    sign_in(client, "sato@example.com", None)
    hub = client.app.state.live_hub  # type: ignore[attr-defined]
    hub.board.opened(_Session("c-live-1", "sato", "A"))
    hub.board.on_text(_final("c-live-1", "agent", 0.5,
                             "お電話ありがとうございます。解約のご案内ですね。"))
    time.sleep(0.3)
    assert client.get("/api/live").json()["calls"][0]["suggestions"] == []  # agent: none
    said = "えーと、開約したいんですけど、09012345678の山田です"
    hub.board.on_text(_final("c-live-1", "customer", 4.0, said))

    def shown() -> list[dict[str, Any]]:
        return client.get("/api/live").json()["calls"][0]["suggestions"]

    got = _wait(shown)
    assert got[0]["question"] == "解約の手続き方法を知りたい" and len(got) <= 3
    assert got[0]["start"] == 4.0 and got[0]["answer"].startswith("解約は")
    trigger = got[0]["trigger"]
    assert trigger.startswith("えーと、開約したいんですけど") and "09012345678" not in trigger
    assert all(g["trigger"] == trigger for g in got)
    # unrelated talk afterwards keeps the last useful suggestions on screen
    hub.board.on_text(_final("c-live-1", "customer", 9.0, "今日はほんとに暑いですね"))
    _wait(lambda: hub.assist.idle())
    assert shown()[0]["question"] == "解約の手続き方法を知りたい"
    assert hub.assist.stats["suggested"] == 1 and hub.assist.stats["nothing"] == 1
    # the live page carries the words the script shows the suggestions with
    page = client.get("/live", params={"lang": "ja"}).text
    assert 'data-faq="FAQ の候補"' in page and 'data-faq-trigger="お客様の発言"' in page


def test_submit_never_blocks_and_keeps_the_newest_per_call() -> None:
    release, started = threading.Event(), threading.Event()
    delivered: list[tuple[str, list[dict[str, Any]]]] = []

    def slow(text: str, trigger: str) -> list[dict[str, Any]]:
        started.set()
        release.wait(10)
        return [{"entry_id": 1, "question": "q", "answer": "a", "score": 0.9,
                 "trigger": trigger}]

    assist = LiveAssist(slow, lambda cid, s: delivered.append((cid, s))).start()
    try:
        assist.submit("c1", "one", "one", 1.0)
        assert started.wait(5)  # "one" is being looked up, and the lookup hangs
        t0 = time.monotonic()
        for i, text in enumerate(("two", "three", "four")):
            assist.submit("c1", text, text, 2.0 + i)
        assert time.monotonic() - t0 < 0.05  # the transcriber's thread goes on at once
        release.set()
        _wait(assist.idle)
    finally:
        assist.stop()
    assert [(cid, s[0]["trigger"], s[0]["start"]) for cid, s in delivered] == [
        ("c1", "one", 1.0), ("c1", "four", 4.0)]
    assert assist.stats["superseded"] == 2


def test_stale_and_failing_lookups_are_dropped() -> None:
    calls: list[str] = []

    def flaky(text: str, trigger: str) -> list[dict[str, Any]]:
        calls.append(text)
        if text == "boom":
            raise RuntimeError("index gone")
        return [{"entry_id": 1, "question": "q", "answer": "a", "score": 0.9,
                 "trigger": trigger}]

    got: list[str] = []
    assist = LiveAssist(flaky, lambda cid, s: got.append(cid), max_age_s=-1.0).start()
    assist.submit("old", "late", "late", 0.0)  # older than max_age_s: not looked up
    _wait(assist.idle)
    assist.max_age_s = 10.0
    assist.submit("a", "boom", "boom", 0.0)
    _wait(assist.idle)
    assist.submit("b", "fine", "fine", 0.0)
    _wait(assist.idle)
    assist.stop()
    assert calls == ["boom", "fine"] and got == ["b"]
    assert assist.stats["stale"] == 1 and assist.stats["failed"] == 1


def test_a_failing_listener_costs_the_board_nothing() -> None:
    board = LiveBoard(lambda: load_config())
    board.opened(_Session("c2", "sato", "A"))  # type: ignore[arg-type]

    def broken(*_: Any) -> None:
        raise RuntimeError("queue full")

    board.on_customer_final = broken
    board.on_text(_final("c2", "customer", 1.0, "解約したいんですけど"))
    snap = board.snapshot(Principal("admin@example.com", "admin"))[0]
    assert [s["text"] for s in snap["segments"]] == ["解約したいんですけど"]
    board.show_suggestions("c2", [{"entry_id": 1, "question": "q", "answer": "a",
                                   "score": 0.5, "trigger": "解約したいんですけど",
                                   "start": 1.0}])
    assert board.snapshot(Principal("s@example.com", "operator", agent_name="sato")
                          )[0]["suggestions"][0]["question"] == "q"
    board.ended("c2")
    board.show_suggestions("c2", [])  # an ended call keeps what it showed
    assert board.get("c2").suggestions[0]["question"] == "q"  # type: ignore[union-attr]
