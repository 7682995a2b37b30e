"""The masked disclosure package of a data subject request.

For every call decided "disclose" or "partial" (pending ones are disclosed and the
decision recorded): the customer's own voice is kept; the operator's channel is muted
(``agent_voice="mute"``, the default) or kept on request; names of third parties —
staff named in the call, the operator's own name, family members or anyone whose name
is not the requester's — are bleeped in the audio and masked in the transcript, from
the PII time spans. Plus a cover letter (PDF), the handling record (JSON) and, for
refused calls, the ground. Delivered as an AES-256 encrypted ZIP (WinZip AES); the
password travels separately."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyzipper
import soundfile as sf
from sqlalchemy import select

from rokuon.access import audit, door
from rokuon.access.principal import Principal
from rokuon.calls.document import call_document
from rokuon.compliance import dsar
from rokuon.runtime import Runtime
from rokuon.store.keys import WrappedKey
from rokuon.store.models import Call, DataRequest, DisclosureExport, utcnow
from rokuon.text.normalize import normalize

if TYPE_CHECKING:
    from rokuon.engine.audio.sandbox import Limits

THIRD_PARTY_TYPES = ("staff_name", "person_name")
MIN_PASSWORD = 10
BLEEP_PAD_S = 0.25
ROLE_JA = {"agent": "オペレーター", "customer": "お客様"}


class PackageError(ValueError):
    pass


def _finding_text(segments: list[dict[str, Any]], f: dict[str, Any]) -> str:
    out = []
    for idx, a, b in f.get("chars") or []:
        if 0 <= idx < len(segments):
            out.append(segments[idx]["text"][a:b])
    return "".join(out)


def is_requester(name_found: str, requester: str | None) -> bool:
    """「田中様」「田中一郎」 are the requester 田中一郎; 「花子」 is not."""
    if not requester:
        return False
    found = normalize(name_found).removesuffix("様").removesuffix("さん")
    req = normalize(requester)
    return bool(found) and (found in req or req in found)


def engine_segments(doc_segments: list[dict[str, Any]]) -> list[Any]:
    """The call document's segments (with word timings when it has them) as engine
    Segments, so the detector's times follow the words."""
    from rokuon.engine.types import Segment, Word

    return [Segment(speaker=s["speaker"], start=s["start"], end=s["end"], text=s["text"],
                    words=[Word(w["text"], w["start"], w["end"], w.get("probability", 1.0))
                           for w in s.get("words") or []])
            for s in doc_segments]


