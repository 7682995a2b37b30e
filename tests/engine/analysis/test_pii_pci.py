"""PCI: cards, expiry dates and security codes read in many styles, masked by the card
window (question-driven), and the independent leak check that must agree."""

from __future__ import annotations

from typing import Any

import pytest

from rokuon.engine.analysis import pii
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.pii.leaks import digits_in, leak_spans, luhn, scan
from rokuon.engine.analysis.pii.pci import answer_turns
from rokuon.engine.types import Segment

A, C = "agent", "customer"


@pytest.fixture(scope="module")
def cfg() -> dict[str, Any]:
    return load_config()


@pytest.fixture(autouse=True)
def rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pii.ner, "_ner_state", {"error": "OSError: no model"})


def call(*lines: tuple[str, str]) -> list[Segment]:
    return [Segment(sp, 4.0 * i, 4.0 * i + 3.5, t) for i, (sp, t) in enumerate(lines)]


def masked(segs: list[Segment], cfg: dict[str, Any]) -> list[str]:
    found = pii.detect(segs, cfg)
    return [s.text for s in pii.mask_segments(segs, found, set(pii.PCI_TYPES))]


CARD_ANSWERS = [
    "4539 2718 6045 3124です。",
    "４５３９－２７１８－６０４５－３１２４です。",
    "四九八〇、五二六〇、一八一五、九〇八七です。",
    "5412の3016の6131の8603です。",
    "ヨンゴーサンキュー、ニーナナイチハチ、ロクゼロヨンゴ、サンイチニーヨンです。",
    "8,23 4,67 8,9 12です。",              # 4980 1234 5678 9012 garbled: no Luhn
    "4号39 27 18 6 04 35 12 4です。",       # a digit heard as a word
    "えーと、4539、あ、2718、6045、3124です。",
]


@pytest.mark.parametrize("answer", CARD_ANSWERS)
def test_card_number_in_any_style_after_the_question(cfg: dict[str, Any], answer: str) -> None:
    segs = call((A, "カード番号をお願いいたします。"), (C, answer))
    out = masked(segs, cfg)
    assert digits_in(out[1]) == [], out[1]  # not one digit the leak check can read
    assert out[1].endswith("です。") and "＊" in out[1]
    assert scan([Segment(s.speaker, s.start, s.end, t) for s, t in zip(segs, out, strict=True)],
                cfg) == []


@pytest.mark.parametrize("lines", [
    [(C, "4539"), (C, "2718、6045"), (C, "3124です。")],            # over three lines
    [(C, "4539、2718"), (A, "はい。"), (C, "6045、3124です。")],      # the agent in between
    [(C, "ちょっと待ってください、カード出します。"), (C, "4539 2718 6045 3124です。")],
])
def test_split_answers_stay_in_the_window(cfg: dict[str, Any],
                                          lines: list[tuple[str, str]]) -> None:
    segs = call((A, "カード番号をお願いします。"), *lines)
    out = masked(segs, cfg)
    assert all(digits_in(t) == [] for t in out), out


@pytest.mark.parametrize("question,answer,kind", [
    ("セキュリティコードをお願いします。", "12 3です。", "card_cvv"),
    ("セキュリティコードをお願いします。", "百二十三です。", "card_cvv"),
    ("セキュリティコードをお願いします。", "いちにさんです。", "card_cvv"),
    ("裏の3桁を教えてください。", "えーと、4、5、6です。", "card_cvv"),
    ("CVVをお願いします。", "７８９です。", "card_cvv"),
    ("有効期限をお願いします。", "08の29です。", "card_expiry"),
    ("有効期限をお願いします。", "2029年の8月までです。", "card_expiry"),
    ("有効期限をお願いします。", "二十八年十二月です。", "card_expiry"),
    ("有効期限をお願いします。", "12/28です。", "card_expiry"),
])
def test_expiry_and_security_code(cfg: dict[str, Any], question: str, answer: str,
                                  kind: str) -> None:
    segs = call((A, question), (C, answer))
    found = [f for f in pii.detect(segs, cfg) if f["segment"] == 1]
    assert {f["type"] for f in found} == {kind}
    out = masked(segs, cfg)
    assert digits_in(out[1]) == [] and out[0] == question  # the question is left as is
    assert [t["segment"] for t in answer_turns(segs, cfg)] == [1]


