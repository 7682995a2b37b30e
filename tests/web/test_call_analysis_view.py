"""The call page's post-call analysis: transcript highlighting (rokuon.web.highlight)
and the rendered summary, QA card, evidence links and cards, with hand-made analysis
payloads stored directly (no ASR, no analyzers run)."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from rokuon.pipeline import jobs
from rokuon.store.models import AnalysisResult, JobStatus, PipelineJob, Segment, Transcript
from rokuon.text.normalize import normalize
from rokuon.web.highlight import analysis_spans, highlight, transcript_pieces
from rokuon.web.ui import templates
from tests.helpers import tone_wav

# ---------------------------------------------------------------- highlight.py


def test_no_spans_gives_the_whole_text() -> None:
    assert highlight("こんにちは", []) == [("こんにちは", None)]
    assert highlight("", [(0, 3, "pii")]) == []
    assert highlight("abc", [(0, 3, "kw-ng")]) == [("abc", "kw-ng")]


def test_pieces_split_at_span_edges() -> None:
    assert highlight("できません。はい", [(0, 5, "kw-ng")]) == [("できません", "kw-ng"),
                                                              ("。はい", None)]
    assert highlight("abcdefgh", [(2, 4, "filler"), (6, 7, "kw-good")]) == [
        ("ab", None), ("cd", "filler"), ("ef", None), ("g", "kw-good"), ("h", None)]


def test_overlapping_spans_carry_every_class() -> None:
    assert highlight("abcdefgh", [(0, 4, "kw-ng"), (2, 6, "pii")]) == [
        ("ab", "kw-ng"), ("cd", "pii kw-ng"), ("ef", "pii"), ("gh", None)]
    # nested, duplicated and adjacent same-class spans
    assert highlight("abcdef", [(0, 6, "filler"), (2, 3, "pii"), (2, 3, "pii")]) == [
        ("ab", "filler"), ("c", "pii filler"), ("def", "filler")]
    assert highlight("abcdef", [(0, 2, "kw-ng"), (2, 4, "kw-ng")]) == [
        ("abcd", "kw-ng"), ("ef", None)]


def test_out_of_range_offsets_are_clamped_or_dropped() -> None:
    assert highlight("abc", [(-5, 2, "pii")]) == [("ab", "pii"), ("c", None)]
    assert highlight("abc", [(1, 99, "pii")]) == [("a", None), ("bc", "pii")]
    assert highlight("abc", [(3, 9, "pii"), (50, 60, "pii"), (-9, -1, "pii")]) == [
        ("abc", None)]
    assert highlight("abc", [(2, 1, "pii"), (1, 1, "pii")]) == [("abc", None)]


@pytest.mark.parametrize("span", [
    (None, 2, "pii"), ("0", "2", "pii"), (0.5, 2, "pii"), (True, 2, "pii"),
    (0, 2, None), (0, 2, 7), (0, 2, 'x" onclick="alert(1)'), (0, 2, "a b"),
    (0, 2, ""), (0, 2), (0, 2, "pii", "extra"), "0,2,pii", None, 5, {"a": 1},
    (10 ** 30, -(10 ** 30), "pii"),
])
def test_hostile_spans_are_ignored(span: Any) -> None:
    assert highlight("abc", [span]) == [("abc", None)]


def test_pieces_always_rebuild_the_text() -> None:
    rng = random.Random(7)
    text = "えーと、<b>カード</b>番号は4539です & \"quote\""
    classes = ["kw-ng", "kw-good", "filler", "pii"]
    for _ in range(300):
        spans = [(rng.randint(-5, len(text) + 5), rng.randint(-5, len(text) + 5),
                  rng.choice(classes)) for _ in range(rng.randint(0, 6))]
        pieces = highlight(text, spans)
        assert "".join(p for p, _ in pieces) == text
        assert all(p for p, _ in pieces)  # no empty pieces
        assert all(a[1] != b[1] for a, b in zip(pieces, pieces[1:], strict=False))


def test_html_in_the_text_stays_escaped_when_rendered() -> None:
    text = "<script>alert('x')</script> & できません"
    pieces = highlight(text, [(0, 8, "kw-ng"), (text.index("でき"), len(text), "pii")])
    tpl = templates.env.from_string(
        "{% for text, cls in pieces %}{% if cls %}<span class=\"hl {{ cls }}\">{{ text }}"
        "</span>{% else %}{{ text }}{% endif %}{% endfor %}")
    html = tpl.render(pieces=pieces)
    assert "<script>" not in html
    assert html == ('<span class="hl kw-ng">&lt;script&gt;</span>alert(&#39;x&#39;)'
                    '&lt;/script&gt; &amp; <span class="hl pii">できません</span>')


def test_analysis_spans_from_the_payload_shapes() -> None:
    analysis = {
        "keywords": [{"list": "ng", "segment": 0, "chars": [0, 2]},
                     {"list": "good", "segment": 1, "chars": [1, 3]},
                     {"list": "mine", "segment": 1, "chars": [4, 5]},
                     {"list": "ng", "segment": "x", "chars": [0, 2]},
                     "junk"],
        "fillers": {"agent": {"hits": [{"segment": 0, "chars": [3, 5]}]},
                    "customer": {"hits": "nope"}, "weird": 3},
        "pii": [{"type": "phone", "chars": [[1, 0, 2], [2, 5, 9], ["a", 1, 2], [1]]},
                {"type": "email", "segment": 2, "chars": [0, 1]}, None],
    }
    assert analysis_spans(analysis) == {
        0: [(0, 2, "kw-ng"), (3, 5, "filler")],
        1: [(1, 3, "kw-good"), (4, 5, "kw"), (0, 2, "pii")],
        2: [(5, 9, "pii"), (0, 1, "pii")],
    }
    for broken in (None, [], "x", {"keywords": {"error": "boom"},
                                   "fillers": {"error": "boom"}, "pii": {"error": "boom"}}):
        assert analysis_spans(broken) == {}  # type: ignore[arg-type]
    segs = [{"text": "できません"}, {"text": None}, {}]
    assert transcript_pieces(segs, {"keywords": [{"list": "ng", "segment": 0,
                                                  "chars": [0, 5]}]}) == [
        [("できません", "kw-ng")], [], []]


# ---------------------------------------------------------------- the call page

LINES = [
    ("agent", 0.0, 3.0, "お電話ありがとうございます。えーと、担当の佐藤です。"),
    ("customer", 3.2, 6.0, "<script>alert('x')</script>解約したいです"),
    ("customer", 6.5, 9.0, "カード番号は4539です"),
    ("agent", 9.5, 12.0, "できません、申し訳ありません"),
]


def _chars(i: int, word: str) -> list[int]:
    a = LINES[i][3].index(word)
    return [a, a + len(word)]


def _payloads() -> dict[str, Any]:
    return {
        "metrics": {
            "agent_talk_s": 5.5, "customer_talk_s": 5.3, "overlap_s": 0.4, "silence_s": 1.2,
            "interruptions": 1, "talk_ratio": 1.04, "agent_speech_rate_mora_per_min": 402.0,
            "parties": {
                "agent": {"talk_s": 5.5, "talk_share": 0.51, "longest_monologue_s": 3.0,
                          "speech_rate_mora_per_min": 402.0, "interruptions_made": 1,
                          "response_latency_s": 0.45},
                "customer": {"talk_s": 5.3, "talk_share": 0.49, "longest_monologue_s": 2.8,
                             "speech_rate_mora_per_min": 350.0, "interruptions_made": 0,
                             "response_latency_s": None}},
            "hold": {"total_s": 0.0, "longest_s": 0.0, "stretches": []},
            "silence": {"total_s": 1.2, "longest_s": 0.5,
                        "stretches": [{"start": 9.0, "end": 9.5}]}},
        "fillers": {
            "agent": {"count": 1, "per_min": 10.9, "items": {"えーと": 1},
                      "hits": [{"word": "えーと", "start": 1.2, "end": 1.5, "segment": 0,
                                "chars": _chars(0, "えーと")}]},
            "customer": {"count": 0, "per_min": 0.0, "items": {}, "hits": []}},
        "keywords": [
            {"list": "ng", "word": "<script>", "speaker": "customer", "start": 3.2,
             "end": 3.6, "segment": 1, "chars": _chars(1, "<script>")},
            {"list": "ng", "word": "できません", "speaker": "agent", "start": 9.5,
             "end": 10.2, "segment": 3, "chars": _chars(3, "できません")},
            {"list": "good", "word": "申し訳ありません", "speaker": "agent", "start": 10.3,
             "end": 11.5, "segment": 3, "chars": _chars(3, "申し訳ありません")}],
        "sentiment": {
            "method": "lexicon", "utterances": [
                {"segment": 1, "speaker": "customer", "start": 3.2, "end": 6.0,
                 "score": -0.5, "label": "negative", "cues": ["解約"]}],
            "customer": {"score": -0.4, "label": "negative", "trend": "worsening",
                         "first_half": -0.1, "second_half": -0.6},
            "agent": {"score": 0.2, "label": "neutral", "trend": "steady",
                      "first_half": 0.2, "second_half": 0.2}},
        "agitation": {"available": False, "reason": "no audio features"},
        "consent": {"announced": False, "announced_at": None, "purpose_stated": False,
                    "explicit_consent": None, "answer": "not_asked", "refused": False,
                    "flags": ["missing_announcement"], "evidence": []},
        "complaint": {"error": "RuntimeError: boom <b>bold</b>"},
        "churn": {"detected": True, "score": 0.8, "evidence": [
            {"cue": "解約したい", "kind": "churn", "speaker": "customer", "start": 3.2,
             "end": 6.0, "segment": 1}]},
        "pii": [{"type": "card_number", "speaker": "customer", "start": 7.4, "end": 8.2,
                 "segment": 2, "chars": [[2, *_chars(2, "4539")]], "hint": "SECRET-4539"}],
        "voc": {"tags": [{"tag": "churn", "label": "解約の申し出", "speaker": "customer",
                          "start": 3.2, "segment": 1}]},
        "qa": {"score": 72.5, "passed": True, "scorecard": "default", "criteria": [
            {"id": "greeting", "label": "冒頭の挨拶 <i>opening</i>", "weight": 10,
             "points": 10, "passed": True, "detail": "ok",
             "evidence": [{"start": 0.0, "end": 3.0, "segment": 0, "speaker": "agent"}]},
            {"id": "recording_notice", "label": "録音の告知", "weight": 20, "points": 0,
             "passed": False, "detail": "missing", "evidence": []},
            {"id": "hold", "label": "保留の案内", "weight": 5, "points": None,
             "passed": None, "detail": "", "evidence": []}]},
    }


def _store_call(client: TestClient, rt: Any, payloads: dict[str, Any],
                seed: int = 90, seconds: float = 2.0) -> str:
    """Upload a short recording, store LINES as its transcript (as the transcribe step
    would) and ``payloads`` as its only analysis results."""
    r = client.post("/api/calls?filename=a.wav", content=tone_wav(seconds, seed=seed),
                    headers={"X-CSRF-Token": client.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 201, r.text
    call_id = r.json()["call_id"]
    with rt.db.session() as s:
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == call_id,
                                                  PipelineJob.step == "transcribe")).one()
        tr = Transcript(call_id=call_id, version=1, engine="test", model="none",
                        language="ja", job_id=job.id)
        s.add(tr)
        s.flush()
        for i, (speaker, start, end, text) in enumerate(LINES):
            s.add(Segment(transcript_id=tr.id, call_id=call_id, idx=i, speaker=speaker,
                          channel=None, start=start, end=end, text=text,
                          norm_text=normalize(text), confidence=0.9, words=[]))
        job.status, job.lease_owner = JobStatus.RUNNING, "test"
        jobs.complete(s, job, max_attempts=3)
        s.flush()
        s.execute(delete(AnalysisResult).where(AnalysisResult.call_id == call_id))
        for name, payload in payloads.items():
            s.add(AnalysisResult(call_id=call_id, analyzer=name, version=1,
                                 transcript_id=tr.id, payload=payload))
    return call_id


def _no_inline_code(html: str) -> None:
    """CSP is default-src 'self': no inline scripts, styles or handlers."""
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_call_page_shows_the_analysis(signed_in: TestClient, rt: Any) -> None:
    call_id = _store_call(signed_in, rt, _payloads())
    r = signed_in.get(f"/calls/{call_id}")
    assert r.status_code == 200, r.text
    html = r.text
    assert '<html lang="ja">' in html  # Japanese by default
    _no_inline_code(html)
    # summary strip + QA card
    assert re.search(r'class="qa-score">72\.5<', html)
    assert "合格" in html and "不合格" in html and "対象外" in html
    assert "冒頭の挨拶 &lt;i&gt;opening&lt;/i&gt;" in html and "<i>opening" not in html
    assert "録音の告知" in html
    # evidence times seek the player (player.js: a.seek[data-start])
    assert 'class="seek" href="?t=0.00" data-start="0.00"' in html
    assert 'data-start="3.20"' in html  # churn evidence
    # consent warning
    assert re.search(r'class="badge warn consent-warning"[^>]*>⚠ 録音告知なし<', html)
    assert "録音の告知がありません" in html  # the flag
    # a failed analyzer says so, with its (escaped) error, and nothing else breaks
    assert "分析できませんでした" in html
    assert "RuntimeError: boom &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    # agitation could not run: "not available" with the reason
    assert "no audio features" in html
    assert "解約の兆候あり" in html and "ネガティブ" in html
    # PII: the type, never the value
    assert "クレジットカード番号" in html and "SECRET-4539" not in html
    # transcript highlights by character range, text escaped
    assert '<span class="hl kw-ng">できません</span>' in html
    assert '<span class="hl kw-good">申し訳ありません</span>' in html
    assert '<span class="hl filler">えーと</span>' in html
    assert '<span class="hl pii">4539</span>' in html
    assert '<span class="hl kw-ng">&lt;script&gt;</span>alert(&#39;x&#39;)&lt;/script&gt;' \
        in html
    assert "<script>alert" not in html
    # metrics, fillers, VOC
    assert "51%" in html and "えーと ×1" in html and "解約の申し出" in html


def test_call_page_language(signed_in: TestClient, rt: Any) -> None:
    call_id = _store_call(signed_in, rt, _payloads())
    en = signed_in.get(f"/calls/{call_id}", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert en.status_code == 200
    assert '<html lang="en">' in en.text
    for s in ("QA score", "Pass", "No recording notice", "Card number", "Analysis failed",
              "Churn risk", "Negative", "Talk metrics"):
        assert s in en.text, s
    assert "品質評価" not in en.text and "録音告知なし" not in en.text
    ja = signed_in.get(f"/calls/{call_id}", headers={"Accept-Language": "fr-FR,fr"})
    assert '<html lang="ja">' in ja.text
    for s in ("品質評価", "録音告知なし", "クレジットカード番号", "分析できませんでした"):
        assert s in ja.text, s
    # ?lang= wins over the browser and is remembered
    assert "QA score" in signed_in.get(f"/calls/{call_id}?lang=en").text
    assert "QA score" in signed_in.get(f"/calls/{call_id}").text
    assert "品質評価" in signed_in.get(f"/calls/{call_id}?lang=ja").text


def test_missing_failed_and_malformed_payloads_never_break_the_page(
        signed_in: TestClient, rt: Any) -> None:
    err = {"error": "ValueError: <nope>"}
    odd = {
        "qa": {"score": None, "passed": False, "criteria": "oops"},
        "consent": {"announced": True, "answer": "refused", "refused": True,
                    "flags": ["recording_refused", "brand_new_flag"], "evidence": [None, 3]},
        "keywords": err,
        "fillers": {"agent": "x", "customer": {"items": ["a"], "hits": [{"chars": "ab"}]}},
        "pii": "garbage",
        "voc": {"tags": None},
        "sentiment": {"customer": {"label": "<odd>", "score": "high"}},
        "agitation": {"available": True, "customer": {"level": "angry", "episodes": [
            {"start": 3.2, "end": 4.0, "segment": 1, "level": "angry", "score": 0.9}]}},
        "metrics": {"parties": [], "hold": "x", "silence": {"stretches": [{"start": "y"}]},
                    "talk_ratio": 1e308},
        "churn": [],
        # "complaint" is missing altogether
    }
    call_id = _store_call(signed_in, rt, odd, seed=91)
    r = signed_in.get(f"/calls/{call_id}")
    assert r.status_code == 200, r.text
    html = r.text
    _no_inline_code(html)
    assert "⚠ 録音拒否" in html and "お客様が録音を拒否しました" in html
    assert "brand_new_flag" in html
    assert "分析できませんでした" in html and "ValueError: &lt;nope&gt;" in html
    assert "分析結果がありません" in html  # complaint missing
    assert "&lt;odd&gt;" in html and "<odd>" not in html
    assert "怒り" in html and 'data-start="3.20"' in html
    assert '<span class="hl' not in html.split('id="transcript"')[1]  # nothing to mark
    # the whole analysis missing (still processing): no analysis section at all
    call2 = _store_call(signed_in, rt, {}, seed=92)
    html = signed_in.get(f"/calls/{call2}").text
    assert 'id="analysis-summary"' not in html and "できません、申し訳ありません" in html


# ---------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
def test_evidence_links_seek_the_player_in_a_browser(signed_in: TestClient, rt: Any) -> None:
    """player.js: clicking an evidence time seeks the audio (CSP allows it all)."""
    pytest.importorskip("playwright")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    import uvicorn
    from playwright.sync_api import sync_playwright

    from rokuon.web.app import create_app

    call_id = _store_call(signed_in, rt, _payloads(), seed=93, seconds=12.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(rt, start_workers=False),
                                        host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    try:
        for _ in range(200):
            if srv.started:
                break
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--autoplay-policy=no-user-gesture-required"])
            ctx = browser.new_context(locale="en-US")
            ctx.add_cookies([{"name": "rokuon_session", "url": base,
                              "value": signed_in.cookies.get("rokuon_session")}])
            page = ctx.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            page.goto(f"{base}/calls/{call_id}")
            assert page.inner_text("#analysis-summary .qa-score") == "72.5"
            assert "No recording notice" in page.inner_text("#analysis-summary")
            page.wait_for_function("document.getElementById('player').readyState >= 1")
            url = page.url
            page.click("#pii a.seek")  # the card number at 0:07 (7.4 s)
            page.wait_for_function(
                "Math.abs(document.getElementById('player').currentTime - 7.4) < 0.8")
            assert page.url == url  # seeked in place, no navigation
            page.click("#qa a.seek")  # the greeting criterion's evidence at 0:00
            page.wait_for_function(
                "document.getElementById('player').currentTime < 1.5")
            assert page.locator("#transcript .hl.kw-ng").count() == 2
            assert not problems, problems
            browser.close()
    finally:
        srv.should_exit = True
        th.join(10)


def test_call_page_shows_the_summary_and_minutes(signed_in: TestClient, rt: Any) -> None:
    summary = {"text": "解約したい。<b>x</b>", "method": "textrank", "sentences": [
        {"speaker": "customer", "start": 3.2, "text": "解約したいんです。"},
        {"speaker": "agent", "start": 9.5, "text": "書類を<b>お送り</b>いたします。"}],
        "minutes": {"purpose": "解約したいんです。", "actions": ["解約を承りました。"],
                    "next_actions": ["書類をお送りいたします。"], "due": "明日"}}
    call_id = _store_call(signed_in, rt, {**_payloads(), "summary": summary})
    html = signed_in.get(f"/calls/{call_id}", params={"lang": "ja"}).text
    assert 'id="call-summary"' in html and "通話の要約" in html
    assert "用件" in html and "約束した期日" in html and "明日" in html
    assert "書類を&lt;b&gt;お送り&lt;/b&gt;いたします。" in html  # escaped
    assert 'data-start="9.50"' in html  # each line seeks the player
    _no_inline_code(html)
    doc = signed_in.get(f"/api/calls/{call_id}").json()
    assert doc["analysis"]["summary"]["minutes"]["due"] == "明日"
    # no summary (a call analysed before it existed): no section
    other = _store_call(signed_in, rt, _payloads(), seed=91)
    assert 'id="call-summary"' not in signed_in.get(f"/calls/{other}").text
