"""CDR import (Asterisk, FreeSWITCH, Twilio CSV/JSON) and reconciliation with the
recordings: answered calls without a recording, recordings without a CDR."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.cdr import service
from rokuon.cdr.formats import CdrFormatError, parse
from rokuon.cli.main import app
from rokuon.store.models import AuditEntry, Call, CdrReconcileRun, CdrRecord
from tests.helpers import tone_wav

DATA = Path(__file__).parent.parent / "data" / "cdr"
CLI = Principal.cli()
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def _rec(rt, seed: int, duration: float, **meta) -> str:  # type: ignore[no-untyped-def]
    """A recording with the given metadata; its duration set as if it were that long."""
    cid = ingest_stream(rt, [tone_wav(0.5, seed=seed)], name=f"c{seed}.wav", actor=CLI,
                        meta=parse_metadata(json.dumps(meta))).call_id
    with rt.db.session() as s:
        s.get(Call, cid).duration_s = duration
    return cid


def _cdr_count(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return s.scalar(select(func.count()).select_from(CdrRecord))


def test_asterisk_import_reconcile_cli(rt) -> None:
    a = _rec(rt, 1, 3.0, external_id="1764550800.11", started_at="2026-12-01T10:00:05+09:00")
    b = _rec(rt, 2, 4.2, customer_number="+81 90-1234-5678",
             started_at="2026-12-01T11:00:06+09:00")
    c = _rec(rt, 3, 5.0, customer_number="0499990000", started_at="2026-12-01T13:00:00+09:00")
    d = _rec(rt, 4, 30.0, customer_number="06-7777-8888",  # right number, wrong length
             started_at="2026-12-01T12:00:03+09:00")
    old = _rec(rt, 5, 9.0, customer_number="0311110000", started_at="2026-11-20T10:00:00+09:00")

    r = run("cdr", "import", str(DATA / "asterisk_Master.csv"), "--format", "asterisk", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["rows"], doc["inserted"], doc["unchanged"]) == (5, 5, 0)
    with rt.db.session() as s:
        row = s.scalars(select(CdrRecord).where(CdrRecord.unique_id == "1764554400.21")).one()
        assert (row.disposition, row.billsec, row.duration_s) == ("ANSWERED", 4, 8)
        assert row.started_at.isoformat() == "2026-12-01T02:00:00+00:00"  # local → UTC
        first = s.scalars(select(CdrRecord).where(CdrRecord.unique_id == "1764550800.11")).one()
        assert first.queue == "support" and first.channel == "PJSIP/trunk-00000001"

    again = json.loads(run("cdr", "import", str(DATA / "asterisk_Master.csv"), "--format",
                           "asterisk", "--json").stdout)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 5)
    assert _cdr_count(rt) == 5

    r = run("cdr", "reconcile", "--since", "2026-12-01", "--until", "2026-12-01", "--json")
    assert r.exit_code == 2  # something is missing
    rep = json.loads(r.stdout)
    assert rep["period"]["since"].startswith("2026-12-01T00:00:00+09:00")
    assert rep["matched"] == 2 and rep["matched_by"] == {"id": 1, "number_time": 1}
    assert [m["unique_id"] for m in rep["missing_recordings"]] == ["1764558000.41"]
    miss = rep["missing_recordings"][0]
    assert miss["src"] == "0677778888" and miss["billsec"] == 3 and miss["queue"] == "sales"
    assert miss["started_at"] == "2026-12-01T12:00:00+09:00"
    without = {w["call_id"]: w for w in rep["recordings_without_cdr"]}
    assert set(without) == {c, d} and a not in without and b not in without
    assert without[c]["started_at"] == "2026-12-01T13:00:00+09:00"

    # without a period: the time the CDRs cover (10:00-12:30), so neither the 13:00
    # recording nor the one of 20 November is reported
    rep = json.loads(run("cdr", "reconcile", "--json").stdout)
    assert {w["call_id"] for w in rep["recordings_without_cdr"]} == {d}
    assert old not in {w["call_id"] for w in rep["recordings_without_cdr"]}

    # a wider time tolerance does not excuse the wrong length
    rep = json.loads(run("cdr", "reconcile", "--since", "2026-12-01", "--tolerance-s", "600",
                         "--until", "2026-12-01", "--json").stdout)
    assert d in {w["call_id"] for w in rep["recordings_without_cdr"]}
    # --min-billsec leaves out short answered calls (IVR only)
    rep = json.loads(run("cdr", "reconcile", "--since", "2026-12-01", "--until", "2026-12-01",
                         "--min-billsec", "5", "--json").stdout)
    assert rep["missing_recordings"] == []

    r = run("cdr", "reconcile", "--since", "2026-12-01", "--until", "2026-12-01")
    assert r.exit_code == 2 and "NO RECORDING" in r.stdout and "1764558000.41" in r.stdout
    runs = json.loads(run("cdr", "runs", "--json").stdout)["runs"]
    assert len(runs) == 5 and runs[-1]["missing_recordings"] == 1
    assert runs[-1]["detail"]["missing"] == ["1764558000.41"]
    lst = json.loads(run("cdr", "list", "--disposition", "answered", "--json").stdout)["cdrs"]
    assert len(lst) == 3
    with rt.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action.like("cdr.%")).order_by(AuditEntry.id))]
        assert actions[:3] == ["cdr.import", "cdr.import", "cdr.reconcile"]
        assert audit.verify(s).ok


def test_all_matched_exits_zero(rt) -> None:
    _rec(rt, 11, 3.0, external_id="1764550800.11", started_at="2026-12-01T10:00:05+09:00")
    _rec(rt, 12, 4.0, customer_number="09012345678", started_at="2026-12-01T11:00:04+09:00")
    _rec(rt, 13, 3.0, customer_number="0677778888", started_at="2026-12-01T12:00:02+09:00")
    assert run("cdr", "import", str(DATA / "asterisk_Master.csv"), "--format",
               "asterisk").exit_code == 0
    r = run("cdr", "reconcile", "--json")
    assert r.exit_code == 0, r.stdout
    rep = json.loads(r.stdout)
    assert rep["matched"] == 3 and not rep["missing_recordings"]
    assert not rep["recordings_without_cdr"]


def test_freeswitch_legs_count_as_one_call(rt) -> None:
    f = _rec(rt, 21, 59.5, customer_number="03-5444-1212",
             started_at="2026-12-02T09:00:04+09:00")
    r = run("cdr", "import", str(DATA / "freeswitch_Master.csv"), "--format", "freeswitch",
            "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["inserted"] == 5
    with rt.db.session() as s:
        disp = dict(s.execute(select(CdrRecord.unique_id, CdrRecord.disposition)).all())
    assert disp["a1b2c3d4-0000-4000-8000-000000000003"] == "NO ANSWER"
    assert disp["a1b2c3d4-0000-4000-8000-000000000004"] == "BUSY"
    with rt.db.session() as s:
        rep = service.reconcile(s, CLI, tz="Asia/Tokyo", since=date(2026, 12, 2),
                                until=date(2026, 12, 2))
    # the A leg matched the recording; its B leg (bleg_uuid) is the same call
    assert rep["matched"] == 1 and rep["recordings_without_cdr"] == []
    assert [m["unique_id"] for m in rep["missing_recordings"]] == [
        "a1b2c3d4-0000-4000-8000-000000000005"]
    assert f


def test_twilio_json_and_csv(rt, tmp_path: Path) -> None:
    child = "CA" + "2".zfill(32)
    g = _rec(rt, 31, 40.0, call_sid=child, started_at="2026-12-02T10:00:05+09:00")
    h = _rec(rt, 32, 29.0, customer_number="03-1234-5678",
             started_at="2026-12-03T10:00:03+09:00")
    r = run("cdr", "import", str(DATA / "twilio_calls.json"), "--format", "twilio-json",
            "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["inserted"] == 4 and [sk["row"] for sk in doc["skipped"]] == [4]
    assert "in-progress" in doc["skipped"][0]["reason"]
    r = run("cdr", "import", str(DATA / "twilio_calls.csv"), "--format", "twilio-csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["inserted"] == 2
    with rt.db.session() as s:
        busy = s.scalars(select(CdrRecord).where(CdrRecord.unique_id == "CA" + "7".zfill(32))
                         ).one()
        assert busy.disposition == "BUSY" and busy.source == "twilio"
        noans = s.scalars(select(CdrRecord).where(CdrRecord.unique_id == "CA" + "3".zfill(32))
                          ).one()
        assert noans.disposition == "NO ANSWER"
        assert noans.started_at.isoformat() == "2026-12-02T02:00:00+00:00"  # date_created

    with rt.db.session() as s:
        rep = service.reconcile(s, CLI, tz="Asia/Tokyo", since=date(2026, 12, 2),
                                until=date(2026, 12, 3))
    assert rep["matched"] == 2 and rep["matched_by"] == {"id": 1, "number_time": 1}
    # the parent leg is covered by the child's recording; only CA…5 has none
    assert [m["unique_id"] for m in rep["missing_recordings"]] == ["CA" + "5".zfill(32)]
    assert rep["missing_recordings"][0]["src"] == "+819055556666"
    assert rep["recordings_without_cdr"] == [] and g and h

    # the unfinished call is imported once it completed; a changed record is updated
    later = json.loads((DATA / "twilio_calls.json").read_text("utf-8"))
    later["calls"][3].update(status="completed", duration="20",
                             end_time="Wed, 02 Dec 2026 03:00:20 +0000")
    later["calls"][4]["duration"] = "13"
    p = tmp_path / "later.json"
    p.write_text(json.dumps(later), "utf-8")
    doc = json.loads(run("cdr", "import", str(p), "--format", "twilio-json", "--json").stdout)
    assert (doc["inserted"], doc["updated"], doc["unchanged"]) == (1, 1, 3)
    assert doc["skipped"] == []


def _fails(path: Path, fmt: str, *extra: str) -> str:
    r = run("cdr", "import", str(path), "--format", fmt, *extra)
    assert r.exit_code == 1, r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("rokuon: ")
    return r.stderr


def test_bad_input_is_named_and_stores_nothing(rt, tmp_path: Path) -> None:
    good = (DATA / "asterisk_Master.csv").read_text("utf-8").splitlines()
    cases: list[tuple[str, bytes, str, tuple[str, ...], list[str]]] = [
        ("quote.csv", ("\n".join(good[:2]) + '\n"","0311","200","unterminated\n').encode(),
         "asterisk", (), ["row 3", "malformed CSV"]),
        ("cols.csv", ("\n".join(good[:3]) + '\n"a","b","c"\n').encode(), "asterisk", (),
         ["row 4", "3 columns", "16 to 21"]),
        ("disp.csv", ("\n".join(good[:1]) + "\n" + good[1].replace('"ANSWERED"', '"HUNG"')
                      ).encode(), "asterisk", (), ["row 2", "'disposition'", "HUNG"]),
        ("date.csv", ("\n".join(good[:3]) + "\n" + good[3].replace("2026-12-01 12:00:00",
                                                                   "yesterday noon")).encode(),
         "asterisk", (), ["row 4", "'start'", "yesterday noon"]),
        ("dup.csv", ("\n".join(good) + "\n" + good[1]).encode(), "asterisk", (),
         ["row 6", "1764554400.21", "row 2", "duplicate"]),
        ("sjis.csv", ("\n".join(good[:2]) + "\n" + good[2].replace("0311112222\"\" <",
                                                                   "佐藤\"\" <")
                      ).encode("cp932"), "asterisk", (), ["row 3", "--encoding"]),
        ("fs.csv", b'"a","b","c","d"\n', "freeswitch", (), ["row 1", "4 columns"]),
        ("unknown.csv", (DATA / "twilio_calls.csv").read_bytes().replace(b"Status", b"Colour"),
         "twilio-csv", (), ["unknown column", "Colour", "--allow-unknown-columns"]),
        ("bad.json", b'{"calls": [{"sid": "CA1"', "twilio-json", (), ["not valid JSON"]),
        ("sid.json", b'[{"sid": "XY1", "from": "1", "to": "2", "status": "completed"}]',
         "twilio-json", (), ["row 1", "'sid'", "CallSid"]),
        ("nul.csv", b'"a"\x00\n', "asterisk", (), ["row 1", "NUL"]),
        ("empty.csv", b"\n\n", "asterisk", (), ["no records"]),
    ]
    for name, data, fmt, extra, needles in cases:
        p = tmp_path / name
        p.write_bytes(data)
        err = _fails(p, fmt, *extra)
        for n in needles:
            assert n in err, (name, n, err)
        assert name in err
    assert _cdr_count(rt) == 0  # all or nothing: not even the good rows before the bad one

    r = run("cdr", "import", str(tmp_path / "nope.csv"), "--format", "asterisk")
    assert r.exit_code == 1 and "cannot read" in r.stderr
    r = run("cdr", "import", str(DATA / "asterisk_Master.csv"), "--format", "cisco")
    assert r.exit_code == 1 and "--format must be one of" in r.stderr
    r = run("cdr", "reconcile")
    assert r.exit_code == 1 and "no CDRs imported" in r.stderr
    r = run("cdr", "reconcile", "--since", "2026-13-01")
    assert r.exit_code == 1 and "--since" in r.stderr

    # the right encoding imports the Shift_JIS file; unknown columns can be ignored
    ok = run("cdr", "import", str(tmp_path / "sjis.csv"), "--format", "asterisk",
             "--encoding", "cp932", "--json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["inserted"] == 3
    r = run("cdr", "import", str(tmp_path / "unknown.csv"), "--format", "twilio-csv",
            "--allow-unknown-columns")
    assert r.exit_code == 1 and "required column(s) missing: status" in r.stderr
    with rt.db.session() as s:
        failed = s.scalars(select(AuditEntry).where(AuditEntry.action == "cdr.import",
                                                    AuditEntry.outcome == "failed")).all()
        assert len(failed) >= len(cases) and failed[0].detail["file"] == "quote.csv"
        assert audit.verify(s).ok


def test_asterisk_layouts_and_header() -> None:
    base = ('"acct","0354441212","200","ctx","clid","SIP/a-1","SIP/b-2","Dial","x",'
            '"2026-12-01 10:00:00","2026-12-01 10:00:01","2026-12-01 10:00:11",11,10,'
            '"ANSWERED","DOCUMENTATION"')
    p = parse(base.encode(), "asterisk", name="m.csv", tz="Asia/Tokyo")
    r16 = p.rows[0]
    assert r16.unique_id.startswith("h-") and r16.account == "acct"
    assert parse(base.encode(), "asterisk", name="m.csv", tz="UTC").rows[0].unique_id \
        != r16.unique_id  # another instant
    full = base + ',"1764550800.9","uf","peer","1764550800.1",3'
    r21 = parse(full.encode(), "asterisk", name="m.csv", tz="UTC").rows[0]
    assert (r21.unique_id, r21.related_id) == ("1764550800.9", "1764550800.1")
    user = parse((base + ',"customer-42"').encode(), "asterisk", name="m", tz="UTC").rows[0]
    assert user.unique_id.startswith("h-")  # 17th column is the userfield
    header = ("calldate,src,dst,duration,billsec,disposition,uniqueid\n"
              "2026-12-01 10:00:00,0354441212,200,11,10,ANSWERED,1764550800.9\n")
    hr = parse(header.encode(), "asterisk", name="h.csv", tz="UTC").rows[0]
    assert hr.unique_id == "1764550800.9" and hr.billsec == 10
    try:
        parse(b"calldate,src,dst,duration,billsec,disposition,price\n", "asterisk",
              name="h.csv", tz="UTC")
    except CdrFormatError as exc:
        assert "unknown column" in str(exc) and "'price'" in str(exc)
    else:
        raise AssertionError("unknown column accepted")


def test_numbers_and_jsonl() -> None:
    nd = service.national_digits
    assert nd("+81 3-5444-1212") == nd("0354441212") == nd("81354441212") == "0354441212"
    assert nd("０９０１２３４５６７８") == "09012345678"
    assert nd(None) == "" and nd("sip:agent@example.com") == ""
    lines = "\n".join(json.dumps({"sid": "CA" + str(i).zfill(32), "from": "+8131",
                                  "to": "+8150", "status": "completed", "duration": 5,
                                  "start_time": "2026-12-02T01:00:00Z"}) for i in (1, 2))
    rows = parse(lines.encode(), "twilio-json", name="day.jsonl", tz="UTC").rows
    assert [r.billsec for r in rows] == [5, 5] and rows[0].answered_at is not None


def test_daily_run_inside_serve(rt) -> None:
    assert service.scheduled_reconcile(rt, today=date(2026, 12, 3)) is None  # no CDRs yet
    _rec(rt, 41, 3.0, external_id="1764550800.11", started_at="2026-12-01T10:00:05+09:00")
    with rt.db.session() as s:
        service.import_file(s, CLI, (DATA / "asterisk_Master.csv").read_bytes(),
                            name="Master.csv", fmt="asterisk", tz="Asia/Tokyo")
    rep = service.scheduled_reconcile(rt, today=date(2026, 12, 3))
    assert rep is not None and rep["period"]["since"].startswith("2026-12-01")
    assert rep["period"]["until"].startswith("2026-12-02")
    assert rep["matched"] == 1 and len(rep["missing_recordings"]) == 2
    with rt.db.session() as s:
        run_ = s.scalars(select(CdrReconcileRun)).one()
        assert run_.ran_by == "cdr-scheduler" and run_.missing_recordings == 2


def test_roles(rt) -> None:
    auditor = Principal(name="au@example.com", role="auditor")
    operator = Principal(name="op@example.com", role="operator")
    data = (DATA / "asterisk_Master.csv").read_bytes()
    for who in (auditor, operator):
        with rt.db.session() as s:
            try:
                service.import_file(s, who, data, name="m.csv", fmt="asterisk", tz="UTC")
            except service.CdrError as exc:
                assert "may not admin" in str(exc)
            else:
                raise AssertionError(f"{who.role} imported CDRs")
    with rt.db.session() as s:
        service.import_file(s, CLI, data, name="m.csv", fmt="asterisk", tz="UTC")
    with rt.db.session() as s:  # an auditor may run the check (numbers masked) …
        rep = service.reconcile(s, auditor, tz="UTC")
    assert rep["cdrs"] == 5 and rep["missing_recordings"][0]["src"] == "******1212"
    assert service.mask_number("+81 90-1234-5678") == "+** **-****-5678"
    with rt.db.session() as s:  # … an operator may not
        try:
            service.reconcile(s, operator, tz="UTC")
        except service.CdrError:
            pass
        else:
            raise AssertionError("an operator ran the reconciliation")


def test_http_import_and_reconcile(rt) -> None:
    from fastapi.testclient import TestClient

    from rokuon.users.tokens import create_token
    from rokuon.web.app import create_app

    with rt.db.session() as s:
        admin_tok, _ = create_token(s, CLI, "admin@example.com", ["calls:write", "audit:read"])
        read_tok, _ = create_token(s, CLI, "admin@example.com", ["calls:read"])
    _rec(rt, 51, 3.0, external_id="1764550800.11", started_at="2026-12-01T10:00:05+09:00")
    h = {"Authorization": f"Bearer {admin_tok}"}
    with TestClient(create_app(rt, start_workers=False)) as c:
        body = (DATA / "asterisk_Master.csv").read_bytes()
        r = c.post("/api/cdr/import?format=asterisk&name=Master.csv", content=body, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["inserted"] == 5
        bad = body.replace(b'"BUSY"', b'"HUNG"')
        r = c.post("/api/cdr/import?format=asterisk&name=bad.csv", content=bad, headers=h)
        assert r.status_code == 422 and "row 5" in r.text and "disposition" in r.text
        r = c.post("/api/cdr/import?format=cisco", content=body, headers=h)
        assert r.status_code == 422
        r = c.post("/api/cdr/import?format=asterisk", content=body,
                   headers={"Authorization": f"Bearer {read_tok}"})
        assert r.status_code == 403  # the token lacks calls:write
        r = c.get("/api/cdr/reconcile?since=2026-12-01&until=2026-12-01", headers=h)
        assert r.status_code == 200, r.text
        rep = r.json()
        assert rep["matched"] == 1 and len(rep["missing_recordings"]) == 2
        assert c.get("/api/cdr/runs", headers=h).json()["runs"][0]["run_id"] == rep["run_id"]
        assert c.get("/api/cdr/reconcile", headers={
            "Authorization": f"Bearer {read_tok}"}).status_code == 403
        assert c.get("/api/cdr/reconcile").status_code == 401
    assert _cdr_count(rt) == 5
    with rt.db.session() as s:
        failed = s.scalars(select(AuditEntry).where(AuditEntry.action == "cdr.import",
                                                    AuditEntry.outcome == "failed")).all()
        assert [f.detail["file"] for f in failed] == ["bad.csv"]


def test_the_retention_scheduler_runs_it(rt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`rokuon serve` runs the reconciliation beside retention (the scheduler's loop)."""
    import time as _time

    from rokuon.compliance.retention import RetentionScheduler

    with rt.db.session() as s:
        service.import_file(s, CLI, (DATA / "asterisk_Master.csv").read_bytes(),
                            name="Master.csv", fmt="asterisk", tz="Asia/Tokyo")
    monkeypatch.setattr(rt.settings, "retention_interval_h", 0.0002)  # ~0.7 s
    sched = RetentionScheduler(rt).start()
    try:
        deadline = _time.monotonic() + 20
        while _time.monotonic() < deadline:
            with rt.db.session() as s:
                runs_ = s.scalars(select(CdrReconcileRun)).all()
            if runs_:
                break
            _time.sleep(0.2)
    finally:
        sched.stop()
    assert runs_ and runs_[0].ran_by == "cdr-scheduler"


