"""Browser playback: PCM16 WAV in memory, channels and sample rate kept."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from rokuon.engine.audio.playback import to_wav_pcm16
from rokuon.engine.types import AudioError
from tests.engine.test_decode import av_bytes, left_tone, sf_bytes


@pytest.mark.parametrize("make, rate", [
    (lambda: sf_bytes(left_tone(8000), 8000, "WAV", "ULAW"), 8000),
    (lambda: sf_bytes(left_tone(8000), 8000, "WAV", "ALAW"), 8000),
    (lambda: sf_bytes(left_tone(44100), 44100, "MP3", "MPEG_LAYER_III"), 44100),
    (lambda: sf_bytes(left_tone(48000), 48000, "OGG", "OPUS"), 48000),
    (lambda: av_bytes(left_tone(22050), 22050, "mp4", "aac"), 22050),
    (lambda: sf_bytes(left_tone(96000), 96000, "FLAC", "PCM_24"), 16000),
])
def test_pcm16_wav_with_channels_and_rate(make, rate: int) -> None:  # type: ignore[no-untyped-def]
    wav = to_wav_pcm16(io.BytesIO(make()))
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    info = sf.info(io.BytesIO(wav))
    assert (info.samplerate, info.channels, info.subtype) == (rate, 2, "PCM_16")
    assert abs(info.duration - 2.0) < 0.2
    data, _ = sf.read(io.BytesIO(wav))
    left, right = np.sqrt(np.mean(data ** 2, axis=0))
    assert left > 0.1 and right < 0.01


def test_mono_stays_mono() -> None:
    wav = to_wav_pcm16(io.BytesIO(sf_bytes(left_tone(8000)[:, 0], 8000, "WAV", "ULAW")))
    assert sf.info(io.BytesIO(wav)).channels == 1


def test_errors_are_audio_errors() -> None:
    with pytest.raises(AudioError, match="empty file"):
        to_wav_pcm16(io.BytesIO(b""))
    wav = sf_bytes(left_tone(8000, 10.0), 8000, "WAV", "ULAW")
    with pytest.raises(AudioError, match="truncated"):
        to_wav_pcm16(io.BytesIO(wav[: len(wav) // 3]))
