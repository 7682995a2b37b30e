"""The summary analyzer: the sentences that carry the call, routine phrases left out,
personal data and every digit masked, minutes (用件, 対応, 次のアクション, 期日) by rules,
the same summary for the same transcript, and nothing invented for an empty call."""

from __future__ import annotations

from rokuon.engine.analysis import run_all
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.types import Segment

CALL = [
    ("agent", "お電話ありがとうございます。山田商事の佐藤でございます。"),
    ("agent", "品質向上のため、この通話を録音させていただきます。よろしいでしょうか。"),
    ("customer", "はい、大丈夫です。"),
    ("customer", "田中一郎と申します。注文した商品がまだ届かないんです。"),
    ("customer", "カード番号は4980123456789012で払いました。"),
    ("agent", "大変申し訳ございません。配送状況を確認いたします。"),
    ("agent", "商品の再発送を手配いたしました。明日までにお届けいたします。"),
    ("customer", "わかりました。届かなかったらまた電話します。"),
    ("agent", "お電話ありがとうございました。"),
]


def _summary(lines=CALL):  # type: ignore[no-untyped-def]
    segs = [Segment(sp, 3.0 * i, 3.0 * i + 2.5, t) for i, (sp, t) in enumerate(lines)]
    return run_all(CallInput(segments=segs, duration_s=3.0 * len(lines)))["summary"][1]


def test_the_sentences_that_carry_the_call() -> None:
    s = _summary()
    assert 1 <= len(s["sentences"]) <= 3 and s["method"] == "textrank"
    text = s["text"]
    assert "届" in text  # what the call is about
    assert "お電話ありがとうございます" not in text and "録音させていただきます" not in text
    assert [x["start"] for x in s["sentences"]] == sorted(x["start"] for x in s["sentences"])
    assert s == _summary()  # deterministic


def test_personal_data_and_digits_never_reach_the_summary() -> None:
    s = _summary()
    m = s["minutes"]
    everything = " ".join([s["text"], *(x["text"] for x in s["sentences"]),
                           str(m["purpose"]), *m["actions"], *m["next_actions"]])
    assert "届" in everything and "田中" not in everything and "一郎" not in everything
    assert not any(d in everything for d in "0123456789")


def test_minutes() -> None:
    m = _summary()["minutes"]
    assert m["purpose"] and "届かない" in m["purpose"]
    assert any("手配" in a for a in m["actions"])
    assert any("お届けいたします" in n for n in m["next_actions"])
    assert m["due"] == "明日"


def test_an_empty_or_routine_call_says_nothing() -> None:
    assert _summary([])["text"] == ""
    s = _summary([("agent", "お電話ありがとうございます。"), ("customer", "はい。")])
    assert (s["text"], s["minutes"]["purpose"], s["minutes"]["due"]) == ("", None, None)
