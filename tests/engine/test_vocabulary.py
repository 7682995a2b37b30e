"""Domain vocabulary for the recogniser: file loading, errors, the hotword budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from rokuon.engine.asr import vocabulary
from rokuon.engine.asr.vocabulary import VocabularyError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "vocabulary.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_terms_are_read_in_order(tmp_path: Path) -> None:
    p = write(tmp_path, "vocabulary:\n  terms: [山田商事, 光回線, 解約, 2026]\n")
    assert vocabulary.load_file(p) == ["山田商事", "光回線", "解約", "2026"]


def test_empty_file_and_empty_section_are_no_terms(tmp_path: Path) -> None:
    assert vocabulary.load_file(write(tmp_path, "")) == []
    assert vocabulary.load_file(write(tmp_path, "vocabulary: {}\n")) == []


@pytest.mark.parametrize(("text", "message"), [
    ("vocabulary:\n  terms: [解約, 録音\n", r"vocabulary\.yaml: YAML syntax error at line \d"),
    ("terms: [解約]\n", "expected 'vocabulary: terms:"),
    ("vocabulary:\n  terms: 解約\n", "expected 'vocabulary: terms:"),
    ("vocabulary:\n  terms: [[a, b]]\n", "term 1 is not a word"),
    ("vocabulary:\n  terms: [" + "あ" * 41 + "]\n", "term 1 is longer than 40"),
])
def test_bad_files_get_one_line_naming_the_file(tmp_path: Path, text: str,
                                                message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(VocabularyError, match=message) as exc:
        vocabulary.load_file(p)
    assert str(p) in str(exc.value) and "\n" not in str(exc.value)


def test_thousands_of_entries_are_refused(tmp_path: Path) -> None:
    terms = ", ".join(f"語{i}" for i in range(3000))
    with pytest.raises(VocabularyError, match="3000 terms, at most 500"):
        vocabulary.load_file(write(tmp_path, f"vocabulary:\n  terms: [{terms}]\n"))


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="cannot read it"):
        vocabulary.load_file(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(VocabularyError, match="not UTF-8"):
        vocabulary.load_file(p)


def test_hotwords_keep_priority_order_unique_and_fit_the_budget() -> None:
    words = ["山田商事", "録音", "山田商事", " 解約 ", "ＡＢＣ", "abc", "x" * 30, "他社"]
    text = vocabulary.hotwords(words, max_chars=20)
    assert text == "山田商事、録音、解約、ＡＢＣ、他社"  # abc = ＡＢＣ; the long one does not fit
    assert len(vocabulary.hotwords(words, max_chars=12) or "") <= 12
    assert vocabulary.hotwords([]) is None
    assert vocabulary.hotwords(["\x00\x07"]) is None  # control characters are not words
