"""The analyze step: every analyzer in the call document, versions kept, QA score on
the call, audio features from the stored recording; PCI redaction end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.calls.service import show_call
from rokuon.engine import analysis
from rokuon.pipeline.executor import run_until_done
from rokuon.pipeline.jobs import rerun
from rokuon.store.keys import WrappedKey
from rokuon.store.models import AnalysisResult, Call
from tests.conftest import corpus_calls
from tests.helpers import tone_wav, write_transcript

CLI = Principal.cli()
NAMES = [a.name for a in analysis.ANALYZERS]
CARD = "4539271860453124"


def _call_with_transcript(rt, tmp_path: Path, lines) -> str:  # type: ignore[no-untyped-def]
    p = tmp_path / "c.wav"
    p.write_bytes(tone_wav(20.0, seed=5))
    [res] = ingest_files(rt, [p], actor=CLI)
    write_transcript(rt, res.call_id, lines)
    return res.call_id


LINES = [("agent", 0.5, 4.0, "お電話ありがとうございます。山田商事の佐藤でございます。"),
         ("agent", 4.5, 9.0, "品質向上のため、この通話を録音させていただきます。"
                             "よろしいでしょうか。"),
         ("customer", 9.5, 10.5, "はい、大丈夫です。"),
         ("customer", 11.0, 14.0, "商品がまだ届かないんです。ふざけるな。"),
         ("agent", 14.5, 18.0, "大変申し訳ございません。佐藤が承りました。")]


def test_document_has_every_analyzer_and_call_has_qa_score(rt, tmp_path: Path) -> None:
    call_id = _call_with_transcript(rt, tmp_path, LINES)
    with rt.db.session() as s:
        doc = show_call(s, CLI, call_id, "Asia/Tokyo")
        call = s.get(Call, call_id)
        qa_score = call.qa_score
    a = doc["analysis"]
    assert set(NAMES) <= set(a)
    assert a["consent"]["announced"] and a["consent"]["answer"] == "yes"
    assert a["complaint"]["detected"] and a["complaint"]["evidence"]
    assert a["qa"]["score"] == qa_score and qa_score is not None
    # the stored tone recording reached the audio analyzers (stereo: per-channel VAD)
    assert a["metrics"]["source"] == "vad"
    json.dumps(doc, ensure_ascii=False)


def test_new_analyzer_version_keeps_the_old_result(rt, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    call_id = _call_with_transcript(rt, tmp_path, LINES)
    from rokuon.engine.analysis import consent

    monkeypatch.setattr(consent, "VERSION", consent.VERSION + 1)
    with rt.db.session() as s:
        assert rerun(s, call_id, "analyze")
        assert not rerun(s, call_id, "analyze")  # already queued
    run_until_done(rt, [call_id], timeout_s=60)
    with rt.db.session() as s:
        assert s.get(Call, call_id).status == "indexed"
        versions = sorted(s.scalars(select(AnalysisResult.version).where(
            AnalysisResult.call_id == call_id, AnalysisResult.analyzer == "consent")).all())
        assert versions == [consent.VERSION - 1, consent.VERSION]
        # other analyzers were re-run in place (same version, one row each)
        assert len(s.scalars(select(AnalysisResult).where(
            AnalysisResult.call_id == call_id, AnalysisResult.analyzer == "qa")).all()) == 1


def test_analysis_without_audio_says_so(rt, tmp_path: Path) -> None:
    rt.settings.analysis_audio = False
    call_id = _call_with_transcript(rt, tmp_path, LINES)
    with rt.db.session() as s:
        a = show_call(s, CLI, call_id, "Asia/Tokyo")["analysis"]
    assert a["metrics"]["source"] == "words"
    assert a["agitation"]["available"] is False


@pytest.mark.slow
def test_pci_card_number_never_stored_in_the_clear(rt_asr) -> None:
    rt = rt_asr
    d = next((p for p in corpus_calls() if p.name == "07_card_payment"), None)
    if d is None:
        pytest.skip("corpus call 07_card_payment missing")
    [res] = ingest_files(rt, [d / "stereo.wav"], meta_path=d / "meta.json", actor=CLI)
    with rt.db.session() as s:
        original_key = s.get(Call, res.call_id).blob_key
    run_until_done(rt, [res.call_id], timeout_s=600)
    with rt.db.session() as s:
        call = s.get(Call, res.call_id)
        assert call.status == "indexed", call.status_reason
        doc = show_call(s, CLI, res.call_id, "Asia/Tokyo")
        blob_key, wrapped, blob_sha = call.blob_key, call.wrapped_key, call.blob_sha256
        redactions = call.redactions
    text = json.dumps(doc, ensure_ascii=False)
    digits = "".join(c for c in text if c.isdigit())
    assert CARD not in digits.replace(" ", "")
    assert "4539" not in text and "3124" not in "".join(
        seg["text"] for seg in doc["segments"])
    cards = [p for p in doc["analysis"]["pii"] if p["type"] == "card_number"]
    # (Whisper base may mishear a digit or two; the hint is the last four it heard)
    assert cards and cards[0]["hint"].startswith("****") and cards[0]["bleeped"]
    assert {r["type"] for r in redactions} >= {"card_number"}
    # the stored audio is a new, bleeped recording; the original's blob is gone
    assert blob_key != original_key and blob_sha and blob_sha != call.content_sha256
    assert not rt.blobs.exists(original_key)
    from rokuon.engine.audio.decode import decode

    audio = decode(io.BytesIO(rt.blobs.read_all(blob_key, WrappedKey.from_json(wrapped),
                                                expected_sha256=blob_sha)))
    again = rt.asr.transcribe(audio, ["agent", "customer"])
    heard = "".join(s.text for s in again.segments if s.speaker == "customer")
    heard_digits = "".join(c for c in heard if c.isdigit())
    assert "4539" not in heard_digits and "3124" not in heard_digits, heard
    assert "カード" in "".join(s.text for s in again.segments)  # the rest is still there
    from rokuon.calls.service import CallFilter, search

    with rt.db.session() as s:
        assert search(s, CLI, "4539", CallFilter(), "Asia/Tokyo") == []


def test_non_finite_numbers_are_stored_as_null() -> None:
    from rokuon.pipeline.steps import json_safe

    assert json_safe({"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}],
                      "d": "x", "e": 2}) == {"a": None, "b": [1.5, None, {"c": None}],
                                             "d": "x", "e": 2}


def test_stored_voice_activity_is_reused_not_computed_again(
        rt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import soundfile as sf
    from sqlalchemy import update

    from rokuon.engine.asr import transcribe as asr
    from rokuon.engine.audio import activity
    from rokuon.store.models import Transcript

    sr = 8000  # tones where each party speaks, digital silence elsewhere
    t = np.arange(20 * sr) / sr
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    left = np.where(((t >= 1.0) & (t < 8.0)) | ((t >= 15.0) & (t < 17.0)), tone, 0.0)
    right = np.where((t >= 10.0) & (t < 13.0), tone, 0.0)
    p = tmp_path / "c.wav"
    sf.write(p, np.stack([left, right], axis=1), sr, subtype="PCM_16")
    [res] = ingest_files(rt, [p], actor=CLI)
    write_transcript(rt, res.call_id, LINES)
    call_id = res.call_id
    with rt.db.session() as s:  # the recogniser's spans: 0.4 s of padding on each side
        s.execute(update(Transcript).where(Transcript.call_id == call_id).values(
            speech={"agent": [[0.6, 8.4], [14.6, 17.4]], "customer": [[9.6, 13.4]]}))
        assert rerun(s, call_id, "analyze")

    def no_vad(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("VAD computed again")

    monkeypatch.setattr(asr, "speech_chunks", no_vad)
    monkeypatch.setattr(activity, "vad_regions", no_vad)  # the stored spans are the regions
    run_until_done(rt, [call_id], timeout_s=60)
    with rt.db.session() as s:
        m = show_call(s, CLI, call_id, "Asia/Tokyo")["analysis"]["metrics"]
    # the tight activity inside the stored spans: neither the padded spans (10.6 / 3.8 s)
    # nor the segment times (12.0 / 4.5 s)
    assert m["source"] == "vad" and m["agent_talk_s"] == 9.0 and m["customer_talk_s"] == 3.0
