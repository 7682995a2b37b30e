"""The dashboard and the reports API over HTTP: JA/EN pages without raw keys, the
figures of the role's scope only, CSV export, 403 for a role without reports, bad
periods answered with a 400 that says what is wrong."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from rokuon.reports.synthetic import add_call, analysis
from rokuon.web.i18n import TEXT
from tests.reports.conftest import SINCE, UNTIL, jst, seeded  # noqa: F401 - a fixture
from tests.web.conftest import make_user, sign_in

PERIOD = {"since": SINCE, "until": UNTIL}


def _people(rt) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {"sato@example.com": make_user(rt, "sato@example.com", "operator",
                                          agent_name="sato"),
            "sv-b@example.com": make_user(rt, "sv-b@example.com", "supervisor", team="B"),
            "sv-none@example.com": make_user(rt, "sv-none@example.com", "supervisor"),
            "au@example.com": make_user(rt, "au@example.com", "auditor")}


def _no_raw_keys(html: str) -> None:
    text = re.sub(r"<[^>]+>", " ", html)  # the text, not attribute values
    raw = [k for k in TEXT if re.search(rf"(?<![\w.-]){re.escape(k)}(?![\w-])", text)
           and "_" in k]
    assert raw == [], raw


def test_page_in_japanese_and_english(signed_in: TestClient, seeded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    c = signed_in
    r = c.get("/dashboard", params={**PERIOD, "group": "agent", "lang": "ja"})
    assert r.status_code == 200, r.text
    html = r.text
    assert "ダッシュボード" in html and "キーワードランキング" in html and "平均処理時間" in html
    assert 'id="kpi-table"' in html and "<svg" in html and "<polyline" in html
    assert "2:45" in html  # the total AHT, 165 s, with the previous period's 1:40 beside it
    assert "1:40" in html
    assert "できません" in html and "+2" in html  # 3 NG hits now, 1 before
    assert 'href="/dashboard"' in html  # the nav link
    assert "/api/reports/kpis?since=2025-03-10&amp;until=2025-03-16&amp;group=agent" \
           "&amp;format=csv" in html
    _no_raw_keys(html)
    r = c.get("/dashboard", params={**PERIOD, "group": "day", "trend": "qa_avg",
                                    "lang": "en"})
    assert r.status_code == 200 and "Dashboard" in r.text and "Keyword ranking" in r.text
    assert "2025-03-11" in r.text and "QA average" in r.text
    _no_raw_keys(r.text)


def test_default_period_is_the_last_seven_days(signed_in: TestClient) -> None:
    r = signed_in.get("/dashboard")
    assert r.status_code == 200
    since, until = re.findall(r'type="date" name="(?:since|until)" value="([0-9-]+)"', r.text)
    from datetime import date

    assert (date.fromisoformat(until) - date.fromisoformat(since)).days == 6


def test_each_role_sees_its_own_figures(client: TestClient, seeded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rt, _ = seeded
    secrets = _people(rt)
    sign_in(client, "sato@example.com", secrets["sato@example.com"])
    doc = client.get("/api/reports/kpis", params={**PERIOD, "group": "agent"}).json()
    assert doc["total"]["calls"] == 2 and [g["key"] for g in doc["groups"]] == ["sato"]
    html = client.get("/dashboard", params={**PERIOD, "lang": "en"}).text
    assert "Your calls" in html and ">kato<" not in html and ">sato<" in html
    sign_in(client, "sv-b@example.com", secrets["sv-b@example.com"])
    doc = client.get("/api/reports/kpis", params={**PERIOD, "group": "team"}).json()
    assert [(g["key"], g["calls"]) for g in doc["groups"]] == [("B", 2)]
    words = client.get("/api/reports/keywords", params=PERIOD).json()["keywords"]
    assert words == [{"list": "good", "word": "かしこまりました", "count": 1, "calls": 1,
                      "change": 1}]
    sign_in(client, "sv-none@example.com", secrets["sv-none@example.com"])
    doc = client.get("/api/reports/kpis", params={**PERIOD, "group": "agent"}).json()
    assert doc["total"]["calls"] == 0 and doc["groups"] == []
    assert client.get("/api/reports/keywords", params=PERIOD).json() == {"keywords": []}
    html = client.get("/dashboard", params={**PERIOD, "lang": "ja"}).text
    assert "担当チームが未設定" in html


def test_a_role_without_reports_gets_403(client: TestClient, seeded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rt, _ = seeded
    secrets = _people(rt)
    sign_in(client, "au@example.com", secrets["au@example.com"])
    assert client.get("/dashboard").status_code == 403
    assert client.get("/api/reports/kpis").status_code == 403
    assert client.get("/api/reports/keywords", params={"format": "csv"}).status_code == 403
    assert 'href="/dashboard"' not in client.get("/audit").text
    client.cookies.clear()
    assert client.get("/api/reports/kpis").status_code == 401
    assert client.get("/dashboard").status_code == 303  # to the sign-in page


def test_api_contract_and_csv_export(signed_in: TestClient, seeded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    c = signed_in
    doc = c.get("/api/reports/kpis", params={**PERIOD, "group": "queue"}).json()
    assert set(doc) == {"total", "groups"} and doc["total"]["aht_s"] == 165.0
    assert [(g["key"], g["calls"]) for g in doc["groups"]] == [("q1", 2), ("q2", 2)]
    doc = c.get("/api/reports/kpis", params={**PERIOD, "compare": "1"}).json()
    assert doc["previous"]["total"]["calls"] == 2
    assert doc["period"] == {**PERIOD, "previous": {"since": "2025-03-03",
                                                    "until": "2025-03-09"}}
    r = c.get("/api/reports/kpis", params={**PERIOD, "group": "agent", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(x["group"], x["key"], x["calls"], x["prev_calls"]) for x in rows] == [
        ("total", "", "4", "2"), ("agent", "kato", "2", "1"), ("agent", "sato", "2", "1")]
    assert rows[0]["aht_s"] == "165.0" and rows[0]["qa_pass_rate"] == "0.667"
    r = c.get("/api/reports/keywords", params={**PERIOD, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == {"list": "ng", "word": "できません", "count": "3", "calls": "2",
                       "previous": "1", "change": "2"}
    words = {(k["list"], k["word"]): k for k in c.get("/api/reports/keywords",
                                                      params=PERIOD).json()["keywords"]}
    assert words[("ng", "無理です")] == {"list": "ng", "word": "無理です", "count": 0,
                                        "calls": 0, "change": -1}
    assert words[("competitor", "他社")]["count"] == 1
    assert words[("churn", "解約したい")]["calls"] == 1
    only = c.get("/api/reports/keywords", params={**PERIOD, "list": "good"}).json()
    assert {k["list"] for k in only["keywords"]} == {"good"}


def test_bad_periods_are_400_saying_why(signed_in: TestClient) -> None:
    c = signed_in
    r = c.get("/api/reports/kpis", params={"since": UNTIL, "until": SINCE})
    assert r.status_code == 400
    assert r.json() == {"error": "until (2025-03-10) is before since (2025-03-16)"}
    r = c.get("/api/reports/kpis", params={"since": "2010-01-01", "until": "2025-01-01"})
    assert r.status_code == 400 and "five years" in r.json()["error"]
    r = c.get("/api/reports/keywords", params={"since": "yesterday"})
    assert r.status_code == 400 and "'yesterday' is not a date" in r.json()["error"]
    r = c.get("/api/reports/kpis", params={"group": "month"})
    assert r.status_code == 400 and "group must be one of" in r.json()["error"]
    r = c.get("/api/reports/kpis", params={"format": "xlsx"})
    assert r.status_code == 400
    r = c.get("/dashboard", params={"since": UNTIL, "until": SINCE, "lang": "en"})
    assert r.status_code == 400 and "Check the period" in r.text
    assert "is before since" in r.text and 'id="kpi-table"' not in r.text


def test_names_are_escaped_on_the_page_and_in_csv(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    with rt.db.session() as s:
        add_call(s, started_at=jst("2025-03-11T10:00"), duration_s=60,
                 agent="<script>alert(1)</script>", team="=HYPERLINK(\"x\")",
                 analysis=analysis(keywords=[("custom", "<b>bold</b>")]))
    html = signed_in.get("/dashboard", params={**PERIOD, "group": "agent"}).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html
    r = signed_in.get("/api/reports/kpis", params={**PERIOD, "group": "team",
                                                   "format": "csv"})
    assert "'=HYPERLINK" in r.text
