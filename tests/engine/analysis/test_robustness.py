"""Every analyzer on bad input: no crash, no hang, a result that says what it could not do."""

import json
import time

from rokuon.engine import analysis
from rokuon.engine.analysis.context import CallInput

from .corpus import seg


def run(inp: CallInput) -> dict:
    out = analysis.run_all(inp)
    json.dumps(out, ensure_ascii=False)  # always serialisable for the call document
    return {k: v[1] for k, v in out.items()}


def errors(res: dict) -> dict:
    return {k: v["error"] for k, v in res.items() if isinstance(v, dict) and "error" in v}


def test_empty_call() -> None:
    res = run(CallInput(segments=[], duration_s=0.0))
    assert errors(res) == {}
    assert res["qa"]["score"] is None and res["qa"]["notes"]
    assert res["consent"]["announced"] is False


def test_one_sided_call() -> None:
    res = run(CallInput(segments=[seg("agent", 0, 5, "お電話ありがとうございます。")],
                        duration_s=5))
    assert errors(res) == {}
    assert res["metrics"]["talk_ratio"] is None and res["metrics"]["notes"]


def test_hostile_text_finishes_quickly() -> None:
    nasty = ["a" * 50_000 + "!", "0の" * 20_000, "録音" * 10_000, "\u0000\ud7ff\ufffd" * 5000,
             "えー" * 20_000, "<script>alert(1)</script>" * 1000, "1" * 100_000]
    segs = [seg("customer" if i % 2 else "agent", i * 10.0, i * 10.0 + 9, t)
            for i, t in enumerate(nasty)]
    t0 = time.perf_counter()
    res = run(CallInput(segments=segs, duration_s=80.0))
    assert time.perf_counter() - t0 < 60
    assert errors(res) == {}


def test_three_hour_call_of_many_segments() -> None:
    segs = [seg("agent" if i % 2 == 0 else "customer", i * 5.0, i * 5.0 + 4.0,
                "お電話ありがとうございます。えーと、確認いたします。" if i % 2 == 0
                else "はい、請求書について教えてください。") for i in range(2160)]
    t0 = time.perf_counter()
    res = run(CallInput(segments=segs, duration_s=3 * 3600.0))
    assert time.perf_counter() - t0 < 120
    assert errors(res) == {}
    assert res["metrics"]["agent_talk_s"] == 4320.0
    assert res["fillers"]["agent"]["count"] == 1080
    assert len(res["fillers"]["agent"]["hits"]) <= 500  # results stay bounded


def test_english_call() -> None:
    res = run(CallInput(segments=[seg("agent", 0, 4, "Thank you for calling, this is Kim."),
                                  seg("customer", 4, 8, "Um, I want to cancel my plan.")],
                        duration_s=8, language="en"))
    assert errors(res) == {}
    assert res["fillers"]["customer"]["items"] == {"um": 1}
    assert res["churn"]["detected"]
