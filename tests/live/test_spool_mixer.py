"""The live spool survives a kill mid-write; the track mixer puts Twilio's two tracks
side by side by their timestamps."""

from __future__ import annotations

import numpy as np

from rokuon.live.mixer import TrackMixer
from rokuon.live.spool import Spool, read_spool
from rokuon.store.blobcrypt import new_dek


def test_a_spool_killed_mid_write_gives_back_every_complete_second(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dek = new_dek()
    sp = Spool(tmp_path / "a.spool", dek, bytes_per_s=16000)
    audio = np.random.default_rng(0).integers(-3000, 3000, 16000 * 5 // 2 + 123,
                                               dtype=np.int16).tobytes()
    for i in range(0, len(audio), 640):
        sp.write(audio[i:i + 640])
    # no finish(): the process dies here (the file handle is simply dropped)
    sp._fh.close()
    got = b"".join(read_spool(tmp_path / "a.spool", dek))
    assert audio.startswith(got) and len(audio) - len(got) <= 16000 + 16000  # ≤ 1 s lost
    assert len(got) >= 16000 * 2
    # a finished spool gives everything; a torn last chunk is not handed out
    sp2 = Spool(tmp_path / "b.spool", dek, bytes_per_s=16000)
    sp2.write(audio)
    sp2.finish()
    assert b"".join(read_spool(tmp_path / "b.spool", dek)) == audio
    raw = (tmp_path / "b.spool").read_bytes()
    (tmp_path / "c.spool").write_bytes(raw[:-7])
    torn = b"".join(read_spool(tmp_path / "c.spool", dek))
    assert audio.startswith(torn) and len(torn) < len(audio)
    flipped = bytearray(raw)
    flipped[40] ^= 1  # tampered first chunk: nothing after it is trusted
    (tmp_path / "d.spool").write_bytes(bytes(flipped))
    assert b"".join(read_spool(tmp_path / "d.spool", dek)) == b""


def test_mixer_aligns_tracks_by_timestamp_and_fills_gaps() -> None:
    m = TrackMixer(2, max_lag=800)
    a = np.full(160, 100, dtype=np.int16)
    b = np.full(160, -100, dtype=np.int16)
    out = b""
    out += m.add(0, 0, a)  # track 1 not yet there: nothing final
    assert out == b""
    out += m.add(1, 0, b)
    frames = np.frombuffer(out, dtype=np.int16).reshape(-1, 2)
    assert frames.shape == (160, 2) and (frames[:, 0] == 100).all() and \
        (frames[:, 1] == -100).all()
    # track 0 runs ahead; track 1 silent (dropped) → written once the lag passes 800
    for k in range(1, 8):
        out += m.add(0, 160 * k, a)
    frames = np.frombuffer(out, dtype=np.int16).reshape(-1, 2)
    assert len(frames) == 8 * 160 - 800 and (frames[160:, 1] == 0).all()
    # a late frame for an already written time is dropped and counted
    m.add(1, 160, b)
    assert m.late_samples == 160
    tail = np.frombuffer(m.flush(), dtype=np.int16).reshape(-1, 2)
    assert m.written == 8 * 160 and len(frames) + len(tail) == 8 * 160