def third_party_findings(doc: dict[str, Any], requester: str | None,
                         cfg: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every name in the call that is not the requester's: the stored analysis' names,
    the detector run again on the transcript as it is now (a newer detector, a
    corrected line), and — unless ``uncertain_names`` is off — every name-like span the
    detector is unsure of (``"uncertain": true``): a disclosure fails toward masking."""
    from rokuon.engine.analysis import pii
    from rokuon.engine.analysis.pii.name_context import name_candidates

    stored = [p for p in (doc.get("analysis") or {}).get("pii") or [] if isinstance(p, dict)]
    known = [f for f in stored if f.get("type") in THIRD_PARTY_TYPES]
    if cfg is not None:
        segs = engine_segments(doc["segments"])
        known += [f for f in pii.detect(segs, cfg) if f.get("type") in THIRD_PARTY_TYPES]
        if (cfg.get("pii") or {}).get("uncertain_names", True):
            known += name_candidates(segs, cfg, known=known)
    out = []
    for f in known:
        if f["type"] == "person_name" and is_requester(_finding_text(doc["segments"], f),
                                                       requester):
            continue
        out.append(f)
    return out


def mask_transcript(segments: list[dict[str, Any]], findings: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    """The call document's segments with the findings' characters masked — by the PII
    detector's own masking (the same ＊ as PCI mode)."""
    from rokuon.engine.analysis.pii import mask_segments
    from rokuon.engine.types import Segment

    engine = [Segment(speaker=s["speaker"], start=s["start"], end=s["end"], text=s["text"])
              for s in segments]
    masked = mask_segments(engine, findings, {f["type"] for f in findings})
    return [{**s, "text": m.text} for s, m in zip(segments, masked, strict=True)]


def masked_audio(data: bytes, doc: dict[str, Any], findings: list[dict[str, Any]],
                 agent_voice: str, limits: Limits | None = None) -> bytes:
    from rokuon.engine.audio.redact import bleep
    from rokuon.engine.audio.sandbox import decode_native

    samples, rate = decode_native(io.BytesIO(data), limits)
    muted: list[int] = []
    if agent_voice == "mute":
        agent_ch = [p["channel"] for p in doc["parties"]
                    if p["role"] == "agent" and p["channel"] is not None]
        if agent_ch and samples.shape[1] > 1:
            muted = agent_ch
        else:  # mono: silence the operator's turns (their overlaps with the customer too)
            for seg in doc["segments"]:
                if seg["speaker"] == "agent":
                    a, b = int(seg["start"] * rate), int(seg["end"] * rate) + 1
                    samples[max(0, a):max(0, b), :] = 0.0
    spans = [(float(f["start"]) - BLEEP_PAD_S, float(f["end"]) + BLEEP_PAD_S) for f in findings]
    out = bleep(samples, rate, spans, pad_s=0.0) if spans else samples
    out[:, muted] = 0.0  # a muted channel stays silent (no bleeps either)
    buf = io.BytesIO()
    sf.write(buf, np.clip(out, -1, 1), rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def transcript_txt(segments: list[dict[str, Any]]) -> str:
    lines = []
    for s in segments:
        m, sec = divmod(float(s["start"]), 60)
        lines.append(f"[{int(m):02d}:{sec:05.2f}] {ROLE_JA.get(s['speaker'], s['speaker'])}: "
                     f"{s['text']}")
    return "\n".join(lines) + "\n"


def cover_letter_pdf(req: DataRequest, included: list[dict[str, Any]],
                     refused: list[dict[str, Any]], tz: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "HeiseiMin-W3"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle(f"保有個人データ開示のご回答 {req.id}")
    y = A4[1] - 72

    def line(text: str, size: int = 10, gap: int = 16) -> None:
        nonlocal y
        if y < 72:
            c.showPage()
            y = A4[1] - 72
        c.setFont(font, size)
        c.drawString(60, y, text[:90])
        y -= gap

    line("保有個人データの開示請求に対するご回答", 14, 28)
    line(f"{req.customer_name or 'ご請求者'} 様")
    line(f"受付番号: {req.id}    受付日: {req.received_at.date().isoformat()}")
    line(f"回答日: {utcnow().date().isoformat()}", gap=24)
    line("ご請求のありました通話録音について、下記のとおり開示いたします。")
    line("お客様ご自身の音声は含まれます。オペレーターの音声、および第三者の氏名等は")
    line("第三者の権利利益の保護のため、音声では消音・ビープ音、文字起こしでは「＊」で", gap=16)
    line("伏せております。添付ファイルのパスワードは別途ご連絡いたします。", gap=24)
    line(f"開示する通話: {len(included)} 件", 11, 18)
    for i in included:
        how = "一部開示" if i["decision"] == "partial" else "開示"
        line(f"・{i['started_at'] or '-'}  通話ID {i['call_id']}  "
             f"({how}、伏せた箇所 {i['masked']} か所)")
    if refused:
        line(f"開示しない通話: {len(refused)} 件", 11, 18)
        for r in refused:
            line(f"・通話ID {r['call_id']}: {dsar.REFUSAL_GROUNDS.get(r['reason'], r['reason'])}")
        line("本決定にご不服がある場合は、当社窓口までお申し出ください。", gap=20)
    line("個人情報の保護に関する法律第33条に基づくご回答です。", 9)
    c.save()
    return buf.getvalue()


def build(rt: Runtime, principal: Principal, request_id: str, *, password: str,
          agent_voice: str = "mute", require_identity: bool = True,
          spans: dict[str, list[dict[str, Any]]] | None = None
          ) -> tuple[bytes, dict[str, Any]]:
    """(encrypted ZIP bytes, handling record). The requester's identity must have been
    verified first unless ``require_identity`` is False (the local administrator's CLI,
    which warns; the handling record says ``identity_verified: false``). ``spans``: the
    reviewed masking per call (``review.py``) instead of the detector's suggestions."""
    dsar._guard(principal)
    if agent_voice not in ("mute", "keep"):
        raise PackageError("agent voice must be 'mute' or 'keep'")
    if len(password) < MIN_PASSWORD:
        raise PackageError(f"the package password must have at least {MIN_PASSWORD} characters")
    tz = rt.settings.timezone
    files: dict[str, bytes] = {}
    included: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    with rt.db.session() as s:
        req = dsar._get(s, request_id)
        if require_identity and not req.identity:
            raise PackageError("verify the requester's identity before exporting")
        if req.kind != "disclosure":
            raise PackageError(f"request {request_id} is a {req.kind} request, not a disclosure")
        pending = [i.call_id for i in dsar.calls_of(s, request_id) if i.decision == "pending"]
        if pending:
            dsar.decide(s, principal, request_id, "disclose")
        for item in dsar.calls_of(s, request_id):
            if item.decision == "refuse":
                refused.append({"call_id": item.call_id, "reason": item.reason})
                continue
            call = s.get(Call, item.call_id)
            if call is None or call.wrapped_key is None:
                refused.append({"call_id": item.call_id, "reason": "not_found"})
                continue
            if call.quarantined_at is not None:  # PCI masking failed or was unsure
                refused.append({"call_id": item.call_id, "reason": "pci_quarantine"})
                continue
            call = door.get_call(s, principal, item.call_id, action="call.disclose",
                                 detail={"request": request_id, "agent_voice": agent_voice})
            doc = call_document(s, call, tz, with_words=True)
            if spans is not None and call.id in spans:
                findings = spans[call.id]
            else:
                findings = third_party_findings(doc, req.customer_name, rt.analysis_config)
            data = rt.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key),
                                     expected_sha256=call.blob_sha256 or call.content_sha256)
            segs = mask_transcript(doc["segments"], findings)
            base = f"calls/{call.id}"
            files[f"{base}/audio.flac"] = masked_audio(data, doc, findings, agent_voice,
                                                          rt.settings.decode_limits)
            files[f"{base}/transcript.txt"] = transcript_txt(segs).encode("utf-8")
            files[f"{base}/transcript.json"] = json.dumps(
                {"call_id": call.id, "started_at": doc["started_at"],
                 "duration_s": doc["duration_s"], "segments": [
                     {k: v for k, v in sg.items() if k in ("speaker", "start", "end", "text")}
                     for sg in segs]}, ensure_ascii=False, indent=1).encode("utf-8")
            included.append({"call_id": call.id, "started_at": doc["started_at"],
                             "decision": item.decision, "masked": len(findings),
                             "uncertain": sum(1 for f in findings if f.get("uncertain")),
                             "masked_types": sorted({f["type"] for f in findings})})
        record = {
            "request": dsar.describe(s, req), "generated_at": utcnow().isoformat(),
            "generated_by": principal.name, "agent_voice": agent_voice,
            "identity_verified": bool(req.identity), "included": included,
            "refused": refused, "reviewed": spans is not None,
            "masking": "operator channel muted; third-party names bleeped (audio) and "
                       "masked with ＊ (transcript)" if agent_voice == "mute" else
                       "third-party names bleeped (audio) and masked with ＊ (transcript)",
        }
        files["cover_letter.pdf"] = cover_letter_pdf(req, included, refused, tz)
        files["handling_record.json"] = json.dumps(record, ensure_ascii=False,
                                                   indent=1).encode("utf-8")
        buf = io.BytesIO()
        with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED,
                                 encryption=pyzipper.WZ_AES) as zf:
            zf.setpassword(password.encode("utf-8"))
            zf.setencryption(pyzipper.WZ_AES, nbits=256)
            for name, content in files.items():
                zf.writestr(name, content)
        blob = buf.getvalue()
        record["sha256"] = hashlib.sha256(blob).hexdigest()
        if req.status in ("received", "verified", "decided"):
            req.status = "delivered"
        audit.record(s, principal, "request.export", object_type="request", object_id=request_id,
                     detail={"calls": [i["call_id"] for i in included],
                             "refused": [r["call_id"] for r in refused],
                             "agent_voice": agent_voice, "sha256": record["sha256"],
                             "identity_verified": record["identity_verified"]})
    return blob, record


