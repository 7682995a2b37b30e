"""Diarization logic without the voice encoder: clustering, word assignment,
splitting at speaker changes, roles from who opens the call."""

from __future__ import annotations

import numpy as np
import pytest

from rokuon.engine.asr import diarize
from rokuon.engine.asr.diarize import (
    HOP_S,
    WINDOW_S,
    Diarizer,
    cluster,
    opening,
    smooth,
    speaker_at,
    split_by_speaker,
    window_starts,
)
from rokuon.engine.asr.hallucination import voiced_fraction
from rokuon.engine.types import Segment, Word


def voices(sizes: list[int], spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, list]:
    """Unit embeddings around one random direction per speaker."""
    rng = np.random.default_rng(seed)
    out, truth = [], []
    for spk, n in enumerate(sizes):
        centre = rng.standard_normal(256)
        e = centre / np.linalg.norm(centre) + spread * rng.standard_normal((n, 256)) / 16
        out.append(e / np.linalg.norm(e, axis=1, keepdims=True))
        truth += [spk] * n
    return np.concatenate(out), truth


def same_partition(a: np.ndarray, b: list[int]) -> bool:
    pairs = set(zip(a.tolist(), b, strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b))


def test_two_voices_are_two_speakers() -> None:
    embeds, truth = voices([40, 25])
    c = cluster(embeds, 2)
    assert c.count == 2 and same_partition(c.labels, truth)
    assert c.separation > 0.5


def test_one_voice_is_one_speaker() -> None:
    embeds, _ = voices([60], spread=0.3)
    c = cluster(embeds, 2)
    assert c.count == 1 and c.separation == 0.0 and set(c.labels) == {0}
    assert cluster(embeds[:3], 2).count == 1  # too few windows to tell
    two, _ = voices([40, 25])
    assert cluster(two, 1).count == 1


def test_number_of_speakers_estimated() -> None:
    embeds, truth = voices([30, 30, 20])
    c = cluster(embeds, None)
    assert c.count == 3 and same_partition(c.labels, truth)
    c = cluster(voices([30, 30])[0], None)
    assert c.count == 2


def test_long_calls_cluster_a_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diarize, "MAX_CLUSTER_POINTS", 300)
    embeds, truth = voices([3000, 2000])
    c = cluster(embeds, 2)
    assert c.count == 2 and same_partition(c.labels, truth)


def test_windows_only_where_voiced() -> None:
    speech = [(0.0, 3.0), (6.0, 10.0)]
    starts = window_starts(10.0, speech)
    expected = [t for t in np.arange(0.0, 10.0 - WINDOW_S + 1e-6, HOP_S)
                if voiced_fraction(t, t + WINDOW_S, speech) >= 0.5 - 1e-9]
    assert starts == pytest.approx(expected)
    assert starts[0] == 0.0 and starts[-1] == pytest.approx(8.8)
    assert not any(2.5 < t < 5.3 for t in starts)  # mostly in the pause
    assert len(window_starts(0.5, [(0.0, 0.5)])) == 0
    assert len(window_starts(7200.0, [(0.0, 7200.0)])) == 17998


def test_speaker_at_votes_by_closeness() -> None:
    centres = np.arange(0.6, 10.0, HOP_S)
    labels = (centres > 5.0).astype(int)
    assert speaker_at(centres, labels, 1.0, 1.5) == 0
    assert speaker_at(centres, labels, 8.0, 8.5) == 1
    assert speaker_at(centres, labels, 30.0, 31.0) == 1  # beyond the windows: the nearest


def words(spec: list[tuple[str, float, float]]) -> list[Word]:
    return [Word(t, a, b, 0.9) for t, a, b in spec]


def test_smoothing_a_lone_short_word() -> None:
    ws = words([("a", 0, 0.3), ("b", 0.3, 0.5), ("c", 0.5, 0.8), ("d", 0.8, 2.0)])
    assert smooth([0, 1, 0, 0], ws) == [0, 0, 0, 0]
    assert smooth([0, 0, 1, 0], ws) == [0, 0, 0, 0]
    long_word = words([("a", 0, 0.3), ("b", 0.3, 1.5), ("c", 1.5, 1.8)])
    assert smooth([0, 1, 0], long_word) == [0, 1, 0]


def test_segments_split_where_the_speaker_changes() -> None:
    centres = np.arange(0.6, 10.0, HOP_S)
    labels = (centres > 4.0).astype(int)  # speaker 1 from 4 s on
    seg = Segment("speaker_0", 1.0, 7.0, "", words=words([
        ("お電話", 1.0, 1.6), ("ありがとう", 1.6, 2.4), ("ございます", 2.4, 3.0),
        ("はい", 5.0, 5.5), ("お願い", 5.5, 6.2), ("します", 6.2, 7.0)]))
    out = split_by_speaker([seg], centres, labels)
    assert [(spk, s.text, s.start, s.end) for spk, s in out] == [
        (0, "お電話ありがとうございます", 1.0, 3.0), (1, "はいお願いします", 5.0, 7.0)]
    assert all(0 < s.confidence <= 1 and s.channel is None for _, s in out)


