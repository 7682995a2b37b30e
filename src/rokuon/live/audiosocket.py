"""Asterisk AudioSocket: a TCP server that records what Asterisk streams to it (the
framing is in ``audiosocket_protocol``; docs/live.md).

One connection is a mono (mixed) call. Two connections whose UUIDs differ only in their
last hex digit, ``a`` for the agent's leg and ``c`` for the customer's, arriving within
``audiosocket_pair_window_s`` are one stereo call (channel 0 agent, 1 customer). DTMF
digits are neither logged nor kept (a card number may be keyed); unknown kinds are
skipped, logged once per kind and counted in the call's note: a recorder keeps the call
rather than lose it. Every call goes through the shared live core (``LiveSession``,
``TrackMixer``, ``LiveHub.opened``/``closed``) like Twilio Media Streams and the generic
WebSocket.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from rokuon.engine.audio.wav_layout import to_pcm16
from rokuon.live.audiosocket_call import AudioSocketCall, Leg
from rokuon.live.audiosocket_protocol import (
    AUDIO,
    DTMF,
    ERROR,
    HANGUP,
    UUID,
    Frame,
    FrameParser,
    ProtocolError,
    describe_error,
    kind_rates,
    parse_host_port,
    parse_uuid,
)
from rokuon.live.session import LiveError, LiveSession
from rokuon.runtime import Runtime

if TYPE_CHECKING:
    from rokuon.live.hub import LiveHub

log = logging.getLogger("rokuon.live")

LEGS = {"a": "agent", "c": "customer"}
ACCEPT_POLL_S = 0.25


# ---- the server --------------------------------------------------------------------

class AudioSocketServer:
    """Threads: one accepts, one per connection reads. ``start``/``stop`` go with the
    web server (app lifespan)."""

    def __init__(self, rt: Runtime, hub: LiveHub, *, listen: str | None = None,
                 allow: list[str] | None = None) -> None:
        s = rt.settings
        self.rt, self.hub = rt, hub
        self.listen = listen if listen is not None else s.audiosocket_listen
        self.host, self.port = parse_host_port(self.listen)
        self.allow = [ipaddress.ip_network(n, strict=False)
                      for n in (allow if allow is not None else s.audiosocket_allow)]
        self.rates = kind_rates(s.audiosocket_kind_rates)
        self.mulaw = s.audiosocket_mulaw
        self.pair_window_s = s.audiosocket_pair_window_s
        self.max_call_s = s.audiosocket_max_call_s
        self.max_duration_s = s.max_duration_s
        self.idle_s = s.live_idle_timeout_s
        self.address: tuple[str, int] = (self.host, self.port)
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[str, AudioSocketCall] = {}
        self._external_ids: set[str] = set()
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._acceptor: threading.Thread | None = None

    def part_frames(self, rate: int, channels: int) -> int:
        """The longest part the batch import takes (max_duration_s, max_upload_bytes)."""
        by_bytes = (self.rt.settings.max_upload_bytes - 44) // (2 * channels)
        return max(rate, min(int(self.max_duration_s * rate), by_bytes))

    def start(self) -> AudioSocketServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self._sock = socket.create_server((self.host, self.port), family=family,
                                              backlog=128)
        except OSError as exc:
            raise LiveError(f"audiosocket_listen {self.listen}: cannot listen "
                            f"({exc.strerror or exc})") from exc
        self._sock.settimeout(ACCEPT_POLL_S)
        self.address = self._sock.getsockname()[:2]
        self._acceptor = threading.Thread(target=self._accept_loop, name="audiosocket",
                                          daemon=True)
        self._acceptor.start()
        log.warning("AudioSocket listening on %s:%d (allowed: %s)", self.address[0],
                    self.address[1], ", ".join(str(n) for n in self.allow) or "nobody")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting; calls in progress keep their spool for the next start's
        recovery (as LiveHub.stop leaves them)."""
        self._stopping.set()
        if self._acceptor:
            self._acceptor.join(timeout)
        if self._sock:
            self._sock.close()
        with self._lock:
            conns = dict(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes the reader, which abandons
        deadline = time.monotonic() + timeout
        for t in conns.values():
            t.join(max(0.0, deadline - time.monotonic()))

    def allowed(self, peer: str) -> bool:
        try:
            ip = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        ips = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ips.append(ip.ipv4_mapped)
        return any(a in net for a in ips for net in self.allow)

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stopping.is_set():
                    log.error("AudioSocket accept failed: %s", exc)
                    time.sleep(ACCEPT_POLL_S)
                continue
            peer = str(addr[0])
            if not self.allowed(peer):
                log.warning("AudioSocket connection from %s refused: not in "
                            "audiosocket_allow", peer)
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._serve, args=(conn, peer),
                                 name=f"audiosocket-{peer}", daemon=True)
            with self._lock:
                self._conns[conn] = t
            t.start()

    # -- pairing and ids --
    def _attach(self, uuid: str, peer: str) -> tuple[Leg, AudioSocketCall]:
        role = LEGS.get(uuid[-1]) if self.pair_window_s > 0 else None
        leg = Leg(uuid, role, peer)
        key = uuid[:-1] if role else uuid
        with self._lock:  # look up and register at once: two legs may attach together
            partner = self._pending.get(key) if role else None
            if partner is None:
                call = AudioSocketCall(self, key, leg, pairable=role is not None)
                if role:
                    self._pending[key] = call
                return leg, call
        if partner.join(leg):
            self._unpend(partner)
            log.info("AudioSocket %s (%s leg) joined %s", uuid, role, partner.legs[0].uuid)
            return leg, partner
        log.warning("AudioSocket %s: a %s leg for this call is there already; stored as a "
                    "call of its own", uuid, role)
        return leg, AudioSocketCall(self, uuid, leg, pairable=False)

    def _unpend(self, call: AudioSocketCall) -> None:
        with self._lock:
            if self._pending.get(call.key) is call:
                del self._pending[call.key]

    def _unique_external_id(self, base: str) -> str:
        """``audiosocket:<uuid>``, or ``…#2`` when that UUID was seen before (a reconnect,
        a reused UUID): a call is never dropped as a duplicate of another."""
        from sqlalchemy import select

        from rokuon.store.models import Call

        with self._lock:
            for n in range(1, 1000):
                ext = base if n == 1 else f"{base}#{n}"
                if ext in self._external_ids:
                    continue
                with self.rt.db.session() as s:
                    if s.scalar(select(Call.id).where(Call.external_id == ext)) is None:
                        self._external_ids.add(ext)
                        return ext
        raise LiveError(f"{base}: seen 1000 times; not stored")

    # -- one connection --
    def _serve(self, conn: socket.socket, peer: str) -> None:
        leg: Leg | None = None
        call: AudioSocketCall | None = None
        note: str | None = None
        parser = FrameParser()
        try:
            conn.settimeout(self.idle_s)
            while not self._stopping.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    note = f"no audio for {self.idle_s:g} s: treated as ended"
                    log.warning("AudioSocket %s: idle for %g s; storing what arrived",
                                leg.uuid if leg else peer, self.idle_s)
                    break
                except OSError as exc:
                    if not self._stopping.is_set():
                        note = f"the connection failed ({exc.strerror or exc})"
                        log.warning("AudioSocket %s: %s", leg.uuid if leg else peer, note)
                    break
                if not data:
                    if not self._stopping.is_set() and leg is not None and call is not None:
                        note = self._truncated(parser, call, leg)
                    break
                go_on = True
                for frame in parser.feed(data):
                    if leg is None:
                        if frame.kind != UUID:
                            log.warning("AudioSocket connection from %s closed: the first "
                                        "frame must be the UUID (kind 0x01), not kind 0x%02x",
                                        peer, frame.kind)
                            return
                        leg, call = self._attach(parse_uuid(frame.payload), peer)
                        continue
                    assert call is not None
                    if not self._frame(call, leg, frame):
                        go_on = False
                        break
                if not go_on or (call is not None and call.over):
                    break
        except (LiveError, ProtocolError) as exc:
            note = f"stream error: {exc}"
            log.warning("AudioSocket %s: %s", leg.uuid if leg else peer, exc)
        except Exception:  # noqa: BLE001 - a bug in one call never takes the server down
            note = "internal error while receiving (see the server log)"
            log.exception("AudioSocket %s failed", leg.uuid if leg else peer)
        finally:
            try:
                if call is not None and leg is not None:
                    if self._stopping.is_set():
                        call.abandon()
                    else:
                        session = call.leg_ended(leg, note)
                        if session is not None:
                            self._store(session, "; ".join(call.notes) or None)
                        self._forget(call)
            except Exception:  # noqa: BLE001 - the spool stays for recovery at restart
                log.exception("AudioSocket %s: ending the call failed", leg.uuid if leg
                              else peer)
            finally:
                conn.close()
                with self._lock:
                    self._conns.pop(conn, None)

    def _frame(self, call: AudioSocketCall, leg: Leg, frame: Frame) -> bool:
        """One frame after the UUID; False once the stream has ended (hangup)."""
        kind = frame.kind
        if kind == HANGUP:
            return False
        rate = self.rates.get(kind)
        if rate is not None:
            call.audio(leg, *self._samples(leg, kind, frame.payload, rate))
        elif kind == DTMF:
            pass  # the digit is neither logged nor kept (card numbers are keyed)
        elif kind == ERROR:
            text = describe_error(frame.payload)
            log.warning("AudioSocket %s: Asterisk reported %s", leg.uuid, text)
            call.note(f"Asterisk reported {text}")
        elif kind == UUID:
            log.warning("AudioSocket %s: a second UUID frame ignored", leg.uuid)
        else:
            leg.unknown[kind] = leg.unknown.get(kind, 0) + 1
            if leg.unknown[kind] == 1:
                log.warning("AudioSocket %s: skipping frames of unknown kind 0x%02x "
                            "(%d bytes); map it in audiosocket_kind_rates if it is audio",
                            leg.uuid, kind, len(frame.payload))
        return True

    def _samples(self, leg: Leg, kind: int, payload: bytes,
                 rate: int) -> tuple[np.ndarray, int]:
        if kind == AUDIO and self.mulaw:
            return np.asarray(to_pcm16(payload, "pcm_mulaw"), dtype=np.int16), 8000
        data = leg.odd + payload
        cut = len(data) - len(data) % 2
        leg.odd = data[cut:]
        return np.frombuffer(data[:cut], dtype="<i2").astype(np.int16), rate

    def _truncated(self, parser: FrameParser, call: AudioSocketCall, leg: Leg) -> str | None:
        """The stream ended inside a frame: keep the whole samples of a cut audio frame."""
        cut = parser.truncated()
        if cut is None:
            return None
        frame, announced = cut
        rate = self.rates.get(frame.kind)
        if rate is not None and frame.payload:
            call.audio(leg, *self._samples(leg, frame.kind, frame.payload, rate))
        said = f"{announced}-byte" if announced >= 0 else "header-only"
        log.warning("AudioSocket %s: the stream ended inside a %s frame of kind 0x%02x "
                    "(%d bytes of it arrived%s)", leg.uuid, said, frame.kind,
                    len(frame.payload), ", kept" if rate is not None else "")
        return f"the connection closed inside a frame ({len(frame.payload)} of {announced} " \
               "bytes arrived)" if announced >= 0 else "the connection closed inside a header"

    def _store(self, session: LiveSession, reason: str | None) -> None:
        try:
            session.finish(reason)
            log.info("AudioSocket call %s stored (%.1f s)", session.call_id, session.seconds)
        except LiveError as exc:
            log.error("%s", exc)
        finally:
            self.hub.closed(session)

    def _forget(self, call: AudioSocketCall) -> None:
        with self._lock:
            if all(g.ended for g in call.legs):
                self._external_ids.discard(call.external_id)
            if self._pending.get(call.key) is call:
                del self._pending[call.key]
