"""Calls with known analysis, stored through the app's own storage layer, in two
teams and two weeks (Asia/Tokyo): the current period 2025-03-10 – 03-16 and the one
before it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from rokuon.reports.synthetic import add_call, analysis

JST = ZoneInfo("Asia/Tokyo")
SINCE, UNTIL = "2025-03-10", "2025-03-16"


def jst(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=JST)


@pytest.fixture
def seeded(rt):  # type: ignore[no-untyped-def]
    """ids by name; sato (team A, queue q1) and kato (team B, queue q2)."""
    a, b = {"agent": "sato", "team": "A", "queue": "q1"}, \
        {"agent": "kato", "team": "B", "queue": "q2"}
    ids: dict[str, str] = {}
    with rt.db.session() as s:
        ids["c1"] = add_call(s, started_at=jst("2025-03-10T10:00"), duration_s=100, **a,
                             analysis=analysis(agent_talk_s=60, customer_talk_s=40,
                                               silence_s=10, overlap_s=1, interruptions=2,
                                               fillers=3, qa_score=80, qa_passed=True,
                                               hold_s=20,
                                               keywords=[("ng", "できません"),
                                                         ("ng", "できません"),
                                                         ("good", "かしこまりました")]))
        # 23:30 in Tokyo is 14:30 UTC: still the 16th, inside the period
        ids["c2"] = add_call(s, started_at=jst("2025-03-16T23:30"), duration_s=200, **a,
                             analysis=analysis(agent_talk_s=30, customer_talk_s=70,
                                               silence_s=20, overlap_s=3, interruptions=0,
                                               fillers=1, qa_score=60, qa_passed=False,
                                               complaint=True, sentiment="negative",
                                               announced=False, churn=True,
                                               keywords=[("ng", "できません")],
                                               competitors=["他社"]))
        ids["c3"] = add_call(s, started_at=jst("2025-03-12T09:00"), duration_s=300, **b,
                             analysis=analysis(agent_talk_s=50, customer_talk_s=50,
                                               silence_s=30, overlap_s=2, interruptions=1,
                                               fillers=0, qa_score=90, qa_passed=True,
                                               keywords=[("good", "かしこまりました")]))
        ids["c4"] = add_call(s, started_at=jst("2025-03-13T15:00"), duration_s=60, **b)
        # the previous period (03-03 – 03-09), its last minute included
        ids["c5"] = add_call(s, started_at=jst("2025-03-05T11:00"), duration_s=120, **a,
                             analysis=analysis(qa_score=70, qa_passed=True,
                                               keywords=[("ng", "できません"),
                                                         ("ng", "無理です")]))
        ids["c7"] = add_call(s, started_at=jst("2025-03-09T23:59"), duration_s=80, **b,
                             analysis=analysis(qa_score=50, qa_passed=False))
        # outside both: 00:10 on the 17th in Tokyo (15:10 UTC on the 16th)
        ids["c6"] = add_call(s, started_at=jst("2025-03-17T00:10"), duration_s=999, **a,
                             analysis=analysis())
        ids["c8"] = add_call(s, started_at=jst("2025-03-02T12:00"), duration_s=999, **a,
                             analysis=analysis())
    return rt, ids
