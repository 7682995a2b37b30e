"""Character error rate over normalised text."""

import pytest

from rokuon.engine.asr.metrics import cer, edit_distance, normalise_for_cer


def test_normalisation() -> None:
    assert normalise_for_cer("お電話、ありがとう ございます。") == "お電話ありがとうございます"
    assert normalise_for_cer("ＡＢＣ１２３！") == "abc123"  # NFKC, case folded


def test_edit_distance() -> None:
    assert edit_distance("", "") == 0
    assert edit_distance("かいやく", "かいやく") == 0
    assert edit_distance("かいやく", "かやく") == 1
    assert edit_distance("abc", "xyz") == 3


def test_cer() -> None:
    assert cer("はい、大丈夫です。", "はい大丈夫です") == 0.0
    assert cer("はい大丈夫です", "配大上部です") == pytest.approx(4 / 7)
    assert cer("", "") == 0.0 and cer("", "あ") == 1.0
    assert cer("あいう", "") == 1.0
