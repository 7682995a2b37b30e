"""Slack incoming webhooks: an event as a Block Kit message (header, the evidence with
every spoken digit masked, a button to the call in rokuon).

Limits kept (Slack answers 400 ``invalid_payload`` otherwise): header plain_text ≤ 150
characters, section text ≤ 3000, fields ≤ 10 of ≤ 2000. User-provided text goes out as
``plain_text`` so that it cannot mention ``@channel`` or forge links."""

from __future__ import annotations

import json
from typing import Any

HEADER_MAX, SECTION_MAX, FIELD_MAX = 150, 3000, 2000

KIND_LABELS = {
    "complaint": "苦情・カスハラ / complaint", "ng_word": "NGワード / NG word",
    "silence": "沈黙 / silence", "no_announcement": "録音告知なし / no announcement",
    "pci": "カード情報 / card data", "custom": "ルール / rule",
}


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def mask_digits(text: str) -> str:
    """Every digit the text says (numerals, kanji and kana readings) masked: card data
    and phone numbers never reach a chat."""
    from rokuon.engine.analysis.pii import MASK
    from rokuon.engine.analysis.pii.leaks import digits_in

    chars = list(text)
    for a, b, _ in digits_in(text):
        for i in range(a, b):
            chars[i] = MASK
    return "".join(chars)


def _mm_ss(seconds: Any) -> str:
    try:
        s = max(0, int(float(seconds)))
    except (TypeError, ValueError):
        return "-"
    return f"{s // 60}:{s % 60:02d}"


def call_link(public_url: str, call_id: str | None) -> str | None:
    base = (public_url or "").strip().rstrip("/")
    if not call_id or not base.startswith(("http://", "https://")):
        return None
    return f"{base}/calls/{call_id}"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _field(label: str, value: Any) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(f"{label}: {value}", FIELD_MAX)}


def message(event: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The Slack body for one event document ({"type", "timestamp", "data"})."""
    etype = str(event.get("type"))
    data = event.get("data") or {}
    call_id = data.get("call_id")
    blocks: list[dict[str, Any]] = []
    fields: list[dict[str, Any]] = []
    if etype == "alert.raised":
        kind = str(data.get("kind"))
        title = f"⚠ {KIND_LABELS.get(kind, kind)}: {data.get('rule')}"
        evidence = mask_digits(str(data.get("text") or "")).strip()
        fields = [_field("話者 / speaker", data.get("speaker") or "-"),
                  _field("時刻 / at", f"{_mm_ss(data.get('start'))}–{_mm_ss(data.get('end'))}")]
        if data.get("score") is not None:
            fields.append(_field("スコア / score", data.get("score")))
        body = evidence or "(発話なし / no utterance)"
    elif etype == "call.analyzed":
        title = "通話の分析が完了しました / call analysed"
        fields = [_field("QA", data.get("qa_score") if data.get("qa_score") is not None
                         else "-"),
                  _field("通話時間 / duration", _mm_ss(data.get("duration_s"))),
                  _field("苦情 / complaint", "あり / yes" if data.get("complaint") else
                         "なし / no")]
        body = mask_digits(str(data.get("summary") or "")).strip()
    elif etype == "webhook.test":
        title = "rokuon: テスト通知 / test message"
        body = "この Slack 連携は動作しています。/ This Slack integration works."
    else:
        title = {"call.started": "通話開始 / call started",
                 "call.ended": "通話終了 / call ended"}.get(etype, etype)
        body = ""
    blocks.append({"type": "header", "text": _plain(_cut(title, HEADER_MAX))})
    if body:
        blocks.append({"type": "section", "text": _plain(_cut(body, SECTION_MAX))})
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    link = call_link(public_url, call_id)
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": _plain("通話を開く / open the call"), "url": link,
            "action_id": "open_call"}]})
    context = f"rokuon · {etype}" + (f" · call {call_id}" if call_id else "")
    blocks.append({"type": "context", "elements": [_plain(_cut(context, SECTION_MAX))]})
    fallback = _cut(title + (f" — {body}" if body else ""), SECTION_MAX)
    return {"text": fallback, "blocks": blocks}


def body(event_json: str, public_url: str) -> bytes:
    return json.dumps(message(json.loads(event_json), public_url), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
