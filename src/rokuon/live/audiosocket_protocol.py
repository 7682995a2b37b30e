"""Asterisk AudioSocket framing (``res_audiosocket``): every message is a 3-byte header,
``kind`` then the payload length as an unsigned 16-bit big-endian number, then the
payload. Kinds: ``0x00`` hangup, ``0x01`` UUID (16 bytes, first), ``0x03`` DTMF (one ASCII
digit), ``0x10`` slin 8 kHz (or G.711 μ-law when Asterisk forces a codec), ``0x11``–``0x18``
slin at 12–192 kHz in current builds (an older header numbered 0x11 as slin16: the map is
a setting), ``0xFF`` error (one byte, bit-packed: 0x01 the caller hung up, 0x02 a
frame-forwarding error, 0x04 a memory allocation error)."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

HANGUP, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
HEADER = 3
DEFAULT_KIND_RATES = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000,
                      0x15: 44100, 0x16: 48000, 0x17: 96000, 0x18: 192000}
ERROR_BITS = {0x01: "the calling party hung up", 0x02: "a frame-forwarding error",
              0x04: "a memory allocation error"}


class ProtocolError(ValueError):
    """A frame that cannot be read (the message says why, in one line)."""


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"an AudioSocket payload holds at most 65535 bytes, not {len(payload)}")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


class FrameParser:
    """Incremental: ``feed`` the bytes as they arrive (a frame may be split anywhere,
    several may come in one read) and get the whole frames back."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        out, pos = [], 0
        while len(buf) - pos >= HEADER:
            n = int.from_bytes(buf[pos + 1:pos + 3], "big")
            if len(buf) - pos - HEADER < n:
                break
            out.append(Frame(buf[pos], bytes(buf[pos + HEADER:pos + HEADER + n])))
            pos += HEADER + n
        del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)

    def truncated(self) -> tuple[Frame, int] | None:
        """At the end of the stream: the incomplete frame (its payload so far) and the
        length its header announced; None when the stream ended on a frame boundary."""
        if not self._buf:
            return None
        buf, self._buf = bytes(self._buf), bytearray()
        if len(buf) < HEADER:
            return Frame(buf[0], b""), -1
        return Frame(buf[0], buf[HEADER:]), int.from_bytes(buf[1:3], "big")


def describe_error(payload: bytes) -> str:
    """The words for an ``0xFF`` frame's code."""
    if not payload:
        return "an error without a code"
    code = payload[0]
    words = [w for bit, w in ERROR_BITS.items() if code & bit]
    if code & ~sum(ERROR_BITS):
        words.append(f"unknown code bits 0x{code & ~sum(ERROR_BITS) & 0xFF:02x}")
    return ", ".join(words) + f" (error 0x{code:02x})"


def parse_uuid(payload: bytes) -> str:
    """The stream's UUID: 16 bytes (Asterisk) or its 36-character text form."""
    try:
        if len(payload) == 16:
            return str(uuidlib.UUID(bytes=payload))
        return str(uuidlib.UUID(payload.decode("ascii").strip()))
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"a UUID frame of {len(payload)} bytes is not a UUID") from None


def kind_rates(overrides: dict[str, int]) -> dict[int, int]:
    """The kind → sample rate map: the defaults with ``overrides`` (keys "0x11" or "17";
    a rate of 0 drops the kind, whose frames are then skipped as unknown)."""
    rates = dict(DEFAULT_KIND_RATES)
    for key, rate in overrides.items():
        try:
            kind = int(str(key), 0)
        except ValueError:
            raise ValueError(f"kind {key!r} is not a number (write it as \"0x12\")") from None
        if not 0x02 <= kind <= 0xFE or kind == DTMF:
            raise ValueError(f"kind {key} cannot carry audio (0x00 hangup, 0x01 UUID, "
                             "0x03 DTMF, 0xff error)")
        if rate == 0:
            rates.pop(kind, None)
        elif not 8000 <= int(rate) <= 192000:
            raise ValueError(f"kind {key}: rate {rate} Hz; use 8000–192000 (0 to drop it)")
        else:
            rates[kind] = int(rate)
    return rates


def parse_host_port(text: str) -> tuple[str, int]:
    """"127.0.0.1:9092", "[::1]:9092", "0.0.0.0:9092" → (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9092 or [::1]:9092)")
    return host, int(port)
