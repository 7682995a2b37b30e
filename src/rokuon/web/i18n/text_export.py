"""UI text: the call export links on the call list page."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "export_calls_csv": {"ja": "CSV をダウンロード", "en": "Download CSV"},
    "export_calls_jsonl": {"ja": "JSONL をダウンロード", "en": "Download JSON Lines"},
    "export_calls_hint": {"ja": "表示中の期間の通話（権限の範囲内）を 1 行 1 通話で書き出します",
                    "en": "The calls of the selected period that you may see, one row each"},
}
