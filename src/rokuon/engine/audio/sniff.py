"""Recognise an audio container from its first bytes (never from the file name)."""

from __future__ import annotations

MEDIA_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
}


def sniff_format(head: bytes) -> str | None:
    """'wav' | 'mp3' | 'ogg' | 'flac' | 'm4a' | None, from at least the first 12 bytes."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "m4a"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 4 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 \
            and (head[1] & 0x06) != 0 and (head[1] & 0x18) != 0x08 \
            and (head[2] >> 4) not in (0x0, 0xF) and (head[2] >> 2) & 0x3 != 0x3:
        return "mp3"  # an MPEG audio frame header: sync, valid version/layer/bitrate/rate
    return None