def test_the_issue_call(cfg: dict[str, Any]) -> None:
    """「有効期限は08の29、セキュリティコードは123です」 heard as 「…12 3です」."""
    segs = call((A, "有効期限とセキュリティコードをお願いします。"),
                (C, "有効期限は08の29、セキュリティコードは12 3です。"))
    assert masked(segs, cfg)[1] == "有効期限は＊＊の＊＊、セキュリティコードは＊＊ ＊です。"
    assert {f["type"] for f in pii.detect(segs, cfg)} == {"card_expiry", "card_cvv"}
    assert set(pii.PCI_TYPES) == {"card_number", "card_expiry", "card_cvv"}


def test_window_closes_at_another_topic_or_when_the_asker_moves_on(cfg: dict[str, Any]
                                                                   ) -> None:
    segs = call((A, "カード番号をお願いします。"), (C, "4539 2718 6045 3124です。"),
                (A, "ありがとうございます。お支払いが完了しました。ほかにご用件はございますか。"),
                (C, "再来週の10日に、2人で伺います。"),
                (A, "お電話番号をお願いします。"), (C, "090の1234の5678です。"))
    found = pii.detect(segs, cfg)
    assert [(f["type"], f["segment"]) for f in found
            if f["type"] in ("card_number", "phone")] == [("card_number", 1), ("phone", 5)]
    out = masked(segs, cfg)
    assert out[3] == segs[3].text and out[5] == segs[5].text
    late = [Segment(A, 0, 3, "セキュリティコードをお願いします。"),
            Segment(C, 40, 42, "3時にまた電話します。")]  # 37 s later: the window is shut
    assert masked(late, cfg)[1] == late[1].text


def test_names_and_words_with_kanji_digits_are_no_card_data(cfg: dict[str, Any]) -> None:
    segs = call((A, "カード番号をお願いします。"),
                (C, "4539 2718 6045 3124です。名義は田中一郎で、一緒にお願いします。"))
    out = masked(segs, cfg)[1]
    assert "田中一郎" in out and "一緒" in out and digits_in(out.split("名義")[0]) == []


def test_no_card_question_no_masking(cfg: dict[str, Any]) -> None:
    segs = call((A, "ご注文番号をお願いします。"), (C, "4539 2718 6045 3124です。"),
                (A, "ポイントの有効期限は来年の三月末日まででございます。"),
                (C, "会員カードの番号は1234です。"))
    assert masked(segs, cfg) == [s.text for s in segs]
    assert answer_turns(segs, cfg) == []
    assert scan(segs, cfg) == []  # the leak check agrees: an order number, not a card


def test_leak_check_reads_every_form_and_never_returns_a_value(cfg: dict[str, Any]) -> None:
    assert luhn("4539271860453124") and not luhn("4539271860453125")
    assert [d for _, _, d in digits_in("百二十三 いちにさん ゼロハチ ２９")] == list("1231230829")
    assert digits_in("十分です。にし") == []  # a lone 十, two hiragana readings
    segs = call((C, "クレジットは4539-2718-6045-3124で"),
                (A, "セキュリティコードをお願いします。"), (C, "いちにさん"),
                (C, "あとは特にないです。"))
    found = scan(segs, cfg)
    assert found == [{"segment": 0, "kind": "luhn"},
                     {"segment": 0, "kind": "after_card_context"},
                     {"segment": 2, "kind": "after_card_context"}]
    spans = leak_spans(segs, cfg)
    assert segs[0].text[slice(*spans[0].chars)] == "4539-2718-6045-3124"
    assert all(segs[lk.segment].start <= lk.start <= lk.end <= segs[lk.segment].end
               for lk in spans)
