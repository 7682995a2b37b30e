"""Purposes of use, notice versions and the consent record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.calls.service import show_call
from rokuon.compliance.purposes import PurposeError, consent_record, notice_for, resolve
from tests.helpers import tone_wav, write_transcript

CLI = Principal.cli()


def test_resolution_order_and_unknown_codes(settings) -> None:
    settings.purposes_by_queue = {"sales": ["quality", "contract"]}
    settings.purposes_by_source = {"watch": ["dispute"]}
    assert resolve(settings, ["legal"], queue="sales", source="cli") == ["legal"]
    assert resolve(settings, None, queue="sales", source="watch") == ["quality", "contract"]
    assert resolve(settings, [], queue=None, source="watch") == ["dispute"]
    assert resolve(settings, None, queue="x", source="cli") == ["quality"]
    with pytest.raises(PurposeError, match="marketing not in the catalogue"):
        resolve(settings, ["marketing"], queue=None, source="cli")


def test_notice_in_force_when_the_call_started(settings) -> None:
    settings.notices = [{"version": "v1", "effective_from": "2025-01-01", "text": "a"},
                        {"version": "v2", "effective_from": "2026-04-01", "text": "b"}]
    assert notice_for(settings, datetime(2026, 3, 31, tzinfo=UTC))["version"] == "v1"
    assert notice_for(settings, datetime(2026, 4, 1, tzinfo=UTC))["version"] == "v2"
    assert notice_for(settings, datetime(2024, 1, 1, tzinfo=UTC)) is None


def test_unknown_purpose_refuses_the_import_and_leaves_nothing(rt, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(tone_wav(1.0, seed=41))
    meta = tmp_path / "a.json"
    meta.write_text(json.dumps({"purposes": ["marketing"]}), encoding="utf-8")
    [res] = ingest_files(rt, [wav], meta_path=meta, actor=CLI)
    assert res.status == "error" and "marketing not in the catalogue" in res.error
    assert list(rt.blobs.keys()) == []


def test_consent_record_in_the_document(rt, tmp_path: Path) -> None:
    wav = tmp_path / "b.wav"
    wav.write_bytes(tone_wav(6.0, seed=42))
    [res] = ingest_files(rt, [wav], actor=CLI)
    write_transcript(rt, res.call_id, [
        ("agent", 0.5, 4.0, "品質向上のため、通話を録音させていただきます。よろしいですか。"),
        ("customer", 4.5, 5.5, "はい、大丈夫です。")])
    with rt.db.session() as s:
        doc = show_call(s, CLI, res.call_id, "Asia/Tokyo")
    rec = doc["consent_record"]
    assert rec["source"] == "analysis" and rec["answer"] == "yes" and rec["announced_at"] == 0.5
    assert rec["notice_version"] == "1"
    tel = consent_record({"consent": {"announced": True, "method": "ivr"},
                          "notice_version": "v2"}, doc["analysis"])
    assert tel == {"source": "metadata", "announced": True, "method": "ivr",
                   "notice_version": "v2"}
