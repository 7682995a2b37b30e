"""Speaker diarization for mono recordings.

Speaker embeddings (resemblyzer's d-vector encoder, CPU) are computed over short
sliding windows of voiced audio, clustered (agglomerative, cosine distance), and
every word is given the speaker of the windows around it; Whisper segments are
split where the speaker changes. Speakers get roles in order of first appearance:
whoever opens the call is the agent (a contact-center agent answers or opens), the
next one the customer.

When the windows are one voice (too few of them, or two clusters whose centroids
are nearly identical) every segment is ``speaker_0`` with ``role_confidence`` 0:
no role is guessed. Measured limit: d-vectors of a single voice spread as much as
those of two similar voices, so a one-voice recording is usually still split in
two; its ``role_confidence`` is then low (0.4–0.7, against ≈1 for two distinct
voices and 0.5–0.65 for two similar female voices).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from rokuon.engine.asr.hallucination import Speech
from rokuon.engine.asr.words import segment_of
from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment, Word

WINDOW_S = 1.2
HOP_S = 0.4
MIN_VOICED = 0.5  # a window is embedded when at least half of it is voiced
MIN_WINDOWS = 4
# less voiced audio than this is one speaker: a few seconds of one voice spread as much
# as two voices do, and a voicemail or a short answer must not be split into two roles
MIN_TWO_SPEAKER_SPEECH_S = 6.0
# centroids this similar are one speaker (two similar female voices measured 0.91)
SAME_SPEAKER_SIMILARITY = 0.97
MAX_SPEAKERS = 4  # when the number of speakers is estimated
MAX_CLUSTER_POINTS = 2000  # beyond this, cluster a regular subsample, assign the rest
# a cluster this small (share of windows) is a few odd windows, not a voice: they are set
# aside and the rest clustered again (measured: one outlier window split off a call)
OUTLIER_SHARE = 0.03
EMBED_BATCH = 64
MEL_HOP = 160  # resemblyzer's mel frames: 10 ms at 16 kHz
BLOCK_S = 300.0  # mel spectrogram computed per 5 minutes of audio
OPENING_WORDS = 5
FLIP_MAX_S = 0.4  # a lone word this short between two words of another speaker is theirs


@dataclass
class Clusters:
    labels: np.ndarray  # one label per window, 0..count-1
    count: int
    silhouette: float  # mean silhouette (cosine), -1..1; 0 with one speaker

    @property
    def separation(self) -> float:
        """0..1: how well the voices are apart (silhouette 0.5 and above count as 1)."""
        return float(np.clip(2 * self.silhouette, 0.0, 1.0))


def window_starts(duration_s: float, speech: Speech) -> np.ndarray:
    """Start times of the windows that are mostly voiced (voice activity counted on a
    10 ms grid, so a two-hour call costs no more than a few arrays)."""
    if duration_s < WINDOW_S:
        return np.zeros(0)
    steps = int(duration_s * 100)
    voiced = np.zeros(steps + 1, np.int32)
    for a, b in speech:
        voiced[max(0, int(a * 100)):max(0, int(b * 100))] = 1
    covered = np.concatenate([[0], np.cumsum(voiced)])
    starts = np.arange(0.0, duration_s - WINDOW_S + 1e-6, HOP_S)
    first = np.round(starts * 100).astype(int)
    width = int(round(WINDOW_S * 100))
    share = (covered[np.minimum(first + width, steps + 1)] - covered[first]) / width
    return starts[share >= MIN_VOICED - 1e-9]


def one_speaker(n: int) -> Clusters:
    return Clusters(np.zeros(n, int), 1, 0.0)


def _agglomerative(embeds: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    n = len(embeds)
    idx = np.linspace(0, n - 1, min(n, MAX_CLUSTER_POINTS)).astype(int)
    labels = AgglomerativeClustering(n_clusters=k, metric="cosine",
                                     linkage="average").fit_predict(embeds[idx])
    if len(idx) == n:
        return labels
    cents = _centroids(embeds[idx], labels, k)
    return np.argmax(embeds @ cents.T, axis=1)


def _centroids(embeds: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    cents = np.stack([embeds[labels == i].mean(axis=0) for i in range(k)])
    return cents / np.linalg.norm(cents, axis=1, keepdims=True)


def _silhouette(embeds: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(embeds, labels, metric="cosine",
                                  sample_size=min(len(embeds), MAX_CLUSTER_POINTS),
                                  random_state=0))


def _two_voices(embeds: np.ndarray) -> np.ndarray | None:
    """Labels for two speakers, or None when the windows are one voice."""
    keep = np.arange(len(embeds))
    labels = _agglomerative(embeds, 2)
    counts = np.bincount(labels, minlength=2)
    if counts.min() < max(2, OUTLIER_SHARE * len(embeds)):
        keep = keep[labels != int(np.argmin(counts))]  # odd windows: cluster the rest
        if len(keep) < MIN_WINDOWS:
            return None
        labels = _agglomerative(embeds[keep], 2)
    cents = _centroids(embeds[keep], labels, 2)
    if float(cents[0] @ cents[1]) > SAME_SPEAKER_SIMILARITY:
        return None
    labels = np.argmax(embeds @ cents.T, axis=1)
    counts = np.bincount(labels, minlength=2)
    return None if counts.min() < 2 else labels


def cluster(embeds: np.ndarray, num_speakers: int | None = 2) -> Clusters:
    """Speakers of the windows. ``num_speakers`` None estimates 1..MAX_SPEAKERS (the
    best silhouette); two nearly identical voices are one speaker."""
    n = len(embeds)
    if n < MIN_WINDOWS or num_speakers == 1:
        return one_speaker(n)
    two = _two_voices(embeds)
    if two is None:
        return one_speaker(n)
    best = Clusters(two, 2, _silhouette(embeds, two))
    candidates = [num_speakers] if num_speakers else range(3, MAX_SPEAKERS + 1)
    for k in candidates:
        if k == 2 or k >= n:
            continue
        labels = _agglomerative(embeds, k)
        if np.bincount(labels, minlength=k).min() < max(2, OUTLIER_SHARE * n):
            continue
        found = Clusters(labels, k, _silhouette(embeds, labels))
        if num_speakers or found.silhouette > best.silhouette:
            best = found
    return best


def speaker_at(centres: np.ndarray, labels: np.ndarray, t0: float, t1: float) -> int:
    """The speaker of the windows around the middle of [t0, t1] (centres sorted),
    weighted by closeness; the nearest window when none is that close."""
    mid = (t0 + t1) / 2
    reach = WINDOW_S / 2 + 0.05
    lo, hi = np.searchsorted(centres, [mid - reach, mid + reach])
    if lo >= hi:
        near = min((i for i in (lo - 1, lo) if 0 <= i < len(centres)),
                   key=lambda i: abs(centres[i] - mid))
        return int(labels[near])
    dist = np.abs(centres[lo:hi] - mid)
    votes = np.bincount(labels[lo:hi], weights=1.0 - dist / (reach + 1e-9) + 1e-3)
    return int(np.argmax(votes))


def smooth(labels: list[int], words: list[Word]) -> list[int]:
    """A single short word between two words of another speaker belongs to them."""
    out = list(labels)
    for i in range(1, len(out) - 1):
        if out[i - 1] == out[i + 1] != out[i] and words[i].end - words[i].start <= FLIP_MAX_S:
            out[i] = out[i - 1]
    return out


def split_by_speaker(segments: list[Segment], centres: np.ndarray, labels: np.ndarray
                     ) -> list[tuple[int, Segment]]:
    """(speaker label, segment) in time order, each Whisper segment split where the
    speaker of its words changes."""
    out: list[tuple[int, Segment]] = []
    for seg in segments:
        if not seg.words:
            out.append((speaker_at(centres, labels, seg.start, seg.end), seg))
            continue
        spk = smooth([speaker_at(centres, labels, w.start, w.end) for w in seg.words],
                     seg.words)
        start = 0
        for i in range(1, len(seg.words) + 1):
            if i == len(seg.words) or spk[i] != spk[start]:
                out.append((spk[start], segment_of(seg.words[start:i], seg.speaker, None)))
                start = i
    out.sort(key=lambda p: (p[1].start, p[1].end))
    return out


def opening(labelled: list[tuple[int, Segment]]) -> tuple[int, float]:
    """(opener label, how clearly: share of the first words spoken by the opener)."""
    first: list[int] = []
    for spk, seg in labelled:
        first += [spk] * max(1, len(seg.words))
        if len(first) >= OPENING_WORDS:
            break
    first = first[:OPENING_WORDS]
    if not first:
        return 0, 0.0
    opener, count = Counter(first).most_common(1)[0]
    if list(Counter(first).values()).count(count) > 1:
        opener = first[0]  # a tie: whoever spoke first
    return opener, first.count(opener) / len(first)


def role_order(labelled: list[tuple[int, Segment]], opener: int) -> list[int]:
    """Speaker labels: the opener, then the others by talk time (most first)."""
    talk: Counter[int] = Counter()
    for spk, seg in labelled:
        talk[spk] += seg.end - seg.start
    return [opener] + sorted((s for s in talk if s != opener), key=lambda s: -talk[s])


def _window_mels(samples: np.ndarray, starts: np.ndarray) -> Iterator[np.ndarray]:
    """(windows, frames, 40) mel arrays, one block of audio at a time."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    frames = int(round(WINDOW_S * ENGINE_SAMPLE_RATE / MEL_HOP)) + 1
    first = (starts * ENGINE_SAMPLE_RATE).astype(int) // MEL_HOP  # mel frame of each start
    block = int(BLOCK_S * ENGINE_SAMPLE_RATE / MEL_HOP)  # in mel frames
    for b0 in range(0, int(first.max()) + 1 if len(first) else 0, block):
        sel = first[(first >= b0) & (first < b0 + block)]
        if not len(sel):
            continue
        a = b0 * MEL_HOP
        mel = wav_to_mel_spectrogram(samples[a:(int(sel[-1]) + frames) * MEL_HOP])
        mels = np.zeros((len(sel), frames, mel.shape[1]), np.float32)
        for i, f in enumerate(sel - b0):
            part = mel[f:f + frames]
            mels[i, :len(part)] = part
        yield mels


