"""What the analyzers get for a stored call: its segments plus, when the installation
allows it (``analysis_audio``), the decoded audio per speaker role and its tight voice
activity (no padding: talk times, overlap, silence): per channel for stereo, of the
mixed audio for mono."""

from __future__ import annotations

import io

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.types import AudioError, Segment
from rokuon.runtime import Runtime
from rokuon.store.keys import WrappedKey
from rokuon.store.models import Call


def build(rt: Runtime, call: Call, segments: list[Segment], *, language: str | None,
          speech: dict[str, list[list[float]]] | None = None) -> CallInput:
    """``speech``: the voice activity the transcription stored (stereo; padded for the
    recogniser). It only tells where to look: the tight activity is measured on the
    decoded audio here. Silero runs again only for transcripts stored without it, on the
    mixed audio of a mono call and on a channel too noisy for the level to decide."""
    inp = CallInput(segments=segments, duration_s=call.duration_s, language=language or "ja",
                    direction=call.direction)
    if not rt.settings.analysis_audio or call.wrapped_key is None:
        inp.notes.append("audio not analysed (analysis_audio is off)")
        return inp
    from rokuon.engine.audio.activity import tight_activity
    from rokuon.engine.audio.sandbox import decode

    data = rt.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key),
                             expected_sha256=call.blob_sha256 or call.content_sha256)
    try:
        audio = decode(io.BytesIO(data), rt.settings.decode_limits,
                       max_duration_s=rt.settings.max_duration_s)
    except AudioError as exc:
        inp.notes.append(f"audio not analysed: {exc}")
        return inp
    del data
    by_channel = {p.channel: p.role for p in call.parties if p.channel is not None}
    if len(audio.channels) > 1 and by_channel:
        inp.audio = {by_channel[i]: ch for i, ch in enumerate(audio.channels)
                     if i in by_channel}
        inp.speech = {role: tight_activity(ch, regions=None if not speech or role not in speech
                                           else [(s, e) for s, e in speech[role]])
                      for role, ch in inp.audio.items()}
    else:
        inp.audio = {"mixed": audio.channels[0]}
        inp.activity = tight_activity(audio.channels[0])
    return inp
