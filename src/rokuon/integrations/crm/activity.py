"""The activity document of one analysed call: what every CRM mapping draws from. Built
in the analysis transaction and stored with the outbox row, so a retry sends what the
analysis said, not what was there later."""

from __future__ import annotations

from typing import Any

from rokuon.store.models import Call

FIELDS = ("call_id", "call_url", "audio_url", "started_at", "date", "duration_s",
          "duration_ms", "direction", "agent", "queue", "customer_number", "qa_score",
          "flags", "summary", "title")


def flags_of(results: dict[str, tuple[int, Any]]) -> list[str]:
    """Every analyzer's ``flags`` (consent refused, complaint, churn …), in order, once."""
    out: list[str] = []
    for _name, (_v, payload) in results.items():
        if isinstance(payload, dict):
            for f in payload.get("flags") or []:
                if isinstance(f, str) and f not in out:
                    out.append(f)
    return out


def summary_of(results: dict[str, tuple[int, Any]], call: Call) -> str:
    """The call summary when the summaries step wrote one (else empty); never for a
    quarantined (PCI) call."""
    summary = results.get("summary", (0, None))[1]
    if isinstance(summary, dict):
        summary = summary.get("text") or summary.get("summary")
    if not isinstance(summary, str) or call.quarantined_at is not None:
        return ""
    return summary.strip()


def build(call: Call, results: dict[str, tuple[int, Any]], *, public_url: str,
          include_audio: bool = False) -> dict[str, Any]:
    base = (public_url or "").rstrip("/")
    started = call.started_at.isoformat() if call.started_at else None
    dur = round(call.duration_s or 0.0, 3)
    return {"call_id": call.id, "call_url": f"{base}/calls/{call.id}",
            "audio_url": f"{base}/api/calls/{call.id}/audio" if include_audio else "",
            "started_at": started, "date": started[:10] if started else None,
            "duration_s": dur, "duration_ms": int(round(dur * 1000)),
            "direction": call.direction, "agent": call.agent, "queue": call.queue,
            "customer_number": call.customer_number, "qa_score": call.qa_score,
            "flags": flags_of(results), "summary": summary_of(results, call),
            "title": f"rokuon {call.direction or 'call'} {started or call.id}"}


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