class Diarizer:
    method = "resemblyzer-dvector+agglomerative-cosine"

    def __init__(self, num_speakers: int | None = 2) -> None:
        self.num_speakers = num_speakers
        self._encoder: Any = None
        self._lock = threading.Lock()

    def encoder(self) -> Any:
        """resemblyzer's VoiceEncoder on the CPU, loaded once."""
        with self._lock:
            if self._encoder is None:
                import warnings

                with warnings.catch_warnings():  # resemblyzer's deps use deprecated APIs
                    warnings.simplefilter("ignore")
                    from resemblyzer import VoiceEncoder

                self._encoder = VoiceEncoder("cpu", verbose=False)
            return self._encoder

    def embed(self, samples: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """One L2-normalised d-vector per window. The mel spectrogram is computed once
        per block of audio and sliced into windows (as resemblyzer slices utterances);
        the encoder runs in small batches."""
        enc = self.encoder()  # first: imports resemblyzer with its warnings silenced
        import torch

        # near-silent windows drive the LSTM into denormal floats: measured 30-50x slower
        # (16 s instead of 0.3 s for a 68 s call once CTranslate2 had run in the process)
        torch.set_flush_denormal(True)
        out = []
        for mels in _window_mels(samples, starts):
            for b in range(0, len(mels), EMBED_BATCH):
                with torch.inference_mode():
                    out.append(enc(torch.from_numpy(mels[b:b + EMBED_BATCH])).numpy())
        return np.concatenate(out) if out else np.zeros((0, 256), np.float32)

    def assign(self, samples: np.ndarray, segments: list[Segment], speech: Speech,
               roles: list[str] | None = None) -> tuple[list[Segment], dict[str, Any]]:
        """Segments with speakers (roles), and the diarization record."""
        roles = roles or ["agent", "customer"]
        starts = window_starts(len(samples) / ENGINE_SAMPLE_RATE, speech)
        voiced = sum(e - b for b, e in speech)
        clusters = one_speaker(len(starts)) if voiced < MIN_TWO_SPEAKER_SPEECH_S else \
            cluster(self.embed(samples, starts), self.num_speakers)
        info: dict[str, Any] = {"method": self.method, "speakers": clusters.count,
                                "windows": int(len(starts))}
        labelled = split_by_speaker(segments, starts + WINDOW_S / 2, clusters.labels) \
            if clusters.count > 1 else []
        opener, margin = opening(labelled)
        order = role_order(labelled, opener)
        if len(order) < 2:  # one voice, or only one of the voices said words
            info.update(speakers=1, role_confidence=0.0, separation=0.0,
                        speaker_map={"speaker_0": "speaker_0"})
            return [_with_speaker(s, "speaker_0") for s in segments], info
        role_of = {spk: roles[i] if i < len(roles) else f"speaker_{i}"
                   for i, spk in enumerate(order)}
        info.update(speakers=len(order),
                    role_confidence=round(clusters.separation * margin, 3),
                    separation=round(clusters.separation, 3),
                    speaker_map={f"speaker_{i}": role_of[spk] for i, spk in enumerate(order)})
        return [_with_speaker(seg, role_of[spk]) for spk, seg in labelled], info


def _with_speaker(seg: Segment, speaker: str) -> Segment:
    return Segment(speaker=speaker, start=seg.start, end=seg.end, text=seg.text,
                   words=seg.words, confidence=seg.confidence, channel=None)
