"""A call's summary: the few sentences that say most about the call (TextRank over
Sudachi content words) and minutes filled by rules — 用件 (what the customer wanted),
対応 (what the agent did), 次のアクション (what was promised next) and 約束した期日 (the
date promised, as said: 明日, 来週の月曜日, 3営業日以内 …).

Everything in it is masked first: the personal data the ``pii`` analyzer found, and
every digit of the summary sentences (a card number the detector missed must not reach
a CRM or an export through the summary). The due date is read before the digit mask
and keeps only the date words. Deterministic: the same transcript gives the same
summary."""

from __future__ import annotations

import math
import re
from typing import Any

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.pii.masking import mask_segments
from rokuon.engine.types import Segment
from rokuon.text.japanese import tokens

VERSION = 1
MAX_SENTENCES = 3
MIN_CHARS = 8  # shorter sentences (はい、そうです) say nothing about the call
ROUTINE = re.compile(
    r"お電話ありがとうございま|お待たせいたしま|少々お待ち|失礼いたしま|失礼しま|"
    r"よろしいでしょうか|録音させていただ|お名前をお伺い|ご本人様|ありがとうございました|"
    r"お世話になっております|もしもし|申し訳ございません$|録音しております|"
    r"^(はい|ええ|えーと|あのー)?[、,\s]*(はい[、,\s]*)?(大丈夫|構いません|問題ありません|結構)です|"
    r"^.{0,16}の.{1,8}でございます。?$|^.{1,12}と申します。?$")  # names, consent
ACTION = re.compile(
    r"(手続き|変更|解約|返金|交換|キャンセル|手配|送付|発送|ご案内|承り|受け付け|登録|"
    r"停止|再設定|修理)(いた|し|さ|を|が|は|の)")
NEXT = re.compile(r"折り返し|ご連絡(いた|さ|し)|お送り(いた|し)|送付いたします|お届け|"
                  r"手配いたします|お電話(いた|さ|し)ます|ご確認ください|お待ちください|"
                  r"までに|以内に")
_N = r"[0-9０-９一二三四五六七八九十]+"
DUE = re.compile(
    rf"本日中|今日中|明日|明後日|あさって|今週中|来週中|月末まで|来月{_N}日|来月中|来月末|"
    rf"来週の?[月火水木金土日]曜日?|来週|{_N}営業日以内|{_N}日以内|{_N}月{_N}日|"
    rf"{_N}日(?:まで|中)")
DIGIT = re.compile(r"[0-9０-９]")
CONTENT_POS = ("名詞", "動詞", "形容詞")


def _sentences(segments: list[Segment]) -> list[tuple[int, Segment, str]]:
    out = []
    for i, seg in enumerate(segments):
        for part in re.split(r"(?<=[。？！?!])", seg.text):
            part = part.strip()
            if len(part) >= MIN_CHARS:
                out.append((i, seg, part))
    return out


def _words(text: str) -> set[str]:
    out = set()
    for t in tokens(text):
        if t.pos[0] in CONTENT_POS and t.pos[1] not in ("数詞", "代名詞", "非自立可能"):
            out.add(t.normal or t.surface)
    return out


def _textrank(words: list[set[str]], iterations: int = 40, d: float = 0.85) -> list[float]:
    n = len(words)
    w = [[0.0] * n for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            common = len(words[a] & words[b])
            if common and len(words[a]) > 1 and len(words[b]) > 1:
                sim = common / (math.log(len(words[a])) + math.log(len(words[b])))
                w[a][b] = w[b][a] = sim
    out_sum = [sum(row) for row in w]
    score = [1.0] * n
    for _ in range(iterations):
        score = [(1 - d) + d * sum(w[b][a] / out_sum[b] * score[b]
                                   for b in range(n) if w[b][a] and out_sum[b])
                 for a in range(n)]
    return score


def _masked(segments: list[Segment], pii: Any) -> list[Segment]:
    findings = pii if isinstance(pii, list) else []
    return mask_segments(segments, findings, {str(f.get("type")) for f in findings})


def _line(seg: Segment, text: str) -> dict[str, Any]:
    return {"speaker": seg.speaker, "start": round(seg.start, 2),
            "text": DIGIT.sub("＊", text)}


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    segments = _masked(inp.segments, prior.get("pii"))
    sentences = [s for s in _sentences(segments) if not ROUTINE.search(s[2])]
    if not sentences:
        return {"text": "", "sentences": [], "minutes": _minutes([], prior),
                "method": "textrank"}
    words = [_words(text) for _, _, text in sentences]
    score = _textrank(words)
    best = sorted(range(len(sentences)), key=lambda i: (-score[i], i))[:MAX_SENTENCES]
    chosen = [_line(sentences[i][1], sentences[i][2]) for i in sorted(best)]
    return {"text": "".join(c["text"] for c in chosen), "sentences": chosen,
            "minutes": _minutes(sentences, prior), "method": "textrank"}


def _minutes(sentences: list[tuple[int, Segment, str]], prior: dict[str, Any]
             ) -> dict[str, Any]:
    customer = [(seg, t) for _, seg, t in sentences if seg.speaker != "agent"]
    agent = [(seg, t) for _, seg, t in sentences if seg.speaker == "agent"]
    requests = [v for v in ((prior.get("voc") or {}).get("tags") or [])
                if isinstance(v, dict) and v.get("tag") == "request"]
    purpose = None
    if requests:
        purpose = DIGIT.sub("＊", str(requests[0].get("label") or "")) or None
    elif customer:
        purpose = _line(*customer[0])["text"]
    actions = [_line(seg, t)["text"] for seg, t in agent if ACTION.search(t)][:2]
    nexts = [(seg, t) for seg, t in agent + customer if NEXT.search(t)]
    nexts.sort(key=lambda st: st[0].start)
    due = None
    for _, t in nexts or agent:
        m = DUE.search(t)
        if m:
            due = m.group(0)
            break
    return {"purpose": purpose, "actions": actions,
            "next_actions": [_line(seg, t)["text"] for seg, t in nexts][-2:], "due": due}
