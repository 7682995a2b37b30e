"""Synthetic calls for tests and benchmarks of the reports: a call row (metadata, no
audio: ``source`` = "synthetic", no blob, no data key) with the given analysis stored
as the pipeline stores it (analysis rows + report figures)."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from rokuon.reports import figures
from rokuon.store.models import AnalysisResult, Call, CallStatus, Segment, Transcript, new_id
from rokuon.text.normalize import normalize

SOURCE = "synthetic"


def call_row(*, started_at: datetime, duration_s: float, agent: str | None = None,
             team: str | None = None, queue: str | None = None,
             call_id: str | None = None) -> dict[str, Any]:
    cid = call_id or new_id()
    meta: dict[str, Any] = {"synthetic": True}
    if team is not None:
        meta["team"] = team
    return {"id": cid, "content_sha256": hashlib.sha256(cid.encode()).hexdigest(),
            "status": CallStatus.INDEXED, "started_at": started_at,
            "duration_s": float(duration_s), "direction": "inbound", "agent": agent,
            "queue": queue, "purposes": ["quality"], "extra_metadata": meta,
            "source": SOURCE, "container": "none", "codec": "none", "sample_rate": 8000,
            "channels": 2, "blob_key": f"{SOURCE}/{cid}", "wrapped_key": None,
            "blob_size": 0}


def add_call(session: Session, *, started_at: datetime, duration_s: float,
             analysis: dict[str, Any] | None = None, agent: str | None = None,
             team: str | None = None, queue: str | None = None) -> str:
    """One call; ``analysis`` (analyzer → payload, as in the call document) is stored
    like the analyze step stores it; None = a call not analysed yet."""
    row = call_row(started_at=started_at, duration_s=duration_s, agent=agent, team=team,
                   queue=queue)
    qa = (analysis or {}).get("qa")
    session.add(Call(**row, qa_score=qa.get("score") if isinstance(qa, dict) else None))
    session.flush()
    if analysis is not None:
        for name, payload in analysis.items():
            session.add(AnalysisResult(call_id=row["id"], analyzer=name, version=1,
                                       payload=payload))
        figures.store(session, row["id"], analysis)
    return str(row["id"])


def add_transcript(session: Session, call_id: str,
                   utterances: list[tuple[str, str]]) -> None:
    """A current transcript of (speaker, text) utterances, 3 s each, as the pipeline
    stores it (no word timings)."""
    tr = Transcript(call_id=call_id, version=1, is_current=True, engine=SOURCE,
                    model=SOURCE, language="ja")
    session.add(tr)
    session.flush()
    for i, (speaker, text) in enumerate(utterances):
        session.add(Segment(transcript_id=tr.id, call_id=call_id, idx=i, speaker=speaker,
                            channel=None, start=3.0 * i, end=3.0 * i + 2.5, text=text,
                            norm_text=normalize(text), confidence=1.0, words=[]))


def analysis(*, agent_talk_s: float = 60.0, customer_talk_s: float = 40.0,
             silence_s: float = 10.0, hold_s: float = 0.0, overlap_s: float = 1.0,
             interruptions: int = 0, fillers: int = 0, qa_score: float | None = 80.0,
             qa_passed: bool | None = True, complaint: bool = False, churn: bool = False,
             sentiment: str = "neutral", announced: bool = True,
             keywords: list[tuple[str, str]] | None = None,
             competitors: list[str] | None = None) -> dict[str, Any]:
    """An analysis in the shapes the analyzers write (only what the reports read)."""
    out: dict[str, Any] = {
        "metrics": {"agent_talk_s": agent_talk_s, "customer_talk_s": customer_talk_s,
                    "overlap_s": overlap_s, "silence_s": silence_s,
                    "interruptions": interruptions,
                    "hold": {"total_s": hold_s, "longest_s": hold_s, "stretches": []}},
        "fillers": {"agent": {"count": fillers, "items": {}, "hits": []}},
        "keywords": [{"list": lst, "word": w, "speaker": "agent", "start": 0.0, "end": 0.5}
                     for lst, w in keywords or []],
        "sentiment": {"customer": {"score": -0.5 if sentiment == "negative" else 0.0,
                                   "label": sentiment}},
        "consent": {"announced": announced},
        "complaint": {"detected": complaint, "score": 0.8 if complaint else 0.0,
                      "evidence": []},
        "churn": {"detected": churn, "score": 0.7 if churn else 0.0,
                  "evidence": [{"cue": "解約したい", "kind": "churn"}] if churn else []},
        "voc": {"tags": [{"tag": "competitor", "label": c} for c in competitors or []]},
        "qa": {"score": qa_score, "passed": qa_passed, "scorecard": "default_ja"},
    }
    return out


NG = ("できません", "わかりません", "無理です", "だから")
GOOD = ("かしこまりました", "申し訳ございません", "ありがとうございます")


def random_analysis(rng: random.Random) -> dict[str, Any]:
    """A plausible analysis for benchmarks."""
    qa = round(rng.uniform(30, 100), 1)
    words = [("ng", rng.choice(NG)) for _ in range(rng.choice((0, 0, 0, 1, 2)))] + \
        [("good", rng.choice(GOOD)) for _ in range(rng.randint(0, 3))]
    return analysis(agent_talk_s=round(rng.uniform(20, 400), 1),
                    customer_talk_s=round(rng.uniform(20, 300), 1),
                    silence_s=round(rng.uniform(0, 60), 1),
                    hold_s=rng.choice((0.0, 0.0, round(rng.uniform(8, 90), 1))),
                    overlap_s=round(rng.uniform(0, 8), 2), interruptions=rng.randint(0, 4),
                    fillers=rng.randint(0, 15), qa_score=qa, qa_passed=qa >= 70,
                    complaint=rng.random() < 0.08, churn=rng.random() < 0.05,
                    sentiment=rng.choices(("negative", "neutral", "positive"),
                                          (0.15, 0.6, 0.25))[0],
                    announced=rng.random() < 0.93, keywords=words,
                    competitors=["他社"] if rng.random() < 0.04 else [])
