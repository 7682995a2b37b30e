"""Breach reports (漏えい等報告): affected calls and persons from the audit log,
deadlines and overdue flags, notices, the PPC form export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access import audit, door
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.cli.main import app
from rokuon.compliance import breach
from rokuon.store.models import AuditEntry, BreachIncident, utcnow
from tests.helpers import tone_wav

CLI = Principal.cli()
MALLORY = Principal(name="mallory@example.com", role="admin")
BOB = Principal(name="bob@example.com", role="admin")
OPERATOR = Principal(name="op@example.com", role="operator", agent_name="nobody")
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def _call(rt, seed: int, number: str | None = None) -> str:  # type: ignore[no-untyped-def]
    meta = {"customer_number": number} if number else {}
    return ingest_stream(rt, [tone_wav(0.5, seed=seed)], name=f"b{seed}.wav", actor=CLI,
                         meta=parse_metadata(json.dumps(meta))).call_id


def _setup(rt) -> tuple[str, str, str, str]:  # type: ignore[no-untyped-def]
    c1, c2 = _call(rt, 61, "03-1111-2222"), _call(rt, 62, "0311112222")  # one person
    c3, c4 = _call(rt, 63, "0499990000"), _call(rt, 64)  # c4: no number
    with rt.db.session() as s:
        door.get_call(s, MALLORY, c1, action="call.play")
        door.get_call(s, MALLORY, c2, action="call.view")
        door.get_call(s, MALLORY, c4, action="call.download")
        door.get_call(s, BOB, c3, action="call.view")  # another account: not in scope
        audit.record(s, MALLORY, "call.play", object_type="call", object_id=c3,
                     outcome="denied")  # refused: nothing left the system
    return c1, c2, c3, c4


def test_incident_affected_notify_export(rt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c1, c2, c3, c4 = _setup(rt)
    today = utcnow().astimezone().date().isoformat()
    r = run("breach", "create", "--title", "退職者アカウントによる録音の再生",
            "--description", "退職済みオペレーターのアカウントで録音が再生された",
            "--actor", MALLORY.name, "--window-from", "2000-01-01",
            "--window-to", (utcnow() + timedelta(minutes=1)).isoformat(),
            "--unauthorized-access", "--data-item", "通話録音", "--data-item", "電話番号",
            "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    iid = doc["incident_id"]
    assert doc["affected"]["calls"] == 3 and doc["affected"]["persons"] == 2
    assert doc["deadlines"]["preliminary"]["days"] == 5
    assert doc["deadlines"]["final"]["days"] == 60  # unauthorised access
    assert doc["overdue"] is False and doc["status"] == "open" and today

    aff = json.loads(run("breach", "affected", iid, "--json").stdout)
    assert {c["call_id"] for c in aff["calls"]} == {c1, c2, c4}  # not c3 (bob; denied)
    assert [p["person"] for p in aff["persons"]] == ["0311112222"]
    assert sorted(aff["persons"][0]["calls"]) == sorted([c1, c2])
    assert aff["counts"]["calls_without_number"] == 1
    by_call = {c["call_id"]: c for c in aff["calls"]}
    assert by_call[c1]["actors"] == [MALLORY.name] and by_call[c1]["actions"] == ["call.play"]

    r = run("breach", "notify", iid, "--person", "03-1111-2222", "--method", "letter",
            "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["notified"] == ["0311112222"]
    r = run("breach", "notify", iid, "--person", "0311112222", "--method", "letter")
    assert r.exit_code == 1 and "notified already" in r.stderr
    r = run("breach", "notify", iid, "--person", "0499990000", "--method", "email")
    assert r.exit_code == 1 and "not an affected person" in r.stderr
    r = run("breach", "notify", iid, "--all", "--method", "pigeon")
    assert r.exit_code == 1 and "--method must be one of" in r.stderr

    rep = json.loads(run("breach", "export", iid).stdout)
    f = rep["fields"]
    assert f["persons"] == 2 and f["report_type"] == "速報"
    assert f["data_items"] == ["通話録音", "電話番号"] and f["unauthorized_access"] == "有"
    assert any(c.startswith("3:") for c in f["categories"])
    assert "通知済み 1 / 1" in f["response_to_persons"]
    assert [row["label"] for row in rep["form"]][:4] == ["報告区分（速報／確報）", "概要",
                                                         "発生日", "発覚日"]
    assert "0311112222" not in json.dumps(rep)  # counts only, no personal data
    out = tmp_path / "ppc.csv"
    assert run("breach", "export", iid, "--format", "csv", "--out", str(out)).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8"))))
    assert rows[0] == ["key", "label", "value"]
    assert dict((r_[0], r_[2]) for r_ in rows[1:])["persons"] == "2"

    # the report lifecycle: 速報, then 確報 (needs cause and prevention), then closed
    assert run("breach", "update", iid, "--reported", "preliminary").exit_code == 0
    r = run("breach", "update", iid, "--reported", "final")
    assert r.exit_code == 1 and "needs cause and prevention" in r.stderr
    r = run("breach", "update", iid, "--cause", "退職時のアカウント削除漏れ", "--prevention",
            "退職手続きにアカウント停止を追加", "--reported", "final", "--close", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "closed"
    assert json.loads(run("breach", "export", iid).stdout)["fields"]["report_type"] == "確報"
    with rt.db.session() as s:
        actions = {e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action.like("breach.%")))}
        assert {"breach.create", "breach.affected", "breach.notify", "breach.export",
                "breach.update"} <= actions
        assert audit.verify(s).ok


def test_deadlines_and_overdue(rt) -> None:
    found = utcnow() - timedelta(days=10)
    with rt.db.session() as s:
        inc = breach.create(s, CLI, title="USB紛失", description="録音を含むUSBメモリの紛失",
                            discovered_at=found)
        iid = inc.id
        d = breach.deadlines(inc)
    assert d["preliminary"]["overdue"] and not d["final"]["overdue"]
    assert d["final"]["days"] == 30 and d["final"]["days_left"] in (19, 20)
    assert d["preliminary"]["due_at"] == (found + timedelta(days=5)).isoformat()
    r = run("breach", "list", "--overdue", "--json")
    assert r.exit_code == 2  # for cron: a report deadline has passed
    assert [i["incident_id"] for i in json.loads(r.stdout)["incidents"]] == [iid]
    assert run("breach", "update", iid, "--reported", "preliminary").exit_code == 0
    r = run("breach", "list", "--overdue", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["incidents"] == []
    with rt.db.session() as s:
        inc = s.get(BreachIncident, iid)
        later = breach.deadlines(inc, now=found + timedelta(days=31))
    assert later["final"]["overdue"] and not later["preliminary"]["overdue"]


def test_named_calls_and_bad_input(rt) -> None:
    c1 = _call(rt, 71, "0355550000")
    r = run("breach", "create", "--title", "誤送信", "--description", "録音ファイルの誤送信",
            "--call", c1, "--occurred-from", "2026-11-01", "--window-to", "2026-11-02",
            "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["affected"] == {**doc["affected"], "calls": 1, "persons": 1}
    assert doc["occurred_from"].startswith("2026-11-01T00:00:00")
    for args, needle in [
        (["--call", "nope"], "unknown call(s): nope"),
        (["--occurred-from", "2026-11-05", "--occurred-to", "2026-11-01"], "before"),
        (["--discovered-at", "soon"], "--discovered-at"),
        (["--discovered-at", "2999-01-01"], "in the future"),
    ]:
        r = run("breach", "create", "--title", "t", "--description", "d", *args)
        assert r.exit_code == 1 and needle in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 1
    r = run("breach", "create", "--title", " ", "--description", "d")
    assert r.exit_code == 1 and "title" in r.stderr
    for cmd in (["show", "missing"], ["affected", "missing"], ["export", "missing"],
                ["update", "missing", "--cause", "x"]):
        r = run("breach", *cmd)
        assert r.exit_code == 1 and "incident missing not found" in r.stderr
    r = run("breach", "export", doc["incident_id"], "--format", "pdf")
    assert r.exit_code == 1 and "--format" in r.stderr
    with rt.db.session() as s:
        try:
            breach.create(s, OPERATOR, title="t", description="d")
        except breach.BreachError as exc:
            assert "may not export" in str(exc)
        else:
            raise AssertionError("an operator opened an incident")
    with rt.db.session() as s:
        failed = s.scalars(select(AuditEntry).where(AuditEntry.action.like("breach.%"),
                                                    AuditEntry.outcome == "failed")).all()
        assert len(failed) >= 9
        assert audit.verify(s).ok


def test_daily_reminders(rt, caplog) -> None:  # type: ignore[no-untyped-def]
    found = utcnow() - timedelta(days=4, hours=12)  # 速報 due in half a day
    with rt.db.session() as s:
        soon = breach.create(s, CLI, title="誤送信", description="d", discovered_at=found).id
        late = breach.create(s, CLI, title="紛失", description="d",
                             discovered_at=utcnow() - timedelta(days=9)).id
        breach.create(s, CLI, title="新規", description="d")  # nothing due yet
    with caplog.at_level("WARNING"):
        rem = breach.reminders(rt)
    assert {(r["incident_id"], r["stage"], r["overdue"]) for r in rem} == {
        (soon, "preliminary", False), (late, "preliminary", True)}
    assert "OVERDUE" in caplog.text and "due soon" in caplog.text
    with rt.db.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "breach.remind")).one()
    assert run("breach", "update", late, "--reported", "preliminary").exit_code == 0
    assert {r["incident_id"] for r in breach.reminders(rt)} == {soon}


def test_breach_over_http(rt) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from rokuon.users.tokens import create_token
    from rokuon.web.app import create_app

    c1, _c2, _c3, _c4 = _setup(rt)
    with rt.db.session() as s:
        tok, _ = create_token(s, CLI, "admin@example.com", ["requests:read", "requests:write"])
        calls_tok, _ = create_token(s, CLI, "admin@example.com", ["calls:read"])
    h = {"Authorization": f"Bearer {tok}"}
    with TestClient(create_app(rt, start_workers=False)) as c:
        r = c.post("/api/breaches", headers=h, json={
            "title": "不正閲覧", "description": "d", "actors": [MALLORY.name],
            "window_from": "2000-01-01", "window_to": (utcnow() + timedelta(minutes=1))
            .isoformat(), "unauthorized_access": True})
        assert r.status_code == 201, r.text
        iid = r.json()["incident_id"]
        assert r.json()["affected"]["calls"] == 3
        assert r.json()["deadlines"]["final"]["days"] == 60
        r = c.post("/api/breaches", headers=h, json={"title": "t", "description": "d",
                                                      "occurred_from": "someday"})
        assert r.status_code == 422 and "occurred_from" in r.text
        aff = c.get(f"/api/breaches/{iid}/affected", headers=h).json()
        assert c1 in {x["call_id"] for x in aff["calls"]}
        r = c.post(f"/api/breaches/{iid}/notices", headers=h,
                   json={"method": "email", "all": True})
        assert r.status_code == 201 and r.json()["notified"] == ["0311112222"]
        assert c.get(f"/api/breaches/{iid}", headers=h).json()["affected"]["notified"] == 1
        assert c.get("/api/breaches", headers=h).json()["incidents"][0]["incident_id"] == iid
        r = c.get(f"/api/breaches/{iid}/export?format=csv", headers=h)
        assert r.status_code == 200 and r.text.startswith("key,label,value")
        assert c.get(f"/api/breaches/{iid}/export", headers=h).json()["fields"]["persons"] == 2
        assert c.get("/api/breaches/nope", headers=h).status_code == 404
        assert c.get("/api/breaches", headers={
            "Authorization": f"Bearer {calls_tok}"}).status_code == 403
        assert c.get("/api/breaches").status_code == 401
