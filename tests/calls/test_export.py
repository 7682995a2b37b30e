"""Call export service: the columns, CSV with BOM and neutralised formulas, JSON Lines,
the door's scope, the period, batches that neither skip nor repeat, bad input named."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.calls import export
from rokuon.reports.synthetic import add_call, analysis
from rokuon.store.models import AnalysisResult, AuditEntry, Call

ADMIN = Principal(name="admin@example.com", role="admin")
SV_A = Principal(name="sv@example.com", role="supervisor", team="A")
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _seed(rt) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        ids = {
            "good": add_call(s, started_at=T0, duration_s=120, agent="佐藤", team="A",
                             analysis=analysis(qa_score=92, qa_passed=True)),
            "angry": add_call(s, started_at=T0 + timedelta(days=1), duration_s=300,
                              agent="=HYPERLINK(\"http://x\")", team="A", queue="sales",
                              analysis=analysis(qa_score=41, qa_passed=False,
                                                complaint=True, sentiment="negative")),
            "other": add_call(s, started_at=T0 + timedelta(days=2), duration_s=60,
                              agent="kato", team="B",
                              analysis=analysis(qa_score=70, qa_passed=True, churn=True)),
        }
        s.get(Call, ids["angry"]).customer_number = "090-1234-5678"  # type: ignore[union-attr]
        s.add(AnalysisResult(call_id=ids["good"], analyzer="summary", version=1,
                             payload={"text": "住所変更のご依頼。新住所を登録した。"}))
    return ids


def _export(rt, who: Principal, fmt: str, since: date | None = None,  # type: ignore[no-untyped-def]
            until: date | None = None) -> str:
    f = export.check(fmt, since, until)
    with rt.db.session() as s:
        export.audit(s, who, f, fmt)
        return "".join(export.encode(export.rows(s, who, f, "Asia/Tokyo"), fmt))


def test_csv_has_bom_columns_masked_number_and_no_formula(rt) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(rt)
    text = _export(rt, ADMIN, "csv")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert tuple(rows[0]) == export.COLUMNS
    by_id = {r["call_id"]: r for r in rows}
    assert set(by_id) == set(ids.values())
    angry = by_id[ids["angry"]]
    assert angry["agent"].startswith("'=")  # not a formula for Excel
    assert angry["customer_number"] == "***-****-5678"
    assert angry["complaint"] == "true" and angry["sentiment"] == "negative"
    assert angry["queue"] == "sales" and angry["qa_score"] == "41"
    assert by_id[ids["good"]]["agent"] == "佐藤"
    assert by_id[ids["good"]]["summary"] == "住所変更のご依頼。新住所を登録した。"
    assert by_id[ids["other"]]["churn"] == "true" and by_id[ids["other"]]["team"] == "B"
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_start_is_neutralised(value: str) -> None:
    assert export.neutralise(value) == "'" + value
    assert export.neutralise("普通の値") == "普通の値"


def test_jsonl_scope_period_and_audit(rt) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(rt)
    lines = _export(rt, SV_A, "jsonl").splitlines()
    docs = [json.loads(line) for line in lines]
    assert {d["call_id"] for d in docs} == {ids["good"], ids["angry"]}  # team A only
    assert all(set(d) == set(export.COLUMNS) for d in docs)
    assert next(d for d in docs if d["call_id"] == ids["angry"])["complaint"] is True
    day2 = (T0 + timedelta(days=1)).date()
    only = [json.loads(x) for x in _export(rt, ADMIN, "jsonl", day2, day2).splitlines()]
    assert [d["call_id"] for d in only] == [ids["angry"]]
    nobody = Principal(name="au@example.com", role="auditor")
    assert _export(rt, nobody, "jsonl") == ""
    with rt.db.session() as s:
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "call.export")).all()
    assert len(audits) == 3 and {a.actor for a in audits} == {SV_A.name, ADMIN.name,
                                                               nobody.name}


def test_batches_neither_skip_nor_repeat(rt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "BATCH", 3)
    with rt.db.session() as s:
        made = {add_call(s, started_at=T0 + timedelta(minutes=i), duration_s=10,
                         agent="a", team="A") for i in range(10)}
    got = [json.loads(x)["call_id"] for x in _export(rt, ADMIN, "jsonl").splitlines()]
    assert len(got) == 10 and set(got) == made


def test_bad_input_is_named() -> None:
    with pytest.raises(export.ExportError, match="format: 'xlsx'"):
        export.check("xlsx", None, None)
    with pytest.raises(export.ExportError, match="since .* is after until"):
        export.check("csv", date(2026, 12, 2), date(2026, 12, 1))
