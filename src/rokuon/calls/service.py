"""Reading calls: the call document and search (the list is in rokuon.calls.listing).
Every function takes the principal and goes through the access door."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.calls import search_cursor
from rokuon.calls.document import call_document, call_summary
from rokuon.calls.listing import CallFilter, apply, describe, list_calls
from rokuon.store import search_index
from rokuon.store.models import Call, Segment, Transcript
from rokuon.text import readings
from rokuon.text.japanese import has_japanese
from rokuon.text.normalize import normalize

__all__ = ["CallFilter", "list_calls", "search", "search_page", "show_call"]

TOTAL_CAP = 1_000  # matches are counted up to this many; above it the total is "1000+"


def show_call(session: Session, principal: Principal, call_id: str, tz: str, *,
              with_words: bool = False, break_glass: str | None = None) -> dict[str, Any]:
    call = door.get_call(session, principal, call_id, action="call.view",
                         break_glass=break_glass)
    return call_document(session, call, tz, with_words=with_words)


def search(session: Session, principal: Principal, query: str, f: CallFilter, tz: str
           ) -> list[dict[str, Any]]:
    """The hits of one page (``f.limit`` / ``f.offset``): see ``search_page``."""
    return search_page(session, principal, query, f, tz, with_total=False)["hits"]


def search_page(session: Session, principal: Principal, query: str, f: CallFilter, tz: str,
                *, cursor: str | None = None, with_total: bool = True) -> dict[str, Any]:
    """Search utterances by text and — for Japanese queries — by reading, so 解約 also
    finds what speech recognition wrote 開約 (カイヤク). Japanese has no spaces, so the
    indexes are character trigrams (SQLite FTS5 trigram / PostgreSQL pg_trgm) and, for
    1- and 2-character queries, characters and character pairs (``search_index``). Each
    hit says how it matched: ``"matched": "text" | "reading"``; a reading candidate
    counts only on word boundaries and when it is not a homophone that is a word of its
    own (the analyzers' matcher, ``rokuon.text.readings``).

    Newest calls first; ``cursor`` (from ``next_cursor``) continues after the last
    candidate of the previous page (keyset, so a deep page costs what the first does;
    ``f.offset`` still works when no cursor is given). ``total`` counts matching
    utterances up to ``TOTAL_CAP`` (``total_capped`` when there are more); it counts
    index candidates, so a reading candidate the matcher turns down is counted too:
    ``total_exact`` is false (``total_is_estimate`` true) then — the UI says "about".
    ``next`` and ``next_cursor`` are the same cursor (null on the last page). Raises
    ``search_cursor.CursorError`` on a cursor this server did not give."""
    after = search_cursor.decode(cursor) if cursor else None
    needle = normalize(query)
    if not needle:
        return {"hits": [], "total": 0, "total_exact": True, "total_capped": False,
                "total_is_estimate": False, "next": None, "next_cursor": None}
    sound = _query_reading(query)
    base = (select(Segment.id)
            .join(Call, Call.id == Segment.call_id)
            .join(Transcript, (Transcript.id == Segment.transcript_id)
                  & Transcript.is_current))
    base = base.where(search_index.matching(session, needle, sound),
                      Call.use_stopped_at.is_(None), Call.quarantined_at.is_(None))
    base = door.scope_filter(principal, apply(base, f, tz))
    q = base.with_only_columns(Segment, Call).options(defer(Segment.words),
                                                      defer(Segment.reading))
    if after is not None:
        q = q.where(_after(after))
    # newest first, as the call list: a call without a start time by when it arrived
    q = q.order_by(Call.started_at.desc().nulls_last(), Call.created_at.desc(),
                   Segment.call_id, Segment.start, Segment.id)
    q = q.limit(f.limit + 1)
    if after is None and f.offset:
        q = q.offset(f.offset)
    with door.audited(session, principal, "call.search", query=query, filter=describe(f)), \
            search_index.unprepared(session):
        rows = session.execute(q).all()
        more = len(rows) > f.limit
        rows = rows[:f.limit]
        hits = []
        candidates = len(rows)
        for seg, call in rows:
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
        total = None
        capped = False
        if with_total:
            total = session.execute(select(func.count()).select_from(
                base.limit(TOTAL_CAP + 1).subquery())).scalar_one()
            capped = total > TOTAL_CAP
            total = min(total, TOTAL_CAP)
        last = rows[-1] if rows and more else None
        nxt = search_cursor.encode(last[1].started_at, last[1].created_at, last[0].call_id,
                                   last[0].start, last[0].id) if last else None
        exact = bool(not capped and (not sound or candidates == len(hits)))
        return {"hits": hits, "total": total, "total_capped": capped, "total_exact": exact,
                "total_is_estimate": not exact, "next": nxt, "next_cursor": nxt}


def _after(c: search_cursor.Cursor) -> Any:
    """Rows after the cursor in the search order (started_at DESC NULLS LAST,
    created_at DESC, call_id, start, segment id)."""
    rest = or_(Segment.call_id > c.call_id,
               and_(Segment.call_id == c.call_id,
                    or_(Segment.start > c.start,
                        and_(Segment.start == c.start, Segment.id > c.segment_id))))
    same_call_time = or_(Call.created_at < c.created_at,
                         and_(Call.created_at == c.created_at, rest))
    if c.started_at is None:
        return and_(Call.started_at.is_(None), same_call_time)
    return or_(Call.started_at < c.started_at, Call.started_at.is_(None),
               and_(Call.started_at == c.started_at, same_call_time))


READING_MIN_MORAE = 3  # 「役」 (ヤク) would find every 約, 訳 and 薬
READING_NO_FUZZY = 10**6  # search matches readings exactly (no tolerance)


def _query_reading(query: str) -> str | None:
    """The query's reading as the index stores readings, or None when it is not
    Japanese or too short to search by sound."""
    if not has_japanese(query):
        return None
    m = readings.phrase_morae(query)
    return "".join(m) if len(m) >= READING_MIN_MORAE else None
