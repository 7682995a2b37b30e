"""Words fitted to their own channel's voice activity; segments cut at word edges."""

from __future__ import annotations

import pytest

from rokuon.engine.asr.hallucination import RawSegment, RawWord
from rokuon.engine.asr.transcribe import to_engine
from rokuon.engine.asr.words import cut_segments, fit_span, fit_word, fit_words, refit
from rokuon.engine.types import Segment, Word


def w(text: str, start: float, end: float) -> Word:
    return Word(text, start, end, 0.9)


ACT = [(1.0, 2.0), (2.2, 3.0), (6.0, 7.5)]


def test_stretched_last_word_is_cut_where_the_voice_stops() -> None:
    # Whisper lets the last word of a turn run on through the other party's reply
    assert fit_word(w("す", 2.8, 5.9), ACT) == w("す", 2.8, 3.0)


def test_early_start_inside_the_padding_moves_to_the_onset() -> None:
    assert fit_word(w("お", 0.6, 1.3), ACT) == w("お", 1.0, 1.3)


def test_short_pause_inside_a_word_is_kept_long_pause_keeps_the_larger_piece() -> None:
    assert fit_word(w("ます", 1.8, 2.5), ACT) == w("ます", 1.8, 2.5)  # 0.2 s gap < 0.3
    assert fit_word(w("大", 2.6, 6.2), ACT) == w("大", 2.6, 3.0)  # 0.4 s voiced vs 0.2 s


def test_word_in_silence_snaps_to_the_nearest_voiced_edge_or_stays() -> None:
    assert fit_word(w("は", 3.4, 3.6), ACT) == pytest.approx(w("は", 2.8, 3.0))
    assert fit_word(w("は", 5.2, 5.5), ACT).start == pytest.approx(6.0)
    assert fit_word(w("は", 4.2, 4.4), ACT) == w("は", 4.2, 4.4)  # > 1 s from any voice


def test_no_activity_leaves_words_alone_and_order_is_kept() -> None:
    words = [w("a", 0.0, 1.0), w("b", 1.0, 2.0)]
    assert fit_words(words, None) == words and fit_words(words, []) == words
    fitted = fit_words([w("a", 3.1, 3.3), w("b", 3.35, 3.5)], [(2.0, 3.0)])
    assert [x.start for x in fitted] == sorted(x.start for x in fitted)


def test_segments_split_where_the_fitted_words_leave_a_pause() -> None:
    words = [w("はい", 1.0, 1.9), w("そう", 2.2, 5.9), w("です", 6.0, 7.0)]
    segs = cut_segments(words, "agent", 0, ACT, 0.8)
    assert [(s.start, s.end, s.text) for s in segs] == [(1.0, 3.0, "はいそう"),
                                                        (6.0, 7.0, "です")]
    assert cut_segments(words, "agent", 0, None, 0.8)[0].end == 7.0  # unfitted: one segment


def test_refit_is_idempotent_and_fits_wordless_segments() -> None:
    segs = [Segment("agent", 1.0, 7.0, "はいそうです",
                    words=[w("はい", 1.0, 1.9), w("そう", 2.2, 5.9), w("です", 6.0, 7.0)]),
            Segment("customer", 3.0, 6.0, "ええ")]
    act = {"agent": ACT, "customer": [(3.4, 5.0)]}
    once = refit(segs, act, 0.8)
    assert [(s.speaker, s.start, s.end) for s in once] == [
        ("agent", 1.0, 3.0), ("customer", 3.4, 5.0), ("agent", 6.0, 7.0)]
    assert refit(once, act, 0.8) == once
    assert fit_span(3.0, 6.0, []) == (3.0, 6.0)


def test_to_engine_cuts_whisper_segments_on_the_activity() -> None:
    raw = [RawSegment(start=0.6, end=7.8, text="はい大丈夫です", avg_logprob=-0.2,
                      no_speech_prob=0.0, compression_ratio=1.0,
                      words=[RawWord("はい", 0.6, 1.9, 0.9), RawWord("大丈夫", 2.2, 5.9, 0.9),
                             RawWord("です", 6.0, 7.8, 0.9)])]
    plain = to_engine(raw, "customer", 1)
    assert [(s.start, s.end) for s in plain] == [(0.6, 7.8)]
    fitted = to_engine(raw, "customer", 1, ACT)
    assert [(s.start, s.end, s.text) for s in fitted] == [(1.0, 3.0, "はい大丈夫"),
                                                          (6.0, 7.5, "です")]
    assert all(s.channel == 1 and s.speaker == "customer" for s in fitted)


@pytest.mark.slow
def test_real_words_stay_in_their_speakers_turns(shared_asr) -> None:  # type: ignore[no-untyped-def]
    """Call 04 (the customer cuts in twice): before the words were fitted, Whisper
    stretched an agent word 0.9 s into the customer's cut-in (attribution 0.967) and
    agent segments covered 1.5 s of the customer's turns in other calls."""
    from tests.engine.test_asr_corpus import attribution, load

    audio, truth = load("04_abusive_complaint", "stereo.wav")
    tr = shared_asr.transcribe(audio, ["agent", "customer"])
    utts = truth["utterances"]
    assert attribution(tr.segments, utts) >= 0.98
    for seg in tr.segments:  # no segment covers ≥ 0.2 s of the other party speaking alone
        own = [(u["start"], u["end"]) for u in utts if u["speaker"] == seg.speaker]
        for u in utts:
            if u["speaker"] == seg.speaker:
                continue
            lo, hi = max(seg.start, u["start"]), min(seg.end, u["end"])
            alone = hi - lo - sum(max(0.0, min(hi, e) - max(lo, s)) for s, e in own)
            assert alone < 0.2, (seg.text, u["text"])
