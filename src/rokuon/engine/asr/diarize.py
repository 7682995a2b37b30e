"""Speaker diarization for mono recordings.

Speaker embeddings (resemblyzer's d-vector encoder, CPU) are computed over short
sliding windows of voiced audio, clustered (agglomerative, cosine), and every
word is given the speaker of the windows around it; words are regrouped into
per-speaker segments. The speaker heard first is mapped to ``agent`` (the agent
opens a contact-center call), the other to ``customer``, with a confidence.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from rokuon.engine.asr.hallucination import voiced_fraction
from rokuon.engine.asr.words import join_words
from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment, Word

WINDOW_S = 1.2
HOP_S = 0.4
MIN_VOICED = 0.5
# centroids this similar are one speaker (two similar female voices measured 0.91)
SAME_SPEAKER_SIMILARITY = 0.97


class Diarizer:
    method = "resemblyzer-dvector+agglomerative-cosine"

    def __init__(self, num_speakers: int | None = 2) -> None:
        self.num_speakers = num_speakers
        self._encoder: Any = None
        self._lock = threading.Lock()

    def encoder(self) -> Any:
        with self._lock:
            if self._encoder is None:
                import warnings

                import torch

                with warnings.catch_warnings():  # resemblyzer's deps use deprecated APIs
                    warnings.simplefilter("ignore")
                    from resemblyzer import VoiceEncoder

                torch.set_num_threads(max(1, torch.get_num_threads()))
                self._encoder = VoiceEncoder("cpu", verbose=False)
            return self._encoder

    def windows(self, samples: np.ndarray, speech: list[tuple[float, float]]
                ) -> tuple[np.ndarray, np.ndarray]:
        """(window centres in s, embeddings) for windows that are mostly voiced."""
        enc = self.encoder()
        from resemblyzer.audio import wav_to_mel_spectrogram

        total = len(samples) / ENGINE_SAMPLE_RATE
        centres, mels = [], []
        t = 0.0
        while t + WINDOW_S <= total + 1e-6:
            if voiced_fraction(t, t + WINDOW_S, speech) >= MIN_VOICED:
                a, b = int(t * ENGINE_SAMPLE_RATE), int((t + WINDOW_S) * ENGINE_SAMPLE_RATE)
                mels.append(wav_to_mel_spectrogram(samples[a:b].astype(np.float32)))
                centres.append(t + WINDOW_S / 2)
            t += HOP_S
        if not mels:
            return np.zeros(0), np.zeros((0, 256))
        n = min(m.shape[0] for m in mels)
        batch = np.stack([m[:n] for m in mels])
        import torch

        with torch.no_grad():
            embeds = enc(torch.from_numpy(batch).to(enc.device)).cpu().numpy()
        return np.asarray(centres), embeds

    def cluster(self, embeds: np.ndarray) -> tuple[np.ndarray, float, int]:
        """(labels, separation confidence 0..1, number of speakers)."""
        if len(embeds) < 4 or self.num_speakers == 1:
            return np.zeros(len(embeds), int), 0.0, 1
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.metrics import silhouette_score

        k = self.num_speakers or 2
        labels = AgglomerativeClustering(n_clusters=k, metric="cosine",
                                         linkage="average").fit_predict(embeds)
        cents = [embeds[labels == i].mean(axis=0) for i in range(k)]
        cents = [c / np.linalg.norm(c) for c in cents]
        sim = float(np.dot(cents[0], cents[1]))
        if sim > SAME_SPEAKER_SIMILARITY or min(np.bincount(labels)) < 2:
            return np.zeros(len(embeds), int), 0.0, 1
        sil = float(silhouette_score(embeds, labels, metric="cosine"))
        return labels, max(0.0, min(1.0, sil * 2)), k

    def assign(self, samples: np.ndarray, segments: list[Segment],
               speech: list[tuple[float, float]]) -> tuple[list[Segment], dict[str, Any]]:
        centres, embeds = self.windows(samples, speech)
        labels, separation, n = self.cluster(embeds)
        info: dict[str, Any] = {"method": self.method, "speakers": n,
                                "windows": int(len(centres))}
        if n == 1 or len(centres) == 0:
            out = [Segment(speaker="speaker_0", start=s.start, end=s.end, text=s.text,
                           words=s.words, confidence=s.confidence) for s in segments]
            info.update(role_confidence=0.0, speaker_map={"speaker_0": "speaker_0"})
            return out, info

        def speaker_at(t0: float, t1: float) -> int:
            near = np.abs(centres - (t0 + t1) / 2) <= WINDOW_S / 2 + 0.05
            if not near.any():
                near = np.abs(centres - (t0 + t1) / 2) == np.abs(centres - (t0 + t1) / 2).min()
            votes = np.bincount(labels[near], minlength=n)
            return int(votes.argmax())

        tagged: list[tuple[int, Word | None, Segment]] = []
        for seg in segments:
            if seg.words:
                for w in seg.words:
                    tagged.append((speaker_at(w.start, w.end), w, seg))
            else:
                tagged.append((speaker_at(seg.start, seg.end), None, seg))
        first = tagged[0][0] if tagged else 0
        role_of = {first: "agent", 1 - first: "customer"}
        out: list[Segment] = []
        for spk, word, seg in tagged:
            role = role_of[spk]
            if word is None:
                out.append(Segment(speaker=role, start=seg.start, end=seg.end, text=seg.text,
                                   confidence=seg.confidence))
                continue
            last = out[-1] if out else None
            if last is not None and last.speaker == role and last.words and \
                    last is not None and getattr(last, "_src", None) is seg:
                last.words.append(word)
                last.end = word.end
                last.text = join_words(last.words)
            else:
                new = Segment(speaker=role, start=word.start, end=word.end, text=word.text,
                              words=[word], confidence=0.0)
                new._src = seg  # type: ignore[attr-defined]
                out.append(new)
        for s in out:
            if s.words:
                s.confidence = float(np.mean([w.probability for w in s.words]))
            if hasattr(s, "_src"):
                del s._src  # type: ignore[attr-defined]
        opening = self._opening_margin(tagged)
        info.update(role_confidence=round(separation * opening, 3),
                    separation=round(separation, 3),
                    speaker_map={f"speaker_{first}": "agent",
                                 f"speaker_{1 - first}": "customer"})
        return out, info

    @staticmethod
    def _opening_margin(tagged: list[tuple[int, Word | None, Segment]]) -> float:
        """How clearly one speaker opens the call: share of the first 5 words."""
        head = [t[0] for t in tagged[:5]]
        if not head:
            return 0.0
        return head.count(head[0]) / len(head)
