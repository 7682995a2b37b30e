"""The VOC topics over HTTP: the API gives the report's contract, the page shows the
table in Japanese, bad counts are refused with the problem named, and a role without
reports in its scope sees nothing of other teams."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.reports.conftest import SINCE, UNTIL
from tests.reports.test_topics import voc  # noqa: F401 - a fixture
from tests.web.conftest import make_user, sign_in

PERIOD = {"since": SINCE, "until": UNTIL}


def test_api_and_page(voc, signed_in: TestClient) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, truth = voc
    r = signed_in.get("/api/reports/topics", params={**PERIOD, "topics": 5})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["calls_considered"] == len(truth) and len(doc["topics"]) == 5
    assert any("解約" in t["terms"] for t in doc["topics"])
    assert signed_in.get("/api/reports/topics", params={"topics": 99}).status_code == 422
    html = signed_in.get("/reports/topics", params={**PERIOD, "topics": "5",
                                                   "lang": "ja"}).text
    assert "VOCトピック" in html and 'id="topic-table"' in html and "解約" in html
    assert 'href="/calls/' in html  # typical calls link to the call page
    assert 'id="topics-csv"' in html
    r = signed_in.get("/api/reports/topics", params={**PERIOD, "topics": 5, "format": "csv"})
    assert r.status_code == 200 and r.text.startswith("\ufefftopic_id,label,calls,")
    assert len(r.text.strip().splitlines()) == 6 and "解約" in r.text
    bad = signed_in.get("/reports/topics", params={"topics": "abc", "lang": "en"})
    assert bad.status_code == 400 and "topics must be between" in bad.text
    dash = signed_in.get("/dashboard", params={**PERIOD, "lang": "en"}).text
    assert 'id="topics-link"' in dash and "See VOC topics" in dash


def test_a_supervisor_sees_only_their_team(voc, client: TestClient) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rt, truth = voc
    secret = make_user(rt, "sv-a@example.com", "supervisor", team="A")
    c = sign_in(client, "sv-a@example.com", secret)
    doc = c.get("/api/reports/topics", params=PERIOD).json()
    assert doc["calls_considered"] == sum(1 for t in truth.values() if t[2] == "sato")
