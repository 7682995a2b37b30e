"""`rokuon replay FILE --to twilio|ws|audiosocket URL`: stream a recording to a live
endpoint at real-time pace (demos, tests, the latency benchmark)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from rokuon.cli.output import JsonOpt, emit_json, fail


def replay(
    file: Annotated[Path, typer.Argument(help="The recording to stream (WAV, MP3 …).")],
    to: Annotated[str, typer.Option("--to", help="Protocol: twilio | ws | audiosocket.")],
    url: Annotated[str, typer.Argument(
        help="ws(s)://host/ingest/twilio or /ingest/ws; HOST:PORT for audiosocket.")],
    speed: Annotated[float, typer.Option(help="1 = real time, 4 = four times as fast, "
                                              "0 = as fast as possible.")] = 1.0,
    token: Annotated[str | None, typer.Option(
        help="API token with calls:write for --to ws (default: ROKUON_API_TOKEN).")] = None,
    metadata: Annotated[str | None, typer.Option(
        help="Call metadata as JSON (ws: the start frame; twilio: customParameters).")] = None,
    uuid: Annotated[str | None, typer.Option(
        help="audiosocket: the stream's UUID (default: a random one).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send FILE like a telephony system would. Twilio: signs the upgrade with
    ROKUON_TWILIO_AUTH_TOKEN, μ-law 20 ms frames, a stereo file as both tracks (channel 0
    the agent = outbound). ws: PCM16 frames after a start frame. audiosocket: a UUID
    frame, slin 8 kHz 20 ms frames, a hangup; a stereo file as two connections (channel 0
    the agent, UUID ending in a; the customer's in c)."""
    from rokuon.live.replay import ReplayError, replay_audiosocket, replay_twilio, replay_ws

    if to not in ("twilio", "ws", "audiosocket"):
        fail(f"--to must be twilio, ws or audiosocket; got {to!r}")
    if not file.is_file():
        fail(f"{file}: no such file")
    if speed < 0:
        fail("--speed must be 0 or more")
    try:
        meta = json.loads(metadata) if metadata else {}
    except json.JSONDecodeError as exc:
        fail(f"--metadata: not JSON ({exc.msg} at character {exc.pos})")
    if not isinstance(meta, dict):
        fail("--metadata must be a JSON object")
    if to == "audiosocket" and meta:
        fail("--metadata: an AudioSocket stream carries no metadata, only its UUID "
             "(the call's external_id is audiosocket:<uuid>)")
    if uuid and to != "audiosocket":
        fail("--uuid is for --to audiosocket")
    try:
        if to == "audiosocket":
            result = replay_audiosocket(file, url, speed=speed, uuid=uuid)
        elif to == "twilio":
            auth = os.environ.get("ROKUON_TWILIO_AUTH_TOKEN", "")
            if not auth:
                fail("set ROKUON_TWILIO_AUTH_TOKEN (the server's Twilio auth token) to sign "
                     "the stream")
            result = replay_twilio(file, url, auth, speed=speed,
                                   parameters={k: str(v) for k, v in meta.items()})
        else:
            tok = token or os.environ.get("ROKUON_API_TOKEN", "")
            if not tok:
                fail("--to ws needs an API token with calls:write (--token or "
                     "ROKUON_API_TOKEN)")
            result = replay_ws(file, url, tok, speed=speed, metadata=meta)
    except ReplayError as exc:
        fail(str(exc))
    if as_json:
        emit_json(result)
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in result.items()))
