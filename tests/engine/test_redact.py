"""Bleeping spans of a recording (PCI mode)."""

import io

import numpy as np
import soundfile as sf

from rokuon.engine.audio.redact import TONE_HZ, bleep, bleep_recording
from tests.helpers import tone_wav


def test_bleep_replaces_every_channel_inside_the_span_only() -> None:
    rate = 8000
    x = np.random.default_rng(1).standard_normal((rate * 3, 2)).astype(np.float32) * 0.1
    y = bleep(x, rate, [(1.0, 1.5)], pad_s=0.0)
    a, b = int(1.0 * rate), int(1.5 * rate)
    assert np.array_equal(y[:a], x[:a]) and np.array_equal(y[b + 1:], x[b + 1:])
    assert np.array_equal(y[a:b, 0], y[a:b, 1])  # same tone on both channels
    spec = np.abs(np.fft.rfft(y[a:b, 0]))
    assert abs(np.argmax(spec) * rate / (b - a) - TONE_HZ) < 5
    assert np.array_equal(x, bleep(x, rate, [], pad_s=0.0))
    bleep(x, rate, [(-5.0, -1.0), (10.0, 20.0), (2.0, 1.0)])  # out of range: no error


def test_bleep_recording_keeps_rate_and_channels_as_flac() -> None:
    src = tone_wav(3.0, sr=8000, channels=2, seed=3)
    out = bleep_recording(io.BytesIO(src), [(0.5, 1.0)])
    data, rate = sf.read(io.BytesIO(out))
    assert out[:4] == b"fLaC" and rate == 8000 and data.shape == (24000, 2)
    orig, _ = sf.read(io.BytesIO(src))
    assert np.allclose(data[20000:], orig[20000:], atol=2e-3)  # outside: unchanged
    assert not np.allclose(data[5000:7000, 1], orig[5000:7000, 1], atol=2e-3)
