"""Real-time rules as data: a saved rule set is validated as a whole (every problem named,
nothing saved), versioned and audited; the live board uses the newest version within
seconds — a phrase rule added while a call runs fires on it, a rule switched off does
not; the page and the API refuse non-admins and escape hostile text."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.access.permissions import Forbidden
from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.engine.types import Segment
from rokuon.live import rule_versions
from rokuon.live.board import LiveBoard
from rokuon.live.rule_versions import LiveRulesError, RuleSource
from rokuon.live.transcriber import LiveText
from rokuon.store.models import AuditEntry, LiveRuleVersion
from rokuon.web.app import create_app
from tests.web.conftest import make_user, sign_in

ADMIN = Principal(name="admin@example.com", role="admin")


class _Session:  # what the board reads of a live session
    def __init__(self) -> None:
        self.call_id, self.source, self.seconds, self.is_paused = "c1", "ws", 12.0, False
        self.meta = CallMetadata.model_validate({"agent": "sato", "team": "A"})


def _final(speaker: str, start: float, text: str) -> LiveText:
    seg = Segment(speaker, start, start + 2, text, channel=0 if speaker == "agent" else 1)
    return LiveText("final", "c1", speaker, seg.channel, start, start + 2, text, 0.5, [seg])


def _rules(rt, s):  # type: ignore[no-untyped-def]
    return rule_versions.current(s, rt.analysis_config)["rules"]


def test_validation_names_every_problem_and_saves_nothing(rt) -> None:  # type: ignore[no-untyped-def]
    bad = [{"name": "a", "when": "phrase", "kind": "custom"},  # no phrases
           {"name": "a", "when": "keyword", "kind": "ng_word", "list": "nope"},
           {"name": "b", "when": "silence", "kind": "silence", "over_s": "-3"},
           {"name": "c", "when": "teleport", "kind": "alien", "colour": "red"},
           {"name": "d", "when": "complaint_score", "kind": "complaint"}]
    with rt.db.session() as s:
        with pytest.raises(LiveRulesError) as err:
            rule_versions.save(s, ADMIN, rt.analysis_config, bad)
        text = " | ".join(err.value.problems)
        for expected in ("rule a phrases: at least one phrase", "unknown keyword list 'nope'",
                         "rule b over_s: must be between 1 and 3600", "rule c when",
                         "rule c kind",
                         "unknown field(s) colour", "rule a: the name is used twice",
                         "rule d threshold: required"):
            assert expected in text, (expected, text)
        with pytest.raises(Forbidden):
            rule_versions.save(s, Principal(name="sv@x", role="supervisor", team="A"),
                               rt.analysis_config, _rules(rt, s))
        with pytest.raises(LiveRulesError, match="a list of rules"):
            rule_versions.save(s, ADMIN, rt.analysis_config, {"rules": []})
    with rt.db.session() as s:
        assert s.scalars(select(LiveRuleVersion)).first() is None
        assert rule_versions.current(s, rt.analysis_config)["version"] == 0


def test_an_edit_applies_to_a_running_call(rt) -> None:  # type: ignore[no-untyped-def]
    source = RuleSource(lambda: rt.analysis_config, rt.db.session, ttl_s=0.0)
    alerts: list[dict] = []
    board = LiveBoard(source, lambda session, alert: alerts.append(alert), lambda cid: True)

    board.opened(_Session())  # type: ignore[arg-type]
    board.on_text(_final("customer", 1.0, "ポイントの有効期限を延ばしてほしい"))
    assert not any(a["rule"] == "points" for a in alerts)
    with rt.db.session() as s:
        rules = _rules(rt, s)
        rules = [{**r, "enabled": r["name"] != "churn_intent"} for r in rules]
        rules.append({"name": "points", "when": "phrase", "kind": "custom",
                      "speaker": "customer", "phrases": ["ポイントの有効期限"]})
        saved = rule_versions.save(s, ADMIN, rt.analysis_config, rules, base_version=0,
                                   note="ポイント問い合わせを検知")
        assert saved["version"] == 1
        with pytest.raises(LiveRulesError, match="version 1 was saved by admin@example.com"):
            rule_versions.save(s, ADMIN, rt.analysis_config, rules, base_version=0)
    board.on_text(_final("customer", 4.0, "解約したいです"))
    fired = {a["rule"] for a in alerts}
    assert "points" in fired  # the new rule, on the call already running
    assert "churn_intent" not in fired  # switched off
    with rt.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "live_rules.save")
                          ).one()
        assert entry.detail["added"] == ["points"]
        assert entry.detail["disabled"] == ["churn_intent"]


def test_page_and_api(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    boss = make_user(rt, "boss@example.com", "admin")
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "boss@example.com", boss)
        csrf = c.csrf  # type: ignore[attr-defined]
        h = {"X-CSRF-Token": csrf}
        cur = c.get("/api/live-rules").json()
        assert cur["version"] == 0 and cur["rules"]
        assert c.put("/api/live-rules", json={"rules": cur["rules"]}).status_code == 403
        r = c.put("/api/live-rules", json={"rules": [{"name": "x"}]}, headers=h)
        assert r.status_code == 422 and r.json()["problems"]
        assert c.put("/api/live-rules", content=b"[", headers={
            **h, "content-type": "application/json"}).status_code == 422
        page = c.get("/live/rules")
        assert page.status_code == 200 and 'name="r0_name"' in page.text
        form = {"csrf": csrf, "base_version": "0", "r0_name": "<img src=x>",
                "r0_when": "phrase", "r0_kind": "custom", "r0_speaker": "customer",
                "r0_phrases": "上司を出せ", "r0_enabled": "1",
                "r1_name": "quiet", "r1_when": "silence", "r1_kind": "silence"}
        r = c.post("/live/rules", data=form)  # quiet has no over_s
        assert r.status_code == 422 and "rule quiet over_s: required" in r.text
        assert "&lt;img src=x&gt;" in r.text and "<img src=x>" not in r.text
        assert "上司を出せ" in r.text  # the rows come back to correct
        form["r1_over_s"] = "45"
        r = c.post("/live/rules", data=form)
        assert r.status_code == 303 and r.headers["location"] == "/live/rules?saved=1"
        got = c.get("/api/live-rules").json()
        assert [x["name"] for x in got["rules"]] == ["<img src=x>", "quiet"]
        assert got["rules"][1]["over_s"] == 45.0 and got["history"][0]["version"] == 1
        sign_in(c, "sv@example.com", sv)
        assert c.get("/live/rules").status_code == 403
        assert c.get("/api/live-rules").status_code == 403
