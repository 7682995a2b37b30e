"""The second listen to the customer's replies (engine/asr/replies.py): which segments
are decoded again, and when the new words are kept. The decode is a function handed in;
here it returns what Whisper base wrote for corpus call 02 with the reply vocabulary."""

from __future__ import annotations

import numpy as np

from rokuon.engine.asr.replies import ReplyLook, better, candidates, listen_again, windows
from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment, Word

LOOK = ReplyLook(anchors=("録音", "記録"), terms=("録音", "記録", "やめて", "しないで"),
                 hotwords="録音はやめてください、録音")


def _seg(speaker: str, start: float, text: str, p: float = 0.6) -> Segment:
    step = 0.2
    words = [Word(ch, round(start + i * step, 2), round(start + (i + 1) * step, 2), p)
             for i, ch in enumerate(text)]
    return Segment(speaker=speaker, start=start, end=words[-1].end, text=text, words=words)


def _words(text: str, start: float, p: float) -> list[Word]:
    return [Word(ch, round(start + i * 0.2, 2), round(start + (i + 1) * 0.2, 2), p)
            for i, ch in enumerate(text)]


CALL = [
    _seg("agent", 0.5, "お電話ありがとうございます"),
    _seg("agent", 4.0, "この通話は録音させていただきます"),  # an anchor by text
    _seg("customer", 8.0, "6本はやめてください"),  # misheard: 録音 → 6本
    _seg("agent", 11.0, "かしこまりました"),
    _seg("customer", 40.0, "よろしくお願いします"),  # long after: not a reply
]


def test_replies_inside_the_window_after_an_anchor_are_picked() -> None:
    spans = windows(CALL, LOOK.anchors)
    assert spans == [(4.0, CALL[1].end + 15.0)]
    assert candidates(CALL, spans) == [2]
    # an anchor heard by its reading only (ロクオン written 6音) opens a window too
    misheard = [_seg("agent", 1.0, "通話をろくおんさせていただきます"), CALL[2]]
    assert candidates(misheard, windows(misheard, LOOK.anchors)) == [1]
    # no anchor, no second listen
    assert candidates(CALL[:1] + CALL[2:], windows(CALL[:1] + CALL[2:], LOOK.anchors)) == []
    # a reply Whisper was sure of is not listened to twice
    sure = [CALL[1], _seg("customer", 8.0, "はいかまいません", p=0.9)]
    assert candidates(sure, windows(sure, LOOK.anchors)) == []
    # only the answer: the customer's first two turns after the anchor, not the request
    later = [CALL[1], _seg("customer", 7.0, "えっ"), _seg("customer", 8.0, "6本はやめて"),
             _seg("customer", 12.0, "請求書の件です")]
    assert candidates(later, windows(later, LOOK.anchors)) == [1, 2]


def test_new_words_are_kept_only_when_they_respell_the_same_sounds_with_a_term() -> None:
    old = CALL[2]
    assert better(old, _words("録音はやめてください", 8.0, 0.54), LOOK)  # 6本 → 録音
    garbled = _seg("customer", 12.2, "どこをまやめてきださ")  # corpus call 34, 8 dB SNR
    assert better(garbled, _words("録音はやめてください", 12.2, 0.48), LOOK)
    assert not better(old, _words("録音はやめてください", 8.0, 0.2), LOOK)  # improbable
    assert not better(old, _words("6本はやめてください", 8.0, 0.9), LOOK)  # brings nothing
    assert not better(old, [], LOOK)
    echo = _words("録音はやめてください、録音、録音はやめてください、録音", 8.0, 0.9)
    assert not better(old, echo, LOOK)  # the prompt repeated: far longer than the reply
    # Whisper biased by the prompt writes a refusal over other words (call 34, 20.8 s):
    # it sounds nothing like what was said, so it is refused
    other = _seg("customer", 20.8, "会いたから痛くに変えたいんで", p=0.5)
    assert not better(other, _words("記録に残さないでください", 20.8, 0.6), LOOK)


def test_listen_again_replaces_only_the_segments_it_improves() -> None:
    calls: list[tuple[int, str]] = []

    def decode(clips: list[tuple[np.ndarray, float]], hotwords: str) -> list[list[Word]]:
        calls.append((len(clips), hotwords))
        (samples, offset), = clips
        assert offset == CALL[2].start - 0.15  # cut with a margin, in recording time
        assert len(samples) == int(round((CALL[2].end - CALL[2].start + 0.3)
                                         * ENGINE_SAMPLE_RATE))
        return [_words("録音はやめてください", 8.0, 0.7)]

    channels = {"agent": np.zeros(60 * ENGINE_SAMPLE_RATE, dtype=np.float32),
                "customer": np.zeros(60 * ENGINE_SAMPLE_RATE, dtype=np.float32)}
    out, n = listen_again(CALL, channels, LOOK, decode)
    assert n == 1 and calls == [(1, LOOK.hotwords)]
    assert out[2].text == "録音はやめてください" and out[2].speaker == "customer"
    assert out[:2] == CALL[:2] and out[3:] == CALL[3:]
    # mono (no customer channel): nothing to decode
    assert listen_again(CALL, {"speaker_0": channels["agent"]}, LOOK, decode) == (CALL, 0)