def test_freeswitch_variants() -> None:
    row13 = ('"","0354441212","3000","public","2026-12-02 09:00:00","2026-12-02 09:00:03",'
             '"2026-12-02 09:01:03","63","60","NORMAL_CLEARING","u-1","",""')
    r = parse(row13.encode(), "freeswitch", name="fs.csv", tz="Asia/Tokyo").rows[0]
    assert (r.unique_id, r.disposition, r.billsec, r.related_id) == ("u-1", "ANSWERED", 60, None)
    header = ("uuid,direction,caller_id_number,destination_number,start_stamp,answer_stamp,"
              "end_stamp,duration,billsec,hangup_cause,channel_name,cc_queue\n"
              "u-2,inbound,0311112222,3000,2026-12-02 09:00:00,,2026-12-02 09:00:09,9,0,"
              "NO_ANSWER,sofia/external/0311112222,support@default\n")
    r = parse(header.encode(), "freeswitch", name="fs.csv", tz="Asia/Tokyo").rows[0]
    assert (r.disposition, r.direction, r.queue) == ("NO ANSWER", "inbound", "support@default")
    assert r.channel == "sofia/external/0311112222"
    bad = header.replace("NO_ANSWER", "no answer!")
    try:
        parse(bad.encode(), "freeswitch", name="fs.csv", tz="UTC")
    except CdrFormatError as exc:
        assert "row 2" in str(exc) and "hangup_cause" in str(exc)
    else:
        raise AssertionError("bad hangup cause accepted")
    short = header.split("\n")[0] + "\nu-3,inbound\n"
    try:
        parse(short.encode(), "freeswitch", name="fs.csv", tz="UTC")
    except CdrFormatError as exc:
        assert "row 2" in str(exc) and "2 columns; the header has 12" in str(exc)
    else:
        raise AssertionError("short row accepted")
