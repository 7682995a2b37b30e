"""Reading calls: the call document and search (the list is in rokuon.calls.listing).
Every function takes the principal and goes through the access door."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.calls.document import call_document, call_summary
from rokuon.calls.listing import CallFilter, apply, describe, list_calls
from rokuon.store import search_index
from rokuon.store.models import Call, Segment, Transcript
from rokuon.text import readings
from rokuon.text.japanese import has_japanese
from rokuon.text.normalize import normalize

__all__ = ["CallFilter", "list_calls", "search", "show_call"]


def show_call(session: Session, principal: Principal, call_id: str, tz: str, *,
              with_words: bool = False, break_glass: str | None = None) -> dict[str, Any]:
    call = door.get_call(session, principal, call_id, action="call.view",
                         break_glass=break_glass)
    return call_document(session, call, tz, with_words=with_words)


def search(session: Session, principal: Principal, query: str, f: CallFilter, tz: str
           ) -> list[dict[str, Any]]:
    """Search utterances by text and — for Japanese queries — by reading, so 解約 also
    finds what speech recognition wrote 開約 (カイヤク). Japanese has no spaces, so the
    indexes are character trigrams (SQLite FTS5 trigram / PostgreSQL pg_trgm); shorter
    queries scan. Each hit says how it matched: ``"matched": "text" | "reading"``; a
    reading candidate counts only on word boundaries and when it is not a homophone
    that is a word of its own (the analyzers' matcher, ``rokuon.text.readings``)."""
    needle = normalize(query)
    if not needle:
        return []
    sound = _query_reading(query)
    q = (select(Segment, Call)
         .join(Call, Call.id == Segment.call_id)
         .join(Transcript, (Transcript.id == Segment.transcript_id) & Transcript.is_current))
    q = q.where(search_index.matching(session, needle, sound), Call.use_stopped_at.is_(None),
                Call.quarantined_at.is_(None))
    q = door.scope_filter(principal, apply(q, f, tz))
    # newest first, as the call list: a call without a start time by when it arrived
    q = q.order_by(Call.started_at.desc().nulls_last(), Call.created_at.desc(),
                   Segment.call_id, Segment.start)
    q = q.limit(f.limit).offset(f.offset)
    with door.audited(session, principal, "call.search", query=query, filter=describe(f)):
        hits = []
        for seg, call in session.execute(q).all():
            if needle in seg.norm_text:
                how = "text"
            elif sound and readings.find(seg.text, query, fuzzy_min_morae=READING_NO_FUZZY,
                                                 spelling=True):
                how = "reading"
            else:
                continue  # a reading candidate across word boundaries, or a homophone
            hits.append({"call_id": seg.call_id, "start": seg.start, "end": seg.end,
                         "speaker": seg.speaker, "text": seg.text,
                         "started_at": call_summary(call, tz)["started_at"],
                         "agent": call.agent, "matched": how})
        return hits


READING_MIN_MORAE = 3  # 「役」 (ヤク) would find every 約, 訳 and 薬
READING_NO_FUZZY = 10**6  # search matches readings exactly (no tolerance)


def _query_reading(query: str) -> str | None:
    """The query's reading as the index stores readings, or None when it is not
    Japanese or too short to search by sound."""
    if not has_japanese(query):
        return None
    m = readings.phrase_morae(query)
    return "".join(m) if len(m) >= READING_MIN_MORAE else None