def publish(rt: Runtime, principal: Principal, request_id: str, package: bytes, *,
            valid_days: int = 7) -> tuple[str, DisclosureExport]:
    """Keep the (already encrypted) package in the blob store behind a one-off random
    token; returns the token (only its hash is stored) for the download link."""
    token = secrets.token_urlsafe(32)
    key = f"requests/{request_id}/package-{secrets.token_hex(6)}"
    stored = rt.blobs.put_stream(key, [package])
    with rt.db.session() as s:
        exp = DisclosureExport(
            request_id=request_id, blob_key=key, wrapped_key=stored.wrapped_key.to_json(),
            sha256=stored.sha256, size=stored.size,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=utcnow() + timedelta(days=valid_days), created_by=principal.name,
            downloads=0)
        s.add(exp)
        audit.record(s, principal, "request.publish", object_type="request",
                     object_id=request_id, detail={"valid_days": valid_days})
    return token, exp


def fetch_published(rt: Runtime, token: str, source: str | None = None) -> bytes:
    """The package behind a download token, while the link is valid (audited)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    with rt.db.session() as s:
        exp = s.scalars(select(DisclosureExport).where(
            DisclosureExport.token_hash == digest)).first()
        now = utcnow()
        if exp is None or exp.wrapped_key is None or exp.expires_at < now:
            audit.record(s, "anonymous", "request.download", outcome="denied",
                         detail={"why": "unknown or expired link"}, source=source)
            s.commit()
            raise PackageError("this download link is unknown or has expired")
        exp.downloads += 1
        audit.record(s, "anonymous", "request.download", object_type="request",
                     object_id=exp.request_id, source=source)
        key, wrapped, sha = exp.blob_key, exp.wrapped_key, exp.sha256
    return rt.blobs.read_all(key, WrappedKey.from_json(wrapped), expected_sha256=sha)
