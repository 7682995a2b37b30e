"""PCI mode: card numbers and security codes never reach storage in the clear.

Right after transcription — before the transcript, the search index or any analysis
is written — the PII detector looks for the PCI types; when it finds any, the
transcript's characters are masked (＊) and the stored recording is replaced by a
copy with those spans bleeped (new data key; the original's data key is dropped with
the row update, then its file is deleted). Only types and times are recorded."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from rokuon.engine.types import Segment
from rokuon.runtime import Runtime
from rokuon.store.blobs import StoredBlob
from rokuon.store.models import Call

BLEEP_PAD_S = 0.3  # word timestamps are approximate: bleep a little around them


@dataclass
class Redaction:
    segments: list[Segment]  # masked
    findings: list[dict[str, Any]]  # types, speakers, times — no values
    blob: StoredBlob | None  # the bleeped recording (None: audio left as is)
    old_blob_key: str


def pci_types(cfg: dict[str, Any]) -> set[str]:
    from rokuon.engine.analysis.pii import PCI_TYPES

    return set((cfg.get("pii") or {}).get("pci_types") or PCI_TYPES)


def redact(rt: Runtime, call_id: str, old_blob_key: str, segments: list[Segment],
           original: bytes) -> Redaction | None:
    from rokuon.engine.analysis import pii
    from rokuon.engine.audio.redact import bleep_recording

    cfg = rt.analysis_config
    types = pci_types(cfg)
    findings = [f for f in pii.detect(segments, cfg) if f.get("type") in types]
    if not findings:
        return None
    masked = pii.mask_segments(segments, findings, types)
    spans = [(float(f["start"]) - BLEEP_PAD_S, float(f["end"]) + BLEEP_PAD_S)
             for f in findings]
    flac = bleep_recording(io.BytesIO(original), spans)
    blob = rt.blobs.put_stream(f"calls/{call_id}/redacted-{secrets.token_hex(6)}", [flac])
    recorded = [{**f, "masked": True, "bleeped": True} for f in findings]
    return Redaction(segments=masked, findings=recorded, blob=blob, old_blob_key=old_blob_key)


def apply_to_call(s: Session, call_id: str, r: Redaction) -> None:
    call = s.get(Call, call_id)
    if call is None or r.blob is None:
        return
    call.blob_key = r.blob.key
    call.wrapped_key = r.blob.wrapped_key.to_json()
    call.blob_sha256 = r.blob.sha256
    call.blob_size = r.blob.size
    call.redactions = [{"type": f["type"], "speaker": f.get("speaker"), "start": f["start"],
                        "end": f["end"]} for f in r.findings]
