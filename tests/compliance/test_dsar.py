"""Data subject requests: locating calls, identity, decisions, the masked encrypted
package, the expiring link, stop-use, corrections, provision records, audit."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import pyzipper
import soundfile as sf
from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access import audit
from rokuon.access.door import AccessDenied
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.cli.main import app
from rokuon.compliance import dsar, package
from rokuon.compliance.provision import list_provisions, record_provision
from rokuon.store.models import AuditEntry, Call, DisclosureExport, TranscriptCorrection
from tests.helpers import tone_wav, write_transcript

CLI = Principal.cli()
PASSWORD = "correct horse battery"
LINES = [("agent", 0.5, 4.0, "お電話ありがとうございます。山田商事の鈴木でございます。"),
         ("customer", 4.5, 9.0, "妻の花子が、担当の木村さんから聞いたそうです。"),
         ("customer", 9.5, 12.0, "田中一郎です。よろしくお願いします。"),
         ("agent", 12.5, 15.0, "田中様、ありがとうございます。鈴木が承りました。")]


def _call(rt, tmp_path: Path, seed: int, number: str | None = "03-1234-5678",
          started: str = "2026-11-20T10:00:00+09:00") -> str:  # type: ignore[no-untyped-def]
    p = tmp_path / f"c{seed}.wav"
    p.write_bytes(tone_wav(16.0, seed=seed))
    meta = tmp_path / f"c{seed}.json"
    meta.write_text(json.dumps({"customer_number": number, "started_at": started}),
                    encoding="utf-8")
    [res] = ingest_files(rt, [p], meta_path=meta, actor=CLI)
    write_transcript(rt, res.call_id, LINES)
    return res.call_id


def _open(blob: bytes, password: str = PASSWORD) -> dict[str, bytes]:
    with pyzipper.AESZipFile(io.BytesIO(blob)) as zf:
        zf.setpassword(password.encode())
        return {n: zf.read(n) for n in zf.namelist()}


def test_locate_by_number_name_and_dates(rt, tmp_path: Path) -> None:
    a = _call(rt, tmp_path, 1)
    b = _call(rt, tmp_path, 2, number="0312345678", started="2025-01-05T10:00:00+09:00")
    _call(rt, tmp_path, 3, number="09099998888")
    with rt.db.session() as s:
        req = dsar.create_request(s, CLI, customer_number="(03) 1234-5678")
        assert sorted(dsar.describe(s, req)["calls"]) == sorted([a, b])
        from datetime import date

        req2 = dsar.create_request(s, CLI, customer_number="0312345678",
                                   date_from=date(2026, 1, 1))
        assert dsar.describe(s, req2)["calls"] == [a]
        by_name = dsar.create_request(s, CLI, name="田中一郎")
        assert len(dsar.describe(s, by_name)["calls"]) == 3  # said by the customer
        assert (req.due_at - req.received_at) == timedelta(days=14)
        with pytest.raises(dsar.RequestError, match="customer number or a name"):
            dsar.create_request(s, CLI)
        with pytest.raises(AccessDenied):
            dsar.create_request(s, Principal(name="op@x", role="operator"),
                                customer_number="1")


def test_package_masks_third_parties_mutes_operator_and_needs_the_password(
        rt, tmp_path: Path) -> None:
    call_id = _call(rt, tmp_path, 4)
    with rt.db.session() as s:
        req = dsar.create_request(s, CLI, customer_number="0312345678", name="田中一郎")
        dsar.verify_identity(s, CLI, req.id, method="運転免許証の写し")
        rid = req.id
    with pytest.raises(package.PackageError, match="at least"):
        package.build(rt, CLI, rid, password="short")
    blob, record = package.build(rt, CLI, rid, password=PASSWORD)
    with pytest.raises(RuntimeError):
        _open(blob, "wrong password!!")
    files = _open(blob)
    assert {"cover_letter.pdf", "handling_record.json", f"calls/{call_id}/audio.flac",
            f"calls/{call_id}/transcript.txt"} <= set(files)
    assert files["cover_letter.pdf"].startswith(b"%PDF")
    text = files[f"calls/{call_id}/transcript.txt"].decode()
    for third in ("鈴木", "花子", "木村"):
        assert third not in text
    assert "田中一郎です" in text and "田中様" in text  # the requester's own name stays
    assert "妻の＊＊が" in text
    audio, _ = sf.read(io.BytesIO(files[f"calls/{call_id}/audio.flac"]))
    assert np.abs(audio[:, 0]).max() == 0.0  # the operator's channel is muted
    assert np.abs(audio[:, 1]).max() > 0.01  # the customer's is kept
    assert record["identity_verified"] and record["included"][0]["masked"] >= 3
    with rt.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert audit.verify(s).ok
    assert {"request.create", "request.verify_identity", "request.decide", "call.disclose",
            "request.export"} <= set(actions)
    kept, _ = package.build(rt, CLI, rid, password=PASSWORD, agent_voice="keep")
    audio2, _ = sf.read(io.BytesIO(_open(kept)[f"calls/{call_id}/audio.flac"]))
    assert np.abs(audio2[:, 0]).max() > 0.1


def test_refusal_needs_a_ground_and_is_explained(rt, tmp_path: Path) -> None:
    a, b = _call(rt, tmp_path, 5), _call(rt, tmp_path, 6)
    with rt.db.session() as s:
        rid = dsar.create_request(s, CLI, customer_number="0312345678").id
        with pytest.raises(dsar.RequestError, match="ground"):
            dsar.decide(s, CLI, rid, "refuse", call_id=b)
        dsar.decide(s, CLI, rid, "refuse", call_id=b, reason="business")
    blob, record = package.build(rt, CLI, rid, password=PASSWORD, require_identity=False)
    assert [i["call_id"] for i in record["included"]] == [a]
    assert record["refused"] == [{"call_id": b, "reason": "business"}]
    files = _open(blob)
    assert not any(n.startswith(f"calls/{b}/") for n in files)
    hr = json.loads(files["handling_record.json"])
    ground = next(d["ground"] for d in hr["request"]["decisions"] if d["call_id"] == b)
    assert ground.endswith("(art. 33(2)(ii))")


def test_expiring_download_link(rt, tmp_path: Path) -> None:
    _call(rt, tmp_path, 7)
    with rt.db.session() as s:
        rid = dsar.create_request(s, CLI, customer_number="0312345678").id
    blob, _ = package.build(rt, CLI, rid, password=PASSWORD, require_identity=False)
    token, _ = package.publish(rt, CLI, rid, blob, valid_days=7)
    assert package.fetch_published(rt, token) == blob
    with pytest.raises(package.PackageError, match="expired"):
        package.fetch_published(rt, token + "x")
    with rt.db.session() as s:
        exp = s.scalars(select(DisclosureExport)).one()
        assert exp.downloads == 1 and token not in exp.token_hash
        exp.expires_at = exp.created_at - timedelta(seconds=1)
    with pytest.raises(package.PackageError, match="expired"):
        package.fetch_published(rt, token)


def test_stop_use_correction_and_provision(rt, tmp_path: Path) -> None:
    call_id = _call(rt, tmp_path, 8)
    with rt.db.session() as s:
        dsar.stop_use(s, CLI, call_id, reason="本人からの利用停止請求")
        c = dsar.correct(s, CLI, call_id, 2, "田中一郎です。")
        assert c.original_text.startswith("田中一郎です。よろしく")
        with pytest.raises(dsar.RequestError, match="no transcript line 99"):
            dsar.correct(s, CLI, call_id, 99, "x")
        rec = record_provision(s, CLI, recipient="弁護士法人A", basis="紛争対応（法令）",
                               call_ids=[call_id])
        assert rec.id
        with pytest.raises(dsar.RequestError, match="unknown call"):
            record_provision(s, CLI, recipient="x", basis="y", call_ids=["nope"])
    with rt.db.session() as s:
        assert s.get(Call, call_id).use_stopped_at is not None
        assert s.scalars(select(TranscriptCorrection)).one().corrected_text == "田中一郎です。"
        assert list_provisions(s, call_id)[0]["recipient"] == "弁護士法人A"


def test_cli_contract(rt, tmp_path: Path) -> None:
    call_id = _call(rt, tmp_path, 9, number="0355550000")
    runner = CliRunner()
    r = runner.invoke(app, ["dsar", "create", "--customer-number", "0355550000", "--json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["calls"] == [call_id] and doc["request_id"]
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    out = tmp_path / "pkg.zip"
    r = runner.invoke(app, ["dsar", "export", doc["request_id"], "--out", str(out),
                            "--password-file", str(pw), "--json"])
    assert r.exit_code == 0, r.stderr
    assert "not recorded as verified" in r.stderr  # warned, and recorded as such
    res = json.loads(r.stdout)
    assert res["calls"] == [call_id] and res["identity_verified"] is False
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert f"calls/{call_id}/audio.flac" in _open(out.read_bytes())
    r = runner.invoke(app, ["dsar", "export", doc["request_id"], "--out", str(out),
                            "--password-file", str(pw)])
    assert r.exit_code == 1 and "already exists" in r.stderr
    r = runner.invoke(app, ["dsar", "export", "nope", "--out", str(tmp_path / "x.zip"),
                            "--password-file", str(pw)])
    assert r.exit_code == 1 and "request nope not found" in r.stderr


def test_stopped_call_is_out_of_search_and_plays_only_for_legal_purposes(
        rt, tmp_path: Path) -> None:
    from rokuon.access.door import get_call
    from rokuon.calls.service import CallFilter, search

    call_id = _call(rt, tmp_path, 10)
    with rt.db.session() as s:
        assert search(s, CLI, "花子", CallFilter(), "Asia/Tokyo")
        dsar.stop_use(s, CLI, call_id, reason="利用停止請求")
    with rt.db.session() as s:
        assert search(s, CLI, "花子", CallFilter(), "Asia/Tokyo") == []
        with pytest.raises(AccessDenied, match="legal"):
            get_call(s, CLI, call_id, action="call.play", purpose="quality",
                     require_purpose=True)
    with rt.db.session() as s:
        assert get_call(s, CLI, call_id, action="call.play", purpose="legal",
                        require_purpose=True).id == call_id


def _truth_name_chars(truth_text: str, name: str, asr: list[tuple[int, str]]
                     ) -> list[tuple[int, int, int]]:
    """Where the recogniser's text says what the truth says at ``name`` — whatever it
    wrote there (島の花子 for 妻の花子, 黙村 for 木村): (segment, start, end) through a
    character alignment of the truth utterance with the overlapping ASR segments."""
    import difflib

    joined = "".join(t for _, t in asr)
    owner = [(idx, k) for idx, t in asr for k in range(len(t))]
    ops = difflib.SequenceMatcher(None, truth_text, joined, autojunk=False).get_opcodes()

    def at(pos: int, end: bool) -> int:
        for tag, i1, i2, j1, j2 in ops:
            if (i1 < pos <= i2) if end else (i1 <= pos < i2):
                if tag == "equal":
                    return j1 + pos - i1
                return j1 + round((pos - i1) * (j2 - j1) / max(1, i2 - i1))
        return len(joined) if end else 0

    out = []
    k = truth_text.find(name)
    while k >= 0:
        a, b = at(k, False), at(k + len(name), True)
        assert b > a, f"the recogniser wrote nothing for {name!r}: {joined!r}"
        spans: dict[int, list[int]] = {}
        for idx, c in owner[a:b]:
            spans.setdefault(idx, []).append(c)
        out += [(idx, min(cs), max(cs) + 1) for idx, cs in spans.items()]
        k = truth_text.find(name, k + len(name))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name,number", [("21_third_party_names", "03-5444-1212"),
                                         ("40_third_party_family", "042-555-4343")])
def test_package_masks_every_name_whatever_the_recogniser_wrote(rt_asr, tmp_path: Path,
                                                                name: str, number: str
                                                                ) -> None:
    """Real ASR on the third-party-names corpus call, then the disclosure package. Only
    what must hold whatever words the recogniser produced on this CPU: the operator is
    muted; every span the masking marked is the bleep tone and nothing else; every
    third-party name of the truth — found in the transcript by alignment, however it was
    spelled — is masked in the text and bleeped where it was said; the package text
    holds no name Sudachi tags and no unmasked 「X さん」; everything else the customer
    said is there unchanged, in the text and sample for sample in the audio."""
    from rokuon.calls.document import call_document
    from rokuon.engine.analysis.spans import time_span
    from rokuon.engine.audio.redact import bleep, decode_native
    from rokuon.pipeline.executor import run_until_done
    from rokuon.store.keys import WrappedKey
    from rokuon.text.japanese import tokens
    from tests.conftest import corpus_calls

    rt = rt_asr
    d = next((p for p in corpus_calls() if p.name == name), None)
    if d is None:
        pytest.skip(f"corpus call {name} missing")
    truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    [res] = ingest_files(rt, [d / "stereo.wav"], meta_path=d / "meta.json", actor=CLI)
    run_until_done(rt, [res.call_id], timeout_s=600)
    with rt.db.session() as s:
        call = s.get(Call, res.call_id)
        doc = call_document(s, call, rt.settings.timezone, with_words=True)
        original, _ = decode_native(io.BytesIO(rt.blobs.read_all(
            call.blob_key, WrappedKey.from_json(call.wrapped_key))))
        rid = dsar.create_request(s, CLI, customer_number=number).id
    blob, record = package.build(rt, CLI, rid, password=PASSWORD, require_identity=False)
    assert record["included"][0]["call_id"] == res.call_id
    files = _open(blob)
    base = f"calls/{res.call_id}"
    masked = json.loads(files[f"{base}/transcript.json"])["segments"]
    audio, rate = sf.read(io.BytesIO(files[f"{base}/audio.flac"]), dtype="float32")
    assert audio.shape == original.shape
    segs = package.engine_segments(doc["segments"])
    marked = package.third_party_findings(doc, None, rt.analysis_config)
    spans = [(f["start"] - package.BLEEP_PAD_S, f["end"] + package.BLEEP_PAD_S)
             for f in marked]
    tone = bleep(np.zeros_like(original), rate, spans, pad_s=0.0)[:, 1]
    in_bleep = tone != 0
    for a, b in spans:  # the tone crosses zero: the whole stretch is bleeped
        in_bleep[max(0, int(a * rate)): int(b * rate) + 1] = True

    assert np.abs(audio[:, 0]).max() == 0.0  # the operator's channel is muted
    cust = audio[:, 1]
    assert np.abs(cust[in_bleep] - tone[in_bleep]).max() < 2e-3  # the tone, no speech
    assert np.abs(cust[~in_bleep] - original[~in_bleep, 1]).max() < 2e-3  # the rest as is
    assert np.abs(original[~in_bleep, 1]).max() > 0.05  # … and the rest is speech

    names = [(u, p["text"]) for u in truth["utterances"] for p in u["pii"]
             if p["type"] in ("person_name", "staff_name")]
    assert len(names) >= 3
    for u, name in names:
        asr = [(i, sg.text) for i, sg in enumerate(segs) if sg.speaker == u["speaker"]
               and sg.start < u["end"] + 0.5 and sg.end > u["start"] - 0.5]
        assert asr, f"no transcript line where the truth has {u['text']!r}"
        for idx, a, b in _truth_name_chars(u["text"], name, asr):
            assert set(masked[idx]["text"][a:b]) <= {"＊", " "}, (name, masked[idx]["text"])
            t0, t1 = time_span(segs[idx], a, b)
            core = in_bleep[int(t0 * rate): int(t1 * rate) + 1]
            assert core.size and core.mean() >= 0.9, (name, segs[idx].text, t0, t1)

    honorific = re.compile(r"([\u30a1-\u30fa\u4e00-\u9fff]+)(?:さん|様|くん|ちゃん)")
    generic = {"客", "皆", "お客", "奥"}
    for sg, orig in zip(masked, doc["segments"], strict=True):
        text = sg["text"]
        assert not [t.surface for t in tokens(text) if t.pos[2:3] == ("人名",)
                    and "＊" not in t.surface], text
        assert all(m.group(1) in generic for m in honorific.finditer(text)), text
        assert len(text) == len(orig["text"])
        assert all(c == o or c == "＊" for c, o in zip(text, orig["text"], strict=True))
    said = "".join(sg["text"] for sg in masked if sg["speaker"] == "customer")
    assert said.count("＊") < 0.25 * len(said), said  # the customer's own words stay


def test_erasure_request_shreds_and_records_hold_refusals(rt, tmp_path: Path) -> None:
    from rokuon.compliance.holds import add_hold

    a, b = _call(rt, tmp_path, 11), _call(rt, tmp_path, 12)
    with rt.db.session() as s:
        add_hold(s, CLI, reason="係争中", call_id=b)
        rid = dsar.create_request(s, CLI, kind="erasure", customer_number="0312345678").id
        dsar.record_fee(s, CLI, rid, 0)
    res = dsar.erase_request(rt, CLI, rid)
    assert res == {"erased": [a], "refused": [b]}
    with rt.db.session() as s:
        assert s.get(Call, a) is None and s.get(Call, b) is not None
        doc = dsar.describe(s, dsar._get(s, rid))
    assert doc["status"] == "closed" and "legal hold" in doc["outcome"]
    kept = next(d for d in doc["decisions"] if d["call_id"] == b)
    assert kept["decision"] == "refuse" and "legal hold" in kept["reason"]
    with rt.db.session() as s:
        other = dsar.create_request(s, CLI, name="x").id
    with pytest.raises(dsar.RequestError, match="not an erasure"):
        dsar.erase_request(rt, CLI, other)