def test_the_opener_is_who_speaks_most_of_the_first_words() -> None:
    def seg(start: float, n: int) -> Segment:
        return Segment("x", start, start + n, "", words=words(
            [("w", start + i, start + i + 0.5) for i in range(n)]))

    # a stray first word given to speaker 1, then speaker 0 speaks: speaker 0 opens
    opener, margin = opening([(1, seg(0, 1)), (0, seg(1, 6)), (1, seg(8, 3))])
    assert opener == 0 and margin == pytest.approx(0.8)
    opener, margin = opening([(0, seg(0, 5)), (1, seg(8, 3))])
    assert (opener, margin) == (0, 1.0)
    assert opening([]) == (0, 0.0)


class FakeDiarizer(Diarizer):
    """Embeddings from a script (time → speaker) instead of the voice encoder."""

    def __init__(self, who: list[tuple[float, float, int]], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.who = who
        self.dirs = voices([1, 1, 1], seed=3)[0]

    def embed(self, samples: np.ndarray, starts: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(0)
        out = []
        for t in starts + WINDOW_S / 2:
            spk = next((s for a, b, s in self.who if a <= t < b), 0)
            e = self.dirs[spk] + 0.01 * rng.standard_normal(256)
            out.append(e / np.linalg.norm(e))
        return np.asarray(out)


SR = 16000
SCRIPT = [(0.0, 4.0, 0), (4.0, 8.0, 1), (8.0, 12.0, 0)]
SEGMENTS = [
    Segment("speaker_0", 0.5, 3.5, "お電話ありがとうございます", words=words(
        [("お電話", 0.5, 1.5), ("ありがとう", 1.5, 2.5), ("ございます", 2.5, 3.5)])),
    Segment("speaker_0", 4.5, 11.5, "", words=words(
        [("解約", 4.5, 5.5), ("したい", 5.5, 6.5), ("です", 6.5, 7.5),
         ("承知", 8.5, 9.5), ("しました", 9.5, 11.5)])),
]


def test_assign_maps_the_opener_to_agent() -> None:
    out, info = FakeDiarizer(SCRIPT).assign(np.zeros(12 * SR, np.float32), SEGMENTS,
                                            [(0.0, 12.0)])
    assert [(s.speaker, s.text) for s in out] == [
        ("agent", "お電話ありがとうございます"), ("customer", "解約したいです"),
        ("agent", "承知しました")]
    assert info["speakers"] == 2 and info["method"].startswith("resemblyzer")
    assert info["speaker_map"] == {"speaker_0": "agent", "speaker_1": "customer"}
    assert 0.5 < info["role_confidence"] <= 1


def test_roles_follow_the_order_given() -> None:
    """An outbound call where the customer answers first: roles in order of appearance."""
    out, info = FakeDiarizer(SCRIPT).assign(np.zeros(12 * SR, np.float32), SEGMENTS,
                                            [(0.0, 12.0)], ["customer", "agent"])
    assert [s.speaker for s in out] == ["customer", "agent", "customer"]
    assert info["speaker_map"] == {"speaker_0": "customer", "speaker_1": "agent"}


def test_a_single_voice_gets_no_role() -> None:
    out, info = FakeDiarizer([(0.0, 12.0, 0)]).assign(np.zeros(12 * SR, np.float32),
                                                      SEGMENTS, [(0.0, 12.0)])
    assert {s.speaker for s in out} == {"speaker_0"}
    assert info["speakers"] == 1 and info["role_confidence"] == 0.0


def test_a_third_speaker_gets_a_numbered_name() -> None:
    script = [(0.0, 4.0, 0), (4.0, 8.0, 1), (8.0, 12.0, 2)]
    out, info = FakeDiarizer(script, num_speakers=None).assign(
        np.zeros(12 * SR, np.float32), SEGMENTS, [(0.0, 12.0)])
    assert [s.speaker for s in out] == ["agent", "customer", "speaker_2"]
    assert info["speakers"] == 3


def test_two_voices_but_words_from_one_only() -> None:
    """The other voice said nothing Whisper wrote down: no role is guessed."""
    out, info = FakeDiarizer(SCRIPT).assign(np.zeros(12 * SR, np.float32), SEGMENTS[:1],
                                            [(0.0, 12.0)])
    assert [s.speaker for s in out] == ["speaker_0"] and info["role_confidence"] == 0.0


def test_a_short_file_is_never_split_into_two_roles() -> None:
    """3 s of speech: even two clearly different 'voices' in the embeddings (one voice
    spreads that much over a few windows) stay one speaker without a role."""
    script = [(0.0, 1.5, 0), (1.5, 3.5, 1)]
    seg = Segment("speaker_0", 0.2, 3.2, "はい、山田です。折り返しお願いします", words=words(
        [("はい", 0.2, 0.6), ("山田", 0.8, 1.4), ("です", 1.4, 1.7), ("折り返し", 1.8, 2.6),
         ("お願いします", 2.6, 3.2)]))
    out, info = FakeDiarizer(script).assign(np.zeros(4 * SR, np.float32), [seg], [(0.2, 3.3)])
    assert {s.speaker for s in out} == {"speaker_0"} and info["speakers"] == 1
