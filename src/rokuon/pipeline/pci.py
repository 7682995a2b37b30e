"""PCI mode: card numbers, expiry dates and security codes never reach storage in the
clear — and when that cannot be assured, the call is quarantined.

Right after transcription — before the transcript, the search index or any analysis
is written — the PII detector looks for the PCI types (card windows driven by the
question as well as the answer, see ``engine.analysis.pii.pci``); their characters are
masked (＊) and the stored recording is replaced by a copy with those spans — and every
whole line said in answer to a card question, whatever the recogniser made of it —
bleeped (new data key; the original's data key is dropped with the row update, then its file
is deleted). Only types and times are recorded.

Then a second, independent check (``engine.analysis.pii.leaks``) reads the masked text.
Fail-closed:

- the leak check still sees card-like digits → they are masked and bleeped too, and
  the call is quarantined for review;
- the detector raises → every digit of the call is masked and the call quarantined;
- bleeping fails → the text is masked, the recording left as it was, the call
  quarantined.

A quarantined call (``calls.quarantined_at``, ``quarantine_reason``) is not indexed for
search, cannot be played or downloaded, and is listed by ``rokuon pci quarantine``
until an administrator releases it."""

from __future__ import annotations

import io
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from rokuon.engine.types import Segment
from rokuon.runtime import Runtime
from rokuon.store.blobs import StoredBlob
from rokuon.store.models import Call, PipelineEvent, utcnow

BLEEP_PAD_S = 0.3  # word timestamps are approximate: bleep a little around them
log = logging.getLogger(__name__)


@dataclass
class Redaction:
    segments: list[Segment]  # masked
    findings: list[dict[str, Any]]  # types, speakers, times — no values
    blob: StoredBlob | None  # the bleeped recording (None: audio left as is)
    old_blob_key: str
    quarantine: str | None = None  # why the call is held out of search and playback
    turns: list[dict[str, Any]] = field(default_factory=list)  # answers bleeped whole


def pci_types(cfg: dict[str, Any]) -> set[str]:
    from rokuon.engine.analysis.pii import PCI_TYPES

    return set((cfg.get("pii") or {}).get("pci_types") or PCI_TYPES)


def _detector_config(cfg: dict[str, Any], types: set[str]) -> dict[str, Any]:
    """The configuration with the PCI types switched on whatever ``types`` says (PCI
    masking does not depend on which types the analysis reports)."""
    p = dict(cfg.get("pii") or {})
    if p.get("types"):
        p["types"] = sorted(set(p["types"]) | types)
    return {**cfg, "pii": p}


def mask_every_digit(segments: list[Segment]) -> list[Segment]:
    """Every digit the leak check can read (any spoken form) masked, in every segment:
    what is stored when the detector cannot be trusted."""
    from rokuon.engine.analysis.pii import mask_segments
    from rokuon.engine.analysis.pii.leaks import digits_in

    findings = [{"type": "card_number", "chars": [[i, a, b] for a, b, _ in digits_in(s.text)]}
                for i, s in enumerate(segments)]
    return mask_segments(segments, [f for f in findings if f["chars"]], {"card_number"})


def _leak_findings(segments: list[Segment], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    from rokuon.engine.analysis.pii.leaks import leak_spans

    return [{"type": "card_number", "speaker": segments[lk.segment].speaker,
             "segment": lk.segment, "start": round(lk.start, 3), "end": round(lk.end, 3),
             "chars": [[lk.segment, *lk.chars]], "source": "leak_check", "leak": lk.kind}
            for lk in leak_spans(segments, cfg)]


def _spans(findings: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(float(f["start"]) - BLEEP_PAD_S, float(f["end"]) + BLEEP_PAD_S) for f in findings]


def redact(rt: Runtime, call_id: str, old_blob_key: str, segments: list[Segment],
           original: bytes) -> Redaction | None:
    """The masked transcript and bleeped recording, or None when there is no card data.
    Never raises for a failure of the masking itself: that quarantines the call."""
    from rokuon.engine.analysis import pii
    from rokuon.engine.analysis.pii.pci import answer_turns
    from rokuon.engine.audio.redact import bleep_recording

    cfg = rt.analysis_config
    types = pci_types(cfg)
    try:
        found = pii.detect(segments, _detector_config(cfg, types))
        findings = [f for f in found if f.get("type") in types]
        masked = pii.mask_segments(segments, findings, types)
        leaks = _leak_findings(masked, cfg)
        turns = [t for t in answer_turns(segments, cfg) if t["type"] in types]
    except Exception as exc:  # noqa: BLE001 - any failure: fail closed
        log.exception("pci: card-data detection failed for call %s", call_id)
        return Redaction(mask_every_digit(segments), [], None, old_blob_key,
                         quarantine=f"card-data detection failed ({type(exc).__name__})")
    quarantine = None
    if leaks:
        masked = pii.mask_segments(masked, leaks, {"card_number"})
        kinds = ", ".join(sorted({lk["leak"] for lk in leaks}))
        quarantine = (f"the independent leak check found card-like digits the detector "
                      f"missed ({kinds}); masked and bleeped, held for review")
    if not findings and not leaks and not turns:
        return None
    recorded = [{**f, "masked": True, "bleeped": True} for f in findings + leaks]
    try:
        flac = bleep_recording(io.BytesIO(original), _spans(findings + leaks + turns),
                               rt.settings.decode_limits)
        blob = rt.blobs.put_stream(f"calls/{call_id}/redacted-{secrets.token_hex(6)}", [flac])
    except Exception as exc:  # noqa: BLE001 - the text is masked; the audio is held back
        log.exception("pci: bleeping failed for call %s", call_id)
        recorded = [{**f, "bleeped": False} for f in recorded]
        return Redaction(masked, recorded, None, old_blob_key,
                         quarantine=f"bleeping the recording failed ({type(exc).__name__})")
    return Redaction(segments=masked, findings=recorded, blob=blob, old_blob_key=old_blob_key,
                     quarantine=quarantine, turns=turns)


def apply_to_call(s: Session, call_id: str, r: Redaction) -> None:
    call = s.get(Call, call_id)
    if call is None:
        return
    if r.quarantine is not None:
        call.quarantined_at = utcnow()
        call.quarantine_reason = r.quarantine[:2000]
        s.add(PipelineEvent(call_id=call_id, state="quarantined", detail=r.quarantine[:2000]))
    if r.blob is None:
        return
    call.blob_key = r.blob.key
    call.wrapped_key = r.blob.wrapped_key.to_json()
    call.blob_sha256 = r.blob.sha256
    call.blob_size = r.blob.size
    call.redactions = [{"type": f["type"], "speaker": f.get("speaker"), "start": f["start"],
                        "end": f["end"]} for f in r.findings] + [
        {"type": t["type"], "speaker": t["speaker"], "start": t["start"], "end": t["end"],
         "scope": "answer"} for t in r.turns]

