"""The call timeline: lanes, curves and markers from a real analysed call (transcript
written directly, the real analyze step run), graceful with missing or failed analyzers,
personal data by kind only; and its two routes: access refused like the call page, and
a poll of the fragment adds no content-view audit entry."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.calls import timeline
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.calls.service import show_call
from rokuon.store.models import AuditEntry
from rokuon.web.app import create_app
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import make_user, sign_in

DURATION = 30.0
PHONE = "090の1234の5678です。"
LINES = [("agent", 0.0, 3.0, "お電話ありがとうございます。この通話は品質向上のため録音させて"
                             "いただきます。"),
         ("customer", 2.5, 6.0, "請求書の金額が違うんですけど。ふざけるな、解約したい。"),
         ("agent", 6.2, 9.0, "申し訳ございません、それはできません。"),
         ("customer", 9.2, 11.0, PHONE),
         ("agent", 11.2, 13.0, "確認いたします。少々お待ちください。"),
         ("agent", 24.0, 26.0, "お待たせいたしました。ありがとうございました。")]


def analysed_call(rt, seed: int = 701, lines=LINES) -> str:  # type: ignore[no-untyped-def]
    cid = ingest_stream(rt, [tone_wav(DURATION, seed=seed)], name=f"tl{seed}.wav",
                        actor=Principal.cli(),
                        meta=parse_metadata('{"agent": "sato", "team": "A"}')).call_id
    write_transcript(rt, cid, lines)
    return cid


def _doc(rt, cid: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return show_call(s, Principal.cli(), cid, "Asia/Tokyo")


def _spans(tl: dict[str, Any]) -> list[dict[str, float]]:
    return [sp for lane in tl["lanes"] for key in ("talk", "silence", "hold", "overlap")
            for sp in lane[key]]


def test_lanes_curves_and_markers_of_an_analysed_call(rt) -> None:  # type: ignore[no-untyped-def]
    doc = _doc(rt, analysed_call(rt))
    tl = timeline.build(doc)
    d = tl["duration"]
    assert d == doc["duration_s"] and abs(d - DURATION) < 0.5
    assert tl["status"] == "indexed" and tl["final"] is True
    json.dumps(tl)  # JSON-able as it is

    lanes = {lane["party"]: lane for lane in tl["lanes"]}
    assert list(lanes) == ["agent", "customer"]
    for sp in _spans(tl):
        assert 0 <= sp["start"] < sp["end"] <= d, sp
    assert lanes["agent"]["talk"][0] == {"start": 0.0, "end": 3.0}
    assert {"start": 2.5, "end": 3.0} in lanes["agent"]["overlap"]
    assert lanes["agent"]["overlap"] == lanes["customer"]["overlap"]
    # the long pause before 「お待たせいたしました」 is hold (and silence) in every lane
    for lane in lanes.values():
        assert any(sp["start"] >= 13.0 and sp["end"] <= 24.0 and sp["end"] - sp["start"] >= 8
                   for sp in lane["hold"]), lane["hold"]
        assert lane["silence"] and lane["silence"][0]["start"] >= 13.0

    sentiment = tl["curves"]["sentiment"]
    assert [p["t"] for p in sentiment] == [4.25, 10.1]  # one point per customer utterance
    assert all(-1 <= p["value"] <= 1 for p in sentiment) and sentiment[0]["value"] < 0

    kinds = {m["kind"] for m in tl["markers"]}
    assert {"kw_ng", "kw_good", "announcement", "abusive", "pii", "interruption"} <= kinds
    ng = next(m for m in tl["markers"] if m["kind"] == "kw_ng")
    assert ng["label"] == "できません" and ng["speaker"] == "agent" and 6.2 <= ng["t"] <= 9.0
    assert all(0 <= m["t"] <= m["end"] <= d for m in tl["markers"])
    assert [m["t"] for m in tl["markers"]] == sorted(m["t"] for m in tl["markers"])


def test_personal_data_is_a_kind_and_a_place_never_the_text(rt) -> None:  # type: ignore[no-untyped-def]
    tl = timeline.build(_doc(rt, analysed_call(rt, 702)))
    pii = [m for m in tl["markers"] if m["kind"] == "pii"]
    assert [(m["label"], m["group"]) for m in pii] == [("phone", "pii")]
    assert 9.2 <= pii[0]["t"] < pii[0]["end"] <= 11.0
    assert set(pii[0]) == {"t", "end", "kind", "label", "group", "speaker"}
    dumped = json.dumps(tl, ensure_ascii=False)
    for raw in ("090", "1234", "5678", PHONE):
        assert raw not in dumped


def test_missing_and_failed_analyzers_leave_their_parts_empty() -> None:
    segs = [{"speaker": "agent", "start": 0.0, "end": 4.0, "text": "はい"},
            {"speaker": "customer", "start": 3.0, "end": 7.0, "text": "ええ"}]
    failed = {name: {"error": "RuntimeError: boom"} for name in timeline.ANALYZERS}
    for analysis in ({}, None, failed, {"metrics": "odd", "keywords": {"x": 1},
                                        "pii": [None, {"type": "phone"}, {"start": "x"}],
                                        "sentiment": {"utterances": [None, {"score": "?"}]},
                                        "consent": {"evidence": "nope"},
                                        "complaint": {"evidence": [{"start": None}]},
                                        "agitation": {"available": True, "customer": None}}):
        tl = timeline.build({"call_id": "c", "status": "transcribed", "duration_s": 10.0,
                             "segments": segs, "analysis": analysis})
        lanes = {lane["party"]: lane for lane in tl["lanes"]}
        assert lanes["agent"]["talk"] == [{"start": 0.0, "end": 4.0}]
        assert lanes["customer"]["overlap"] == [{"start": 3.0, "end": 4.0}]
        assert all(lane[k] == [] for lane in lanes.values() for k in ("silence", "hold"))
        assert tl["markers"] == [] and tl["curves"]["agitation"] == []
        assert tl["final"] is False
        assert {"metrics", "agitation", "keywords"} <= set(tl["unavailable"])
    # a call that has nothing yet: no duration, no transcript, no analysis
    empty = timeline.build({"call_id": "c", "status": "stored", "duration_s": None})
    assert empty["duration"] == 0 and empty["markers"] == []
    assert [lane["talk"] for lane in empty["lanes"]] == [[], []]


def test_spans_and_markers_are_clipped_to_the_recording() -> None:
    tl = timeline.build({
        "status": "indexed", "duration_s": 5.0,
        "segments": [{"speaker": "agent", "start": -1.0, "end": 2.0},
                     {"speaker": "customer", "start": 4.0, "end": 9.0},
                     {"speaker": "customer", "start": 6.0, "end": 8.0}],
        "analysis": {"metrics": {"silence": {"stretches": [{"start": 2.0, "end": 12.0}]},
                                 "hold": {"stretches": []}},
                     "keywords": [{"list": "ng", "word": "無理です", "start": 7.0,
                                   "end": 8.0, "speaker": "agent"}]}})
    lanes = {lane["party"]: lane for lane in tl["lanes"]}
    assert lanes["agent"]["talk"] == [{"start": 0.0, "end": 2.0}]
    assert lanes["customer"]["talk"] == [{"start": 4.0, "end": 5.0}]
    assert lanes["agent"]["silence"] == [{"start": 2.0, "end": 5.0}]
    assert [(m["t"], m["end"], m["kind"]) for m in tl["markers"]] == [(5.0, 5.0, "kw_ng")]


def _views(rt, actor: str) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return len(s.scalars(select(AuditEntry).where(AuditEntry.actor == actor,
                                                      AuditEntry.action == "call.view")).all())


def test_routes_refuse_like_the_call_page_and_polls_are_not_audited(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    cid = analysed_call(rt, 703)
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    make_user(rt, "kato@example.com", "operator", agent_name="kato")
    auditor = make_user(rt, "au@example.com", "auditor")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "kato@example.com", None)  # another agent's call: as if it did not exist
        assert c.get(f"/calls/{cid}/timeline").status_code == 404
        assert c.get(f"/api/calls/{cid}/timeline").status_code == 404
        assert c.get("/calls/nope/timeline").status_code == 404
        sign_in(c, "au@example.com", auditor)  # no call content at all
        assert c.get(f"/calls/{cid}/timeline").status_code == 403
        assert c.get(f"/api/calls/{cid}/timeline").status_code == 403
        c.cookies.clear()
        assert c.get(f"/api/calls/{cid}/timeline").status_code == 401
        assert c.get(f"/calls/{cid}/timeline").status_code in (302, 303)  # to the sign-in

        sign_in(c, "sato@example.com", None)
        page = c.get(f"/calls/{cid}")
        assert page.status_code == 200 and 'id="timeline-svg"' in page.text
        assert _views(rt, "sato@example.com") == 1
        for _ in range(3):
            frag = c.get(f"/calls/{cid}/timeline")
            assert frag.status_code == 200 and frag.text.lstrip().startswith("<section")
            assert 'class="tl-marker pii"' in frag.text and "1234" not in frag.text
            assert frag.headers["cache-control"] == "no-store"
        assert _views(rt, "sato@example.com") == 1  # the polls added no view
        data = c.get(f"/api/calls/{cid}/timeline").json()
        assert data["call_id"] == cid and len(data["lanes"]) == 2 and data["markers"]
        assert _views(rt, "sato@example.com") == 2  # an API read is a view of its own


def test_a_fragment_fetched_without_the_page_is_a_view(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    cid = analysed_call(rt, 704)
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sato@example.com", None)
        for _ in range(3):
            assert c.get(f"/calls/{cid}/timeline").status_code == 200
    assert _views(rt, "sato@example.com") == 1  # the first fetch, once
