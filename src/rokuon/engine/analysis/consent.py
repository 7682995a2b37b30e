"""Recording announcement and consent: did the agent announce the recording (and its
purpose), when, was explicit consent asked, and what did the customer answer —
yes / no / refused (a request to stop recording, at any time) / not_answered /
not_asked. Phrase lists: defaults/consent.yaml."""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.context import CallInput, finding
from rokuon.engine.analysis.patterns import find_all, find_fuzzy
from rokuon.engine.types import Segment

VERSION = 1


def _first(inp: CallInput, speaker: str, phrases: list[str], start: int = 0,
           after_s: float = -1.0, before_s: float = float("inf")
           ) -> tuple[int, Segment, tuple[str, int, int]] | None:
    """The agent's first utterance with one of the phrases (matched by reading too, so a
    misheard announcement still counts)."""
    for idx in range(start, len(inp.segments)):
        seg = inp.segments[idx]
        if seg.speaker != speaker or seg.start < after_s or seg.start > before_s:
            continue
        hits = find_fuzzy(seg.text, phrases)
        if hits:
            return idx, seg, hits[0]
    return None


def _answer(text: str, c: dict[str, Any]) -> tuple[str, tuple[str, int, int]] | None:
    for label, key in (("refused", "refuse"), ("no", "answer_no"), ("yes", "answer_yes")):
        hits = find_all(text, list(c.get(key, [])))
        if hits:
            return label, hits[0]
    return None


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("consent", {})
    evidence: list[dict[str, Any]] = []
    flags: list[str] = []
    ann = _first(inp, "agent", list(c.get("announcement", [])))
    announced_at = None
    purpose = False
    answer = "not_asked"
    if ann is not None:
        idx, seg, hit = ann
        announced_at = round(seg.start, 2)
        evidence.append(finding(idx, seg, seg.start, seg.end, kind="announcement",
                                phrase=hit[0]))
        near = [i for i in range(max(0, idx - 1), min(len(inp.segments), idx + 2))
                if inp.segments[i].speaker == "agent"]
        purpose = any(find_fuzzy(inp.segments[i].text, list(c.get("purpose", [])))
                      for i in near)
        q = _first(inp, "agent", list(c.get("question", [])), start=idx,
                   before_s=seg.end + float(c.get("question_window_s", 12)))
        if q is not None:
            qidx, qseg, _ = q
            evidence.append(finding(qidx, qseg, qseg.start, qseg.end, kind="consent_question"))
            answer = "not_answered"
            window_end = qseg.end + float(c.get("answer_window_s", 15))
            for i in range(len(inp.segments)):
                cseg = inp.segments[i]
                if cseg.speaker == "agent" or cseg.start < qseg.start + 0.5 or \
                        cseg.start > window_end:
                    continue
                got = _answer(cseg.text, c)
                if got is not None:
                    answer = got[0]
                    evidence.append(finding(i, cseg, cseg.start, cseg.end,
                                            kind=f"consent_{answer}", phrase=got[1][0]))
                    break
    refused = answer == "refused"
    if not refused:
        for i, seg in enumerate(inp.segments):
            if seg.speaker != "agent" and find_all(seg.text, list(c.get("refuse", []))):
                refused = True
                evidence.append(finding(i, seg, seg.start, seg.end, kind="consent_refused"))
                break
    if ann is None:
        flags.append("missing_announcement")
    else:
        if announced_at is not None and announced_at > float(c.get("announce_within_s", 30)):
            flags.append("late_announcement")
        if not purpose:
            flags.append("purpose_not_stated")
    if refused:
        flags.append("recording_refused")
    elif answer == "no":
        flags.append("consent_denied")
    explicit = {"yes": True, "no": False, "refused": False}.get(answer)
    return {"announced": ann is not None, "announced_at": announced_at,
            "purpose_stated": purpose, "explicit_consent": explicit, "answer": answer,
            "refused": refused, "flags": flags, "evidence": evidence}
