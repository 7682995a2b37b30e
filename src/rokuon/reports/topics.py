"""VOC topics across calls: what customers talk about in a period, and how that
changed against the period before.

Each call of the two periods (in the principal's scope) is one document: what the
customer said (or, on a call without roles, everything said). Its terms are Sudachi
content words — common nouns, organisation names and verbal nouns (解約, 請求, 配送) —
never person or place names and never numbers, so a topic's label cannot carry a
customer's personal data. The documents' TF-IDF matrix is factorised by NMF (scikit-
learn, deterministic ``nndsvd`` start: the same calls always give the same topics);
a topic is labelled by its strongest terms and a call belongs to its strongest topic.

The result lists per topic: its number (``topic_id``, 1 = most calls), the terms, calls
in the period (``calls``, their ids in ``call_ids``), in the period before
(``previous``), the change, the share of the period's calls, and up to three
example calls (the period's most typical ones, ids only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.reports.period import Period, ReportError
from rokuon.reports.query import in_current, scoped
from rokuon.store.models import Call, Segment, Transcript, TranscriptTerms

TOPIC_KEYS = ("topic_id", "label", "terms", "calls", "call_ids", "previous", "change",
              "share", "examples")
MAX_TOPICS = 20
MAX_CALLS = 20_000  # the newest calls of the two periods; older ones are left out
MIN_TERM_CHARS = 2
# frequent nouns that say nothing about what the call is about
_STOP = """
こと もの ため よう ところ 方 件 今 今日 本日 時 感じ 場合 確認 お願い 電話 お電話
ありがとう 失礼 少々 ただいま 大丈夫 はい いいえ そう どう 何 なに 様 お客 お客様 さん
担当 こちら そちら あちら どちら これ それ あれ 番号 名前 お名前 わけ 前 後 上 下 中
ほう 辺 程 位 目 点 形 気 的 際 以上 以下 先 内 他 全部 一度 少し 自分 私 僕 うち
"""
STOP_TERMS = frozenset(_STOP.split())


@dataclass
class TopicReport:
    period: Period
    rows: list[dict[str, Any]]  # TOPIC_KEYS
    documents: int  # calls of both periods that had words to go on

    def contract(self) -> dict[str, Any]:
        return {"topics": [{k: r[k] for k in TOPIC_KEYS} for r in self.rows],
                "calls_considered": self.documents}


def terms(text: str) -> list[str]:
    """The content words of ``text`` that can name a topic (normal forms)."""
    from rokuon.text.japanese import tokens

    out = []
    for t in tokens(text):
        pos = t.pos
        if pos[0] != "名詞" or pos[1] in ("数詞", "代名詞"):
            continue
        if pos[1] == "固有名詞" and pos[2] in ("人名", "地名"):
            continue  # personal data never becomes a label
        word = t.normal or t.surface
        if len(word) < MIN_TERM_CHARS or word in STOP_TERMS or word.isdigit():
            continue
        out.append(word)
    return out


TERMS_VERSION = 1  # raise when ``terms`` or the choice of what was said changes


def _said(by_speaker: dict[str, list[str]]) -> str:
    """What the customer said, or on a call without roles everything said."""
    said = by_speaker.get("customer") or [t for ts in by_speaker.values() for t in ts]
    return "。".join(said)


def _fresh_terms(session: Session, transcripts: dict[int, str]) -> dict[int, list[str]]:
    """Terms of transcripts (id → call id) not kept yet: tokenised now and kept."""
    texts: dict[int, dict[str, list[str]]] = {}
    ids = list(transcripts)
    for i in range(0, len(ids), 500):
        for tid, speaker, text in session.execute(
                select(Segment.transcript_id, Segment.speaker, Segment.text)
                .where(Segment.transcript_id.in_(ids[i:i + 500]))
                .order_by(Segment.transcript_id, Segment.idx)).all():
            texts.setdefault(tid, {}).setdefault(speaker or "", []).append(text or "")
    out = {}
    for tid in ids:
        out[tid] = terms(_said(texts.get(tid) or {}))
        session.merge(TranscriptTerms(transcript_id=tid, call_id=transcripts[tid],
                                      version=TERMS_VERSION, terms=out[tid]))
    session.flush()
    return out


def _documents(session: Session, principal: Principal, period: Period
               ) -> list[tuple[str, int, list[str]]]:
    """(call id, 1 if in the period else 0, terms) per call, newest first. A call's
    terms are kept with its current transcript (``transcript_terms``), so a call is
    tokenised once, not on every report."""
    q = (select(Call.id, in_current(period).label("cur"), Transcript.id)
         .join(Transcript, (Transcript.call_id == Call.id) & Transcript.is_current)
         .where(Call.started_at.is_not(None)))
    q = scoped(q, principal, period).order_by(Call.started_at.desc()).limit(MAX_CALLS)
    calls = [(cid, int(cur), tid) for cid, cur, tid in session.execute(q).all()]
    kept: dict[int, list[str]] = {}
    tids = [tid for _, _, tid in calls]
    for i in range(0, len(tids), 500):
        for tid, terms_, version in session.execute(
                select(TranscriptTerms.transcript_id, TranscriptTerms.terms,
                       TranscriptTerms.version)
                .where(TranscriptTerms.transcript_id.in_(tids[i:i + 500]))).all():
            if version == TERMS_VERSION:
                kept[tid] = list(terms_)
    missing = {tid: cid for cid, _, tid in calls if tid not in kept}
    if missing:
        kept.update(_fresh_terms(session, missing))
    return [(cid, cur, kept[tid]) for cid, cur, tid in calls]


MAX_AUTO_TOPICS = 10


def _fit(x: Any, k: int) -> tuple[Any, Any]:
    from sklearn.decomposition import NMF

    model = NMF(n_components=k, init="nndsvd", max_iter=400, random_state=0)
    return model.fit_transform(x), model.components_


def _best_fit(x: Any) -> tuple[Any, Any]:
    """The number of topics (2–10) whose calls are best separated: the highest mean
    silhouette (cosine, on at most 2 000 calls) of the calls' strongest topics. On the
    labelled evaluation set it picks the true number (scripts/evaluate_topics.py)."""
    from sklearn.metrics import silhouette_score

    best: tuple[float, Any, Any] | None = None
    for k in range(2, min(MAX_AUTO_TOPICS, x.shape[0] - 1, x.shape[1]) + 1):
        w, h = _fit(x, k)
        labels = w.argmax(axis=1)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(x, labels, metric="cosine",
                                       sample_size=min(2000, x.shape[0]), random_state=0))
        if best is None or score > best[0]:
            best = (score, w, h)
    return (best[1], best[2]) if best else _fit(x, 1)


def compute(session: Session, principal: Principal, period: Period, *,
            topics: int | None = None, with_members: bool = False) -> TopicReport:
    """``with_members``: each row also lists every call in it (``members``, both
    periods; for the evaluation, not in the contract)."""
    if topics is not None and not 1 <= topics <= MAX_TOPICS:
        raise ReportError(f"topics must be between 1 and {MAX_TOPICS}, not {topics}")
    tokenised = [d for d in _documents(session, principal, period) if d[2]]
    if len(tokenised) < 2:
        return TopicReport(period, [], len(tokenised))
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=lambda words: words, min_df=2 if len(tokenised) >= 10
                          else 1, max_df=0.8 if len(tokenised) >= 10 else 1.0,
                          sublinear_tf=True)
    try:
        x = vec.fit_transform([d[2] for d in tokenised])
    except ValueError:  # every term too rare or too common
        return TopicReport(period, [], len(tokenised))
    vocab = vec.get_feature_names_out()
    if topics is None:
        w, h = _best_fit(x)
    else:
        w, h = _fit(x, min(topics, x.shape[0], x.shape[1]))
    k = h.shape[0]
    current_total = sum(1 for d in tokenised if d[1] == 1)
    rows: list[dict[str, Any]] = []
    for j in range(k):
        top = [str(vocab[i]) for i in h[j].argsort()[::-1][:8] if h[j][i] > 0]
        if not top:
            continue
        members = [i for i in range(len(tokenised))
                   if w[i].max() > 0 and int(w[i].argmax()) == j]
        cur = [i for i in members if tokenised[i][1] == 1]
        prev = len(members) - len(cur)
        examples = [tokenised[i][0] for i in sorted(cur, key=lambda i: -w[i][j])[:3]]
        rows.append({"label": "・".join(top[:3]), "terms": top, "calls": len(cur),
                     "call_ids": [tokenised[i][0] for i in cur],
                     "previous": prev, "change": len(cur) - prev,
                     "share": round(len(cur) / current_total, 3) if current_total else 0.0,
                     "examples": examples,
                     **({"members": [tokenised[i][0] for i in members]}
                        if with_members else {})})
    rows.sort(key=lambda r: (-r["calls"], -r["previous"], r["label"]))
    for n, r in enumerate(rows, 1):
        r["topic_id"] = n
    return TopicReport(period, rows, len(tokenised))


def report(session: Session, principal: Principal, period: Period, *,
           topics: int | None = None) -> TopicReport:
    """``compute``, recorded in the audit log as ``report.topics``."""
    with door.audited(session, principal, "report.topics", topics=topics,
                      **period.as_dict()):
        return compute(session, principal, period, topics=topics)
