"""Recording announcement and consent: did the agent announce the recording (and its
purpose), when, was explicit consent asked, and what did the customer answer —
yes / no / refused (a request to stop recording, at any time) / not_answered /
not_asked. Phrase lists: defaults/consent.yaml."""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.context import CallInput, finding
from rokuon.engine.analysis.patterns import MatchOptions, PhraseHit, match, options
from rokuon.engine.types import Segment

VERSION = 2  # 2: phrases also match by reading; evidence says how


def _first(inp: CallInput, speaker: str, phrases: list[str], opts: MatchOptions,
           start: int = 0, before_s: float = float("inf")
           ) -> tuple[int, Segment, PhraseHit] | None:
    """The agent's first utterance with one of the phrases (matched by reading too, so a
    misheard announcement still counts)."""
    for idx in range(start, len(inp.segments)):
        seg = inp.segments[idx]
        if seg.speaker != speaker or seg.start > before_s:
            continue
        hits = match(seg.text, phrases, opts)
        if hits:
            return idx, seg, _best(hits)
    return None


def _best(hits: list[PhraseHit]) -> PhraseHit:
    """A text match before a reading match, else the first."""
    return next((h for h in hits if h.matched == "text"), hits[0])


def _answer(text: str, c: dict[str, Any], opts: MatchOptions
            ) -> tuple[str, PhraseHit] | None:
    for label, key in (("refused", "refuse"), ("no", "answer_no"), ("yes", "answer_yes")):
        hits = match(text, list(c.get(key, [])), opts)
        if hits:
            return label, _best(hits)
    return None


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("consent", {})
    opts = options(cfg, c)
    evidence: list[dict[str, Any]] = []
    flags: list[str] = []
    ann = _first(inp, "agent", list(c.get("announcement", [])), opts)
    announced_at = None
    purpose = False
    answer = "not_asked"
    if ann is not None:
        idx, seg, hit = ann
        announced_at = round(seg.start, 2)
        evidence.append(finding(idx, seg, seg.start, seg.end, kind="announcement",
                                phrase=hit.phrase, matched=hit.matched,
                                chars=[hit.start, hit.end]))
        near = [i for i in range(max(0, idx - 1), min(len(inp.segments), idx + 2))
                if inp.segments[i].speaker == "agent"]
        purpose = any(match(inp.segments[i].text, list(c.get("purpose", [])), opts)
                      for i in near)
        q = _first(inp, "agent", list(c.get("question", [])), opts, start=idx,
                   before_s=seg.end + float(c.get("question_window_s", 12)))
        if q is not None:
            qidx, qseg, qhit = q
            evidence.append(finding(qidx, qseg, qseg.start, qseg.end, kind="consent_question",
                                    phrase=qhit.phrase, matched=qhit.matched))
            answer = "not_answered"
            window_end = qseg.end + float(c.get("answer_window_s", 15))
            for i in range(len(inp.segments)):
                cseg = inp.segments[i]
                if cseg.speaker == "agent" or cseg.start < qseg.start + 0.5 or \
                        cseg.start > window_end:
                    continue
                got = _answer(cseg.text, c, opts)
                if got is not None:
                    answer = got[0]
                    evidence.append(finding(i, cseg, cseg.start, cseg.end,
                                            kind=f"consent_{answer}", phrase=got[1].phrase,
                                            matched=got[1].matched))
                    break
    refused = answer == "refused"
    if not refused:
        for i, seg in enumerate(inp.segments):
            hits = [] if seg.speaker == "agent" else match(seg.text,
                                                           list(c.get("refuse", [])), opts)
            if hits:
                refused = True
                evidence.append(finding(i, seg, seg.start, seg.end, kind="consent_refused",
                                        phrase=_best(hits).phrase,
                                        matched=_best(hits).matched))
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
