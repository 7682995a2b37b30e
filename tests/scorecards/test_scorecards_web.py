"""Scorecards over HTTP and in the server-rendered pages: a bad card is answered 422
with every problem named and nothing saved, a stale edit is refused, hostile text is
escaped, a re-score runs over the requester's scope, operators are kept out."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.scorecards import rescore
from rokuon.store.models import ScorecardVersion
from rokuon.web.app import create_app
from tests.scorecards.test_rescore import _call
from tests.web.conftest import make_user, sign_in


def _crit(**over):  # type: ignore[no-untyped-def]
    base = {"id": "apology", "label": "<b>お詫び</b>", "type": "phrase_present",
            "speaker": "agent", "phrases": ["申し訳ございません"], "weight": 50}
    return {**base, **over}


def test_api_saves_versions_and_refuses_bad_cards(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    op = make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", sv)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        listed = c.get("/api/scorecards").json()["scorecards"]
        assert "default_ja" in [x["name"] for x in listed]
        card = c.get("/api/scorecards/default_ja").json()
        assert card["version"] == 0 and card["history"][0]["version"] == 0
        body = {"title": "新シート", "pass_score": 70, "base_version": 0,
                "criteria": [_crit(), _crit(id="close", phrases=[], weight=-1,
                                            type="nonsense")]}
        assert c.put("/api/scorecards/default_ja", json=body).status_code == 403  # no CSRF
        r = c.put("/api/scorecards/default_ja", json=body, headers=h)
        assert r.status_code == 422
        problems = " | ".join(r.json()["problems"])
        assert "close" in problems and "nonsense" in problems and "weight" in problems
        assert c.put("/api/scorecards/default_ja", content=b"{oops",
                     headers={**h, "content-type": "application/json"}).status_code == 422
        assert c.put("/api/scorecards/default_ja", json=["x"], headers=h).status_code == 422
        with rt.db.session() as s:
            assert s.scalars(select(ScorecardVersion)).first() is None  # nothing saved
        close = _crit(id="close", label="結び", phrases=["ありがとうございました"], last_s=20)
        body["criteria"] = [_crit(), close]
        r = c.put("/api/scorecards/default_ja", json=body, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1
        r = c.put("/api/scorecards/default_ja", json=body, headers=h)  # base 0 is stale now
        assert r.status_code == 422 and "version 1" in r.json()["error"]
        assert c.get("/api/scorecards/nope").status_code == 404
        page = c.get("/scorecards/default_ja").text
        assert "&lt;b&gt;お詫び&lt;/b&gt;" in page and "<b>お詫び" not in page
        assert c.get("/scorecards/default_ja?version=0").status_code == 200
        assert c.get("/scorecards").status_code == 200

        sign_in(c, "sato@example.com", op)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        assert c.get("/api/scorecards").status_code == 403
        assert c.put("/api/scorecards/default_ja", json=body, headers=h).status_code == 403
        assert c.get("/scorecards").status_code == 403


def test_form_edit_and_rescore_in_the_pages(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    a, b = _call(rt, 601), _call(rt, 602, team="B")
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", sv)
        csrf = c.csrf  # type: ignore[attr-defined]
        form = {"csrf": csrf, "base_version": "0", "title": "厳しめ", "pass_score": "90",
                "c0_id": "greeting", "c0_label": "挨拶", "c0_type": "phrase_present",
                "c0_speaker": "agent", "c0_phrases": "お電話ありがとうございます",
                "c0_within_s": "15", "c0_weight": "30",
                "c1_id": "restate", "c1_label": "復唱", "c1_type": "phrase_present",
                "c1_speaker": "agent", "c1_phrases": "復唱いたします\n繰り返します",
                "c1_weight": "70"}
        bad = {**form, "c1_within_s": "10", "c1_last_s": "10", "pass_score": "150"}
        r = c.post("/scorecards/default_ja", data=bad)
        assert r.status_code == 422 and 'id="sc-problems"' in r.text
        assert "復唱いたします" in r.text  # the user's rows come back to correct
        r = c.post("/scorecards/default_ja", data=form)
        assert r.status_code == 303 and r.headers["location"].endswith("saved=1")
        r = c.post("/scorecards/default_ja/rescore", data={"csrf": csrf, "since": "bad"})
        assert r.status_code == 422
        r = c.post("/scorecards/default_ja/rescore", data={"csrf": csrf})
        assert r.status_code == 303
        run_url = r.headers["location"]
        assert 'http-equiv="refresh"' in c.get(run_url).text  # queued: the page refreshes
        assert rescore.run_pending(rt) == 1
        page = c.get(run_url).text
        assert a in page and b not in page and 'http-equiv="refresh"' not in page
        run_id = int(run_url.rsplit("/", 1)[1])
        got = c.get(f"/api/rescore/{run_id}").json()
        assert got["run"]["status"] == "done" and [d["call_id"] for d in got["deltas"]] == [a]
        assert got["deltas"][0]["new_passed"] is False  # nobody said 復唱いたします
        csv = c.get(f"{run_url}.csv")
        assert csv.status_code == 200 and a in csv.text and csv.text.startswith("\ufeffcall_id")
        qa = c.get(f"/api/calls/{a}").json()["analysis"]["qa"]
        assert qa["scorecard_version"] == 1 and qa["pass_score"] == 90
