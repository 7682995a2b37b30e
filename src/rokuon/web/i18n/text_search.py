"""UI text: search hits on the call list page (the total and the next page)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "search_total": {"ja": "{n} 件", "en": "{n} hits"},
    "search_total_about": {"ja": "約 {n} 件", "en": "{n} hits (about)"},
    "search_total_capped": {"ja": "{n} 件以上", "en": "more than {n} hits"},
    "search_next": {"ja": "次の検索結果 →", "en": "Next matches →"},
    "search_first": {"ja": "← 最初の検索結果", "en": "← First matches"},
}
