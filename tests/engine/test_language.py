"""A second look at doubtful or skipped stretches: another language is transcribed in it
and marked; nothing intelligible is marked, not invented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rokuon.engine.asr import language
from rokuon.engine.asr.hallucination import RawSegment, RawWord
from rokuon.engine.types import ENGINE_SAMPLE_RATE

SR = ENGINE_SAMPLE_RATE


class FakeModel:
    """Language identification answers by where the clip starts in the channel."""

    def __init__(self, samples: np.ndarray, answers: dict[int, list[tuple[str, float]]]):
        self.samples, self.answers, self.asked = samples, answers, []

    def detect_language(self, clip: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        at = int(np.flatnonzero(self.samples == clip[0])[0]) // SR  # each second is unique
        self.asked.append(at)
        probs = self.answers.get(at, [("ja", 0.9), ("en", 0.05)])
        return probs[0][0], probs[0][1], probs


def channel(seconds: int) -> np.ndarray:
    return np.repeat(np.arange(1, seconds + 1, dtype=np.float32), SR)  # value = second


def seg(start: float, end: float, text: str, logprob: float, words: bool = True
        ) -> RawSegment:
    ws = [RawWord(text, start, end, 0.5)] if words else []
    return RawSegment(start=start, end=end, text=text, avg_logprob=logprob, words=ws)


def english(clip: np.ndarray, lang: str) -> list[RawSegment]:
    assert lang == "en"
    n = len(clip) / SR
    return [RawSegment(0.0, n, " I was charged twice.", -0.3,
                       words=[RawWord(" I", 0.0, 0.3, 0.9), RawWord(" twice.", 0.4, n, 0.9)])]


def test_confident_segments_are_not_looked_at_again() -> None:
    x = channel(10)
    model = FakeModel(x, {})
    out = language.check(model, x, [seg(1, 3, "はい", -0.2)], "ja", english)
    assert model.asked == [] and out[0].language is None


def test_a_doubtful_segment_in_english_is_decoded_in_english_and_marked() -> None:
    x = channel(10)
    model = FakeModel(x, {2: [("en", 0.85), ("ja", 0.1)]})
    out = language.check(model, x, [seg(2, 5, "愛はチャージドツワイス", -1.1)], "ja", english)
    [v] = out
    assert v.language == "en" and v.segment.text == "I was charged twice."
    assert v.segment.words[0].start == pytest.approx(2.0)  # times back in the channel


def test_doubtful_japanese_is_kept_and_garbage_is_marked_not_invented() -> None:
    x = channel(10)
    model = FakeModel(x, {2: [("ja", 0.5), ("en", 0.3)], 6: [("ja", 0.4), ("en", 0.35)]})
    out = language.check(model, x, [seg(2, 4, "ちょっと聞こえにくい", -0.9),
                                    seg(6, 8, "ごめん訳", -2.0)], "ja", english)
    assert out[0].language is None and out[0].segment.text == "ちょっと聞こえにくい"
    assert out[1].language == "und" and out[1].segment.text == language.UNINTELLIGIBLE
    assert out[1].segment.words == []


def test_a_skipped_voiced_stretch_in_english_comes_back() -> None:
    """Whisper wrote the Japanese before and after as one segment and nothing for the
    English in between: the uncovered voiced part is identified and transcribed."""
    x = channel(12)
    whole = RawSegment(1.0, 11.0, "はい。すみません", -0.3,
                       words=[RawWord("はい。", 1.0, 1.8, 0.9),
                              RawWord("すみません", 9.0, 11.0, 0.9)])
    assert language.skipped([whole], [(1.0, 11.0)]) == [(2.0, 8.8)]
    model = FakeModel(x, {2: [("en", 0.8), ("ja", 0.05)]})
    [v] = language.recover(model, x, [whole], [(1.0, 11.0)], "ja", english)
    assert v.language == "en" and v.segment.start == pytest.approx(2.0)
    # an improbable word stretched over the English covers nothing, and goes
    guess = RawSegment(1.0, 11.0, "はい。です", -0.5,
                       words=[RawWord("はい。", 1.0, 1.8, 0.9), RawWord("です", 2.0, 8.8, 0.02)])
    assert language.skipped([guess], [(1.0, 11.0)]) == [(2.0, 11.0)]
    [left] = language.without_guesses([language.Verdict(guess, None)], [(2.0, 8.8)])
    assert left.segment.text == "はい。" and left.segment.end == 1.8
    model = FakeModel(x, {2: [("ja", 0.6), ("en", 0.2)]})  # Japanese: left as Whisper chose
    assert language.recover(model, x, [whole], [(1.0, 11.0)], "ja", english) == []

    def loop(clip: np.ndarray, lang: str) -> list[RawSegment]:
        return [RawSegment(0.0, 1.0, " I'm sorry, I'm sorry, I'm sorry", -0.1,
                           no_speech_prob=0.7, compression_ratio=23.6)]

    model = FakeModel(x, {2: [("en", 0.8), ("ja", 0.05)]})  # breath read as a loop: not kept
    assert language.recover(model, x, [whole], [(1.0, 11.0)], "ja", loop) == []


@pytest.mark.slow
def test_english_sentences_in_a_japanese_call_are_english_and_marked(models_dir: Path
                                                                     ) -> None:
    from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine
    from rokuon.engine.audio.decode import decode
    from tests.conftest import CALLS

    d = CALLS / "37_english_stretch"
    if not d.exists():
        pytest.skip("corpus call 37 missing")
    with (d / "stereo.wav").open("rb") as fh:
        audio = decode(fh)
    tr = WhisperEngine(AsrOptions(), models_dir).transcribe(audio, ["agent", "customer"])
    english_truth = [(14.19, 17.2), (28.13, 29.34)]  # truth.json, language "en"
    for start, end in english_truth:
        here = [s for s in tr.segments if s.speaker == "customer"
                and s.start < end and s.end > start]
        english = [s for s in here if s.language == "en"]
        covered = sum(min(end, s.end) - max(start, s.start) for s in english)
        assert covered >= 0.5 * (end - start), here  # transcribed as English …
        assert all(s.text.isascii() for s in english)  # … in English words
        japanese = "".join(s.text for s in here if s.language is None)
        assert len(japanese) <= 3, here  # no invented Japanese sentence there
    marked: Any = [s for s in tr.segments if s.language]
    assert all(any(st - 0.5 < s.start < en for st, en in english_truth) for s in marked)
