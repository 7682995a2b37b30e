"""One AudioSocket call: its legs (connections), how they are paired and placed, the
spool it writes through the shared live core, and the long-call parts (the server is in
``audiosocket``; docs/live.md)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.engine.audio.decode import fmt_duration
from rokuon.live.mixer import TrackMixer
from rokuon.live.session import LiveSession

if TYPE_CHECKING:
    import av

    from rokuon.live.audiosocket import AudioSocketServer

log = logging.getLogger("rokuon.live")

MAX_SESSION_RATE = 48000  # a live call's highest rate; 96/192 kHz kinds are resampled
SIMULTANEOUS_S = 0.2  # legs whose first audio is this close started together
HELD_MAX_S = 30.0  # audio held while waiting for a partner leg (a fast sender)
STALL_S = 2.0  # a leg ahead of its partner waits this long for it (then: silence there)
FAST_WARN_S = 5.0  # audio this far ahead of the clock: logged as faster than real time


class Leg:
    """One AudioSocket connection: its UUID, role, position and rate conversion."""

    def __init__(self, uuid: str, role: str | None, peer: str) -> None:
        self.uuid, self.role, self.peer = uuid, role, peer
        self.channel = 0
        self.pos = 0  # samples placed, at the call's rate
        self.first_audio: float | None = None
        self.started = False  # audio of this leg placed in the call
        self.stalled = False  # sent nothing while its partner went on: silence put in
        self.ended = False
        self.rate_in = 0
        self.odd = b""
        self.unknown: dict[int, int] = {}
        self._res: av.AudioResampler | None = None
        self._res_pts = 0

    def convert(self, x: np.ndarray, rate_in: int, rate: int) -> np.ndarray:
        """int16 at ``rate_in`` → int16 at the call's ``rate`` (PyAV's resampler, kept
        across frames so that no sample is lost at frame edges)."""
        tail = np.zeros(0, np.int16)
        if rate_in != self.rate_in:
            if self.rate_in:
                log.warning("AudioSocket %s: audio changed from %d to %d Hz", self.uuid,
                            self.rate_in, rate_in)
                tail = self.drain()
            self.rate_in = rate_in
        if rate_in == rate:
            return np.concatenate([tail, x]) if len(tail) else x
        import av

        if self._res is None:
            self._res = av.AudioResampler(format="s16", layout="mono", rate=rate)
            self._res_pts = 0
        frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate_in, self._res_pts
        self._res_pts += len(x)
        parts = [tail] + [f.to_ndarray().reshape(-1) for f in self._res.resample(frame)]
        return np.concatenate(parts).astype(np.int16)

    def drain(self) -> np.ndarray:
        """What the resampler still holds (at the end, or before a rate change)."""
        res, self._res = self._res, None
        if res is None:
            return np.zeros(0, np.int16)
        parts = [f.to_ndarray().reshape(-1) for f in res.resample(None)]
        return np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)


class AudioSocketCall:
    """One call: one leg (mono) or an agent and a customer leg (stereo). Audio that
    arrives while a first leg waits for its partner is held (at most the pairing window);
    from then on every frame goes to the spool as it arrives."""

    def __init__(self, server: AudioSocketServer, key: str, leg: Leg, pairable: bool) -> None:
        self.server, self.key, self.legs, self.pairable = server, key, [leg], pairable
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.opened_at = time.monotonic()
        self.held: list[tuple[Leg, np.ndarray, int]] = []
        self.session: LiveSession | None = None
        self.mixer: TrackMixer | None = None
        self.rate = 0
        self.first_audio: float | None = None
        self.notes: list[str] = []
        self.external_id = ""
        self.registered: dict[str, Any] = {}  # metadata pre-registered for the UUIDs
        self.part, self.part_frames, self.total_frames = 1, 0, 0
        self.shifted: dict[str, int] = {}
        self.warned_fast = False
        self.over = False  # reached audiosocket_max_call_s: the connections close
        self.done = False

    def note(self, text: str) -> None:
        with self.lock:
            if text not in self.notes:
                self.notes.append(text)

    def join(self, leg: Leg) -> bool:
        with self.lock:
            if self.session is not None or self.done or \
                    any(other.role == leg.role for other in self.legs):
                return False
            self.legs.append(leg)
            self._decide()
            self.cond.notify_all()
            return True

    def audio(self, leg: Leg, x: np.ndarray, rate_in: int) -> None:
        with self.lock:
            if self.done or self.over:
                return
            now = time.monotonic()
            if leg.first_audio is None:
                leg.first_audio = now
            if self.first_audio is None:
                self.first_audio = now
            if self.session is None:
                self.held.append((leg, x, rate_in))
                self._decide()
            else:
                self._place(leg, x, rate_in, wait=True)

    def _decide(self, force: bool = False) -> None:
        """Open the session once the legs are known: a partner joined, the pairing
        window passed, the stream ended (``force``). Needs audio (the rate)."""
        if self.session is not None or not self.held:
            return
        waited = time.monotonic() - self.opened_at
        held_s = sum(len(x) / r for _, x, r in self.held)  # a fast sender: bounded
        if not force and self.pairable and len(self.legs) < 2 and \
                waited < self.server.pair_window_s and held_s < HELD_MAX_S:
            return
        self.server._unpend(self)
        if self.pairable and len(self.legs) < 2:
            log.info("AudioSocket %s: no partner leg within %.1f s (%.1f s of audio held): a "
                     "call of its own", self.legs[0].uuid, waited, held_s)
        self.pairable = False
        self._open(1)
        held, self.held = self.held, []
        for leg, x, rate_in in held:
            self._place(leg, x, rate_in)

    def _registered(self, uuids: list[str]) -> dict[str, Any]:
        from rokuon.live.preregister import claim

        try:
            with self.server.rt.db.session() as s:
                return claim(s, uuids)
        except Exception:  # noqa: BLE001 - the call is recorded without it rather than lost
            log.exception("AudioSocket %s: reading pre-registered metadata failed", uuids[0])
            return {}

    def _open(self, part: int) -> None:
        server = self.server
        stereo = len(self.legs) == 2
        if stereo:
            self.legs.sort(key=lambda g: 0 if g.role == "agent" else 1)
            for ch, g in enumerate(self.legs):
                g.channel = ch
        first = self.legs[0]
        if part == 1:
            self.rate = min(self.held[0][2], MAX_SESSION_RATE)
            self.external_id = server._unique_external_id(f"audiosocket:{first.uuid}")
        if part == 1:  # what the dialplan registered for these UUIDs ahead of the call
            self.registered = self._registered([g.uuid for g in self.legs] + [self.key])
        meta: dict[str, Any] = {**self.registered, "audiosocket_peer": first.peer}
        meta["external_id"] = self.external_id if part == 1 else f"{self.external_id}#{part}"
        if stereo:
            meta["channels"] = ["agent", "customer"]
            meta["audiosocket_uuids"] = {g.role: g.uuid for g in self.legs}
        else:
            meta["audiosocket_uuid"] = first.uuid
            if first.role:
                meta["audiosocket_leg"] = first.role
        if part > 1 and self.session is not None:
            meta["continues_call"] = self.session.call_id
            meta["part"] = part
        self.session = LiveSession(server.rt, source="audiosocket",
                                   meta=CallMetadata.model_validate(meta), rate=self.rate,
                                   channels=2 if stereo else 1,
                                   actor=Principal("audiosocket", "system", source=first.peer),
                                   stream_id=first.uuid)
        if part == 1:
            # no forced output: a leg's lead is bounded by _keep_step, which also fills a
            # stalled leg with silence
            self.mixer = TrackMixer(2, max_lag=1 << 62) if stereo else None
            log.info("AudioSocket call %s from %s: %s, %d Hz, %s", self.session.call_id,
                     first.peer, "stereo (agent + customer legs)" if stereo else "mono",
                     self.rate, self.external_id)
        self.part, self.part_frames = part, 0
        server.hub.opened(self.session)

    def _place(self, leg: Leg, x: np.ndarray, rate_in: int, wait: bool = False) -> None:
        x = leg.convert(x, rate_in, self.rate)
        if wait and self.mixer is not None:
            self._keep_step(leg)
            if self.done or self.over:
                return
        self._put(leg, x)

    def _keep_step(self, leg: Leg) -> None:
        """Stereo legs carry no timestamps: each is placed by its sample count. A leg
        more than a second ahead of its partner (a sender faster than real time, one
        reader thread ahead of the other) waits for it, so that TCP slows the sender;
        a partner that makes no progress for STALL_S gets silence up to a second behind
        (its audio, when it comes back, is placed after that: moved, never dropped)."""
        deadline, seen = 0.0, -1
        while True:
            others = [g for g in self.legs if g is not leg and not g.ended]
            waiting = [g for g in others if not g.stalled]
            if not waiting or leg.pos - min(g.pos for g in waiting) <= self.rate:
                break
            now, progress = time.monotonic(), sum(g.pos for g in waiting)
            if progress != seen:
                deadline, seen = now + STALL_S, progress
            if self.done or self.over:
                return
            if now >= deadline:
                for g in waiting:
                    if leg.pos - g.pos > self.rate:
                        g.stalled = True
                        log.warning("AudioSocket %s: the %s leg sent nothing for %g s; "
                                    "silence in its place until it does", g.uuid, g.role,
                                    STALL_S)
                break
            self.cond.wait(deadline - now)
        assert self.mixer is not None
        for g in others:
            pad = leg.pos - self.rate - g.pos
            if g.stalled and pad > 0:
                self.shifted[g.role or "?"] = self.shifted.get(g.role or "?", 0) + pad
                self._write(self.mixer.add(g.channel, g.pos, np.zeros(pad, np.int16)))
                g.pos += pad

    def _put(self, leg: Leg, x: np.ndarray) -> None:
        """Samples of ``leg`` at the call's rate into the spool (stereo: through the
        mixer, placed by sample count)."""
        if self.mixer is None:
            leg.pos += len(x)
            self._write(x.astype("<i2").tobytes())
            self._check_pace(leg)
            return
        if not leg.started:
            leg.started = True
            assert leg.first_audio is not None and self.first_audio is not None
            offset = leg.first_audio - self.first_audio
            if offset >= SIMULTANEOUS_S:  # a leg that connected later starts later
                leg.pos = max(leg.pos, int(offset * self.rate))
        leg.stalled = False
        start = max(leg.pos, self.mixer.written)  # never before what was written
        pcm = self.mixer.add(leg.channel, start, x.astype(np.int16))
        leg.pos = start + len(x)
        ended = [g.pos for g in self.legs if g.ended and g is not leg]
        if ended and leg.pos >= max(ended):  # past the end of a leg that hung up
            pcm += self.mixer.flush()
        self._write(pcm)
        self._check_pace(leg)
        self.cond.notify_all()

    def _check_pace(self, leg: Leg) -> None:
        if self.warned_fast or leg.first_audio is None:
            return
        ahead = leg.pos / self.rate - (time.monotonic() - leg.first_audio)
        if ahead > FAST_WARN_S:
            self.warned_fast = True
            log.warning("AudioSocket %s: audio arrives faster than real time (%.1f s ahead "
                        "of the clock); all of it is kept, placed by sample count",
                        leg.uuid, ahead)

    def _write(self, pcm: bytes) -> None:
        """To the spool; at the installation's longest call the call goes on as a new
        part, at audiosocket_max_call_s it is stored and closed."""
        session = self.session
        assert session is not None
        fb = session.frame_bytes
        while pcm and not self.over:
            frames = len(pcm) // fb
            part_room = self.server.part_frames(self.rate, session.channels) - self.part_frames
            call_room = int(self.server.max_call_s * self.rate) - self.total_frames
            take = max(0, min(frames, part_room, call_room))
            if take > 0:
                session.write(pcm[:take * fb])
                self.part_frames += take
                self.total_frames += take
                pcm = pcm[take * fb:]
            if not pcm:
                return
            if call_room <= take:
                self.over = True
                text = (f"reached audiosocket_max_call_s ({fmt_duration(self.server.max_call_s)}):"
                        " stored and the connection closed")
                self.notes.append(text)
                log.warning("AudioSocket %s: %s", self.external_id, text)
                return
            old = session
            self._open(self.part + 1)
            session = self.session
            note = (f"longer than max_duration_s ({fmt_duration(self.server.max_duration_s)}):"
                    f" the call goes on as call {session.call_id} (part {self.part})")
            log.warning("AudioSocket %s: %s", self.external_id, note)
            threading.Thread(target=self.server._store, args=(old, note),
                             name="audiosocket-part", daemon=True).start()

    def leg_ended(self, leg: Leg, note: str | None) -> LiveSession | None:
        """A connection ended; returns the session to store when it was the last one."""
        with self.lock:
            if leg.ended:
                return None
            leg.ended = True
            if note and note not in self.notes:
                self.notes.append(note)
            for kind, n in sorted(leg.unknown.items()):
                self.notes.append(f"skipped {n} frame(s) of unknown kind 0x{kind:02x}")
            last = all(g.ended for g in self.legs)
            if last and self.pairable and self.session is None and len(self.legs) < 2:
                # a leg shorter than the pairing window (or sent faster than real time):
                # its partner may still come
                until = self.opened_at + self.server.pair_window_s
                while len(self.legs) < 2 and time.monotonic() < until and not self.done:
                    self.cond.wait(until - time.monotonic())
                last = all(g.ended for g in self.legs)
            if last and not self.done:
                self._decide(force=True)
            if self.session is not None and not self.done and not self.over:
                rest = leg.drain()
                if len(rest):
                    self._put(leg, rest)
                if self.mixer is not None and last:
                    self._write(self.mixer.flush())
            self.cond.notify_all()
            if not last or self.done:
                return None
            self.done = True
            for role, n in self.shifted.items():
                self.notes.append(f"the {role} leg fell behind; {n / self.rate:.1f} s of "
                                  "silence put in its place, none of its audio dropped")
            return self.session

    def abandon(self) -> None:
        """The server is stopping: what arrived stays in the spool for recovery."""
        with self.lock:
            if self.done:
                return
            self.done = True
            self._decide(force=True)
            if self.session is not None:
                if self.mixer is not None:
                    self.session.write(self.mixer.flush())
                self.session.abandon()
            self.cond.notify_all()
