"""Two telephony tracks (each with its own timestamps) → one interleaved stereo stream.

Twilio sends the inbound and outbound tracks as separate 20 ms frames, interleaved and
not always in step. Each frame is placed at its own timestamp; frames are written out in
order once both tracks have reached them, or once one track has fallen more than
``max_lag`` samples behind (a one-sided stream, a dropped track: the gap is silence).
A late frame that arrives after its time was written out is dropped (counted)."""

from __future__ import annotations

import numpy as np


class TrackMixer:
    def __init__(self, tracks: int, *, max_lag: int = 8000) -> None:
        self.tracks, self.max_lag = tracks, max_lag
        self.written = 0  # frames already handed out
        self._buf = [np.zeros(0, dtype=np.int16) for _ in range(tracks)]
        self._filled = [0] * tracks  # frames known per track, counted from ``written``
        self.late_samples = 0

    def add(self, track: int, start: int, samples: np.ndarray) -> bytes:
        """Place ``samples`` (int16) of ``track`` at sample ``start``; returns the
        interleaved PCM16 that is now final."""
        if start < self.written:
            cut = self.written - start
            self.late_samples += min(cut, len(samples))
            samples, start = samples[cut:], self.written
        if len(samples):
            off = start - self.written
            end = off + len(samples)
            buf = self._buf[track]
            if end > len(buf):
                grown = np.zeros(max(end, 2 * len(buf)), dtype=np.int16)
                grown[:len(buf)] = buf
                self._buf[track] = buf = grown
            buf[off:end] = samples
            self._filled[track] = max(self._filled[track], end)
        ready = min(self._filled)
        lead = max(self._filled)
        if lead - ready > self.max_lag:
            ready = lead - self.max_lag
        return self._take(ready)

    def flush(self) -> bytes:
        """Everything known (the stream stopped); shorter tracks end in silence."""
        return self._take(max(self._filled))

    def _take(self, n: int) -> bytes:
        if n <= 0:
            return b""
        out = np.zeros((n, self.tracks), dtype=np.int16)
        for t in range(self.tracks):
            buf = self._buf[t]
            k = min(n, len(buf))
            out[:k, t] = buf[:k]
            rest = np.zeros(max(len(buf), 1), dtype=np.int16)
            if len(buf) > n:
                rest[:len(buf) - n] = buf[n:]
            self._buf[t] = rest
            self._filled[t] = max(0, self._filled[t] - n)
        self.written += n
        return out.astype("<i2").tobytes()
