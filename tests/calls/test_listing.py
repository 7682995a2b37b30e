"""The call list: flags from the figures, filters (team, score range, flag, keyword,
customer number by digits), sort, pages with a total, the door's scope, bad filters
named; saved views per user; the list page and the API over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from rokuon.access.principal import Principal
from rokuon.calls import views
from rokuon.calls.listing import CallFilter, ListError, from_query, number_digits, page
from rokuon.reports.synthetic import add_call, analysis
from rokuon.store.models import AuditEntry, Call
from rokuon.web.app import create_app
from tests.web.conftest import make_user, sign_in

ADMIN = Principal(name="admin@example.com", role="admin")
SV_A = Principal(name="sv@example.com", role="supervisor", team="A")
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _seed(rt) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        ids = {
            "good": add_call(s, started_at=T0, duration_s=120, agent="sato", team="A",
                             analysis=analysis(qa_score=92, qa_passed=True)),
            "angry": add_call(s, started_at=T0 + timedelta(hours=1), duration_s=300,
                              agent="kato", team="A",
                              analysis=analysis(qa_score=41, qa_passed=False, complaint=True,
                                                sentiment="negative", announced=False,
                                                keywords=[("ng", "知りません")])),
            "churn": add_call(s, started_at=T0 + timedelta(hours=2), duration_s=60,
                              agent="sato", team="B",
                              analysis=analysis(qa_score=70, qa_passed=True, churn=True)),
            "raw": add_call(s, started_at=T0 + timedelta(hours=3), duration_s=30,
                            agent="ito", team="A"),  # not analysed yet
        }
        s.get(Call, ids["angry"]).customer_number = "090-1234-5678"  # type: ignore[union-attr]
        s.get(Call, ids["churn"]).customer_number = "+81 3 1111 2222"  # type: ignore[union-attr]
    return ids


def _ids(rt, f: CallFilter, who: Principal = ADMIN) -> list[str]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return [r["call_id"] for r in page(s, who, f, "Asia/Tokyo")["calls"]]


def test_flags_filters_sort_and_pages(rt) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(rt)
    with rt.db.session() as s:
        res = page(s, ADMIN, CallFilter(), "Asia/Tokyo")
    rows = {r["call_id"]: r for r in res["calls"]}
    assert res["total"] == 4
    assert set(rows[ids["angry"]]["flags"]) == {"ng", "complaint", "negative",
                                                "no_announcement", "qa_failed"}
    assert rows[ids["angry"]]["customer_sentiment"] == "negative"
    assert rows[ids["good"]]["flags"] == [] and rows[ids["good"]]["qa_passed"] is True
    assert rows[ids["churn"]]["flags"] == ["churn"] and rows[ids["churn"]]["team"] == "B"
    assert rows[ids["raw"]]["flags"] == [] and rows[ids["raw"]]["customer_sentiment"] is None

    assert _ids(rt, CallFilter(flag="complaint")) == [ids["angry"]]
    assert _ids(rt, CallFilter(flag="ng")) == [ids["angry"]]
    assert _ids(rt, CallFilter(flag="churn")) == [ids["churn"]]
    assert _ids(rt, CallFilter(team="B")) == [ids["churn"]]
    assert _ids(rt, CallFilter(min_score=60, max_score=80)) == [ids["churn"]]
    assert _ids(rt, CallFilter(keyword="知りません")) == [ids["angry"]]
    # digits compared, the end of the number is enough, +81 meets the national 0
    assert _ids(rt, CallFilter(customer_number="09012345678")) == [ids["angry"]]
    assert _ids(rt, CallFilter(customer_number="03-1111-2222")) == [ids["churn"]]
    assert _ids(rt, CallFilter(customer_number="2222")) == [ids["churn"]]
    # sort: QA ascending puts the unscored call last; newest first by default
    assert _ids(rt, CallFilter(sort="qa", descending=False)) == [
        ids["angry"], ids["churn"], ids["good"], ids["raw"]]
    assert _ids(rt, CallFilter()) == [ids["raw"], ids["churn"], ids["angry"], ids["good"]]
    assert _ids(rt, CallFilter(sort="duration")) [0] == ids["angry"]
    # pages: two of two, with the total of every match
    with rt.db.session() as s:
        p2 = page(s, ADMIN, CallFilter(limit=3, offset=3), "Asia/Tokyo")
    assert [r["call_id"] for r in p2["calls"]] == [ids["good"]] and p2["total"] == 4
    # the door: a team A supervisor never sees team B's call, whatever the filter
    assert ids["churn"] not in _ids(rt, CallFilter(), SV_A)
    assert _ids(rt, CallFilter(flag="churn"), SV_A) == []
    with rt.db.session() as s:
        from sqlalchemy import select
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "call.list")
                      .order_by(AuditEntry.id.desc())).first()
        assert e is not None and e.detail["filter"]["flag"] == "churn"


@pytest.mark.parametrize("params, message", [
    ({"flag": "everything"}, "flag: 'everything'"),
    ({"min_score": "90", "max_score": "10"}, "min_score 90 is above max_score 10"),
    ({"min_score": "abc"}, "min_score: 'abc' is not a number"),
    ({"max_score": "250"}, "max_score: 250 is not a QA score"),
    ({"since": "2026-12-01", "until": "2026-11-01"}, "since 2026-12-01 is after until"),
    ({"since": "yesterday"}, "since: 'yesterday' is not a date"),
    ({"sort": "customer"}, "sort: 'customer'"),
    ({"page": "0"}, "page: '0'"),
    ({"customer_number": "12"}, "at least 4 digits"),
    ({"agent": "x" * 5000}, "agent: at most 200"),
])
def test_bad_filters_are_named(params, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ListError, match=message):
        from_query(params)


def test_number_digits() -> None:
    assert number_digits("03-1234-5678") == number_digits("+81 3 1234 5678") == "312345678"
    assert number_digits("5678") == "5678"


def test_saved_views_are_per_user_and_checked(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        v = views.save(s, SV_A, "  苦情  の通話 ", "flag=complaint&sort=qa&order=asc&page=3")
        assert v.name == "苦情 の通話" and v.query == "flag=complaint&sort=qa&order=asc"
        with pytest.raises(ListError, match="flag"):
            views.save(s, SV_A, "bad", "flag=nope")
        with pytest.raises(ListError, match="no filter"):
            views.save(s, SV_A, "empty", "page=2")
        with pytest.raises(ListError, match="needs a name"):
            views.save(s, SV_A, " ", "flag=ng")
        views.save(s, SV_A, "苦情 の通話", "flag=ng")  # same name: replaced
    with rt.db.session() as s:
        mine = views.mine(s, SV_A)
        assert [(x.name, x.query) for x in mine] == [("苦情 の通話", "flag=ng")]
        assert views.mine(s, ADMIN) == []
        assert not views.delete(s, ADMIN, mine[0].id)  # not theirs
        assert views.delete(s, SV_A, mine[0].id)


def test_list_page_and_api(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    ids = _seed(rt)
    secret = make_user(rt, "sv@example.com", "supervisor", team="A")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", secret)
        page_html = c.get("/", params={"flag": "complaint"}).text
        assert ids["angry"] in page_html and ids["good"] not in page_html
        assert "苦情" in page_html and "録音告知なし" in page_html
        assert "1 件" in page_html
        bad = c.get("/", params={"min_score": "90", "max_score": "10"})
        assert bad.status_code == 200 and 'id="filter-error"' in bad.text
        r = c.post("/views", data={"name": "要注意", "query": "flag=complaint",
                                   "csrf": "wrong"})
        assert r.status_code == 403
        r = c.post("/views", data={"name": "要注意", "query": "flag=complaint",
                                   "csrf": c.csrf})  # type: ignore[attr-defined]
        assert r.status_code == 303 and r.headers["location"] == "/?flag=complaint"
        assert 'href="/?flag=complaint">要注意</a>' in c.get("/").text
        r = c.post("/views", data={"name": "<script>", "query": "flag=nope",
                                   "csrf": c.csrf})  # type: ignore[attr-defined]
        assert r.status_code == 422
        api = c.get("/api/calls", params={"flag": "qa_failed", "sort": "qa"}).json()
        assert [x["call_id"] for x in api["calls"]] == [ids["angry"]] and api["total"] == 1
        assert c.get("/api/calls", params={"flag": "x"}).status_code == 422
        assert c.get("/api/calls", params={"team": "B"}).json()["calls"] == []  # scope
