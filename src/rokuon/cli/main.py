"""The ``rokuon`` command line (CONTRACT.md). Commands parse, call a service,
print. CLI commands act as the local system administrator (``cli@HOST``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

import rokuon.cli.bench_scale  # noqa: F401  (registers `rokuon bench scale`)
from rokuon.access.principal import Principal
from rokuon.cli.backup import backup_app
from rokuon.cli.bench import bench_app
from rokuon.cli.breach import breach_app
from rokuon.cli.cdr import cdr_app
from rokuon.cli.compliance import compliance_app
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.context import cli_settings as _settings
from rokuon.cli.crm import crm_app, sms_app
from rokuon.cli.doctor import doctor as doctor_cmd
from rokuon.cli.export import export_app
from rokuon.cli.faq import faq_app
from rokuon.cli.output import JsonOpt, emit_json, fail, option_date
from rokuon.cli.pci import pci_app
from rokuon.cli.replay import replay as replay_cmd
from rokuon.cli.report import report_app
from rokuon.cli.requests import dsar_app, provision_app
from rokuon.cli.scorecards import scorecard_app
from rokuon.cli.users import user_app
from rokuon.cli.webhooks import webhooks_app
from rokuon.config import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="rokuon (録音): self-hosted call recording and conversation intelligence.")
calls_app = typer.Typer(no_args_is_help=True, help="Inspect imported calls.")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")
keys_app = typer.Typer(no_args_is_help=True, help="Encryption keys.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for scripts.")
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds (block deletion).")
retention_app = typer.Typer(no_args_is_help=True, help="Retention policies.")
app.add_typer(calls_app, name="calls")
app.add_typer(export_app, name="export")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(token_app, name="token")
app.add_typer(hold_app, name="hold")
app.add_typer(retention_app, name="retention")
app.add_typer(backup_app, name="backup")
app.add_typer(cdr_app, name="cdr")
app.add_typer(breach_app, name="breach")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(crm_app, name="crm")
app.add_typer(sms_app, name="sms")
app.add_typer(faq_app, name="faq")
app.add_typer(scorecard_app, name="scorecard")
app.add_typer(bench_app, name="bench")
app.command("replay")(replay_cmd)
app.command("doctor")(doctor_cmd)

SinceOpt = Annotated[str | None, typer.Option(help="Calls started on/after (YYYY-MM-DD).")]
UntilOpt = Annotated[str | None, typer.Option(help="Calls started on/before (YYYY-MM-DD).")]
AgentOpt = Annotated[str | None, typer.Option(help="Only this agent's calls.")]
DirectionOpt = Annotated[str | None, typer.Option(help="inbound or outbound.")]


_PROCESS = {"real": False}


def main() -> None:
    """The console entry point: a real process (not a test runner calling ``app``)."""
    _PROCESS["real"] = True
    app()


def _leave_after_engines(rt, code: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Native engines loaded together (CTranslate2, ONNX Runtime, PyTorch via spaCy) can
    abort in their static destructors at interpreter exit ("terminate called without an
    active exception", seen about 1 run in 10) — after all work is committed. A real
    process that ran them flushes, closes the database and leaves without running those
    destructors; under a test runner this returns (or raises Exit) normally."""
    if not _PROCESS["real"]:
        if code:
            raise typer.Exit(code)
        return
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    rt.close()
    os._exit(code)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def init(
    admin_email: Annotated[str, typer.Option(help="First admin e-mail.")] = "admin@localhost",
    json_: JsonOpt = False,
) -> None:
    """Create config, database and keys; print the first admin's one-time password."""
    from rokuon.install import init_installation

    try:
        res = init_installation(_settings(), admin_email)
    except (ConfigError, ValueError, OSError) as exc:
        fail(str(exc))
    if json_:
        emit_json(vars(res))
        return
    typer.echo(f"rokuon initialised in {res.home}")
    typer.echo(f"database: {res.database}")
    typer.echo(f"admin: {res.admin_email}")
    typer.echo(f"one-time password: {res.admin_password}  (you must change it at first sign-in)")


def _refuse_unusable(rt) -> None:  # type: ignore[no-untyped-def]
    """Stop at start-up, with the reason, when the blob store or the broker cannot be
    used (a wrong bucket, rejected credentials, an unreachable endpoint) — rather than
    serve or work and fail on every call (``rokuon doctor`` checks everything)."""
    from rokuon.doctor import startup_problems

    if problems := startup_problems(rt):
        fail("; ".join(problems))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8420,
    workers: Annotated[int | None, typer.Option(help="Pipeline worker threads.")] = None,
    watch: Annotated[Path | None, typer.Option(help="Watch folder for new recordings.")] = None,
    certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    no_workers: Annotated[bool, typer.Option(
        "--no-workers", help="Serve only: no pipeline worker in this process.")] = False,
) -> None:
    """Web UI + REST API + embedded pipeline workers (HTTPS with --certfile/--keyfile).
    With ROKUON_BROKER_URL the pipeline runs in `rokuon worker` processes instead."""
    import uvicorn

    from rokuon.web.app import create_app

    if bool(certfile) != bool(keyfile):
        fail("--certfile and --keyfile go together")
    for f in (certfile, keyfile):
        if f is not None and not f.is_file():
            fail(f"{f}: no such file")
    rt = _runtime()
    _refuse_unusable(rt)
    if workers:
        rt.settings.workers = workers
    if watch:
        rt.settings.watch_dir = watch
    scheme = "https" if certfile else "http"
    if scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("warning: serving without TLS on a non-local address; use --certfile/"
                   "--keyfile or a TLS-terminating proxy", err=True)
    typer.echo(f"rokuon serving on {scheme}://{host}:{port}/", err=True)
    uvicorn.run(create_app(rt, start_workers=not no_workers), host=host, port=port,
                log_level="info",
                ssl_certfile=str(certfile) if certfile else None,
                ssl_keyfile=str(keyfile) if keyfile else None)


@app.command()
def worker(
    until_idle: Annotated[bool, typer.Option("--until-idle",
                                             help="Exit when no job is left.")] = False,
    workers: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Worker processes (Celery) or threads (in-process).")] = None,
    queues: Annotated[str, typer.Option(
        help="Celery queues to serve: transcribe, analyze or both.")] = "transcribe,analyze",
    beat: Annotated[bool, typer.Option(
        "--beat", help="Also run the cluster's beat (one wins the beat lock).")] = False,
    beat_only: Annotated[bool, typer.Option(
        "--beat-only", help="Run only the cluster's beat (Celery).")] = False,
) -> None:
    """Run pipeline workers without the web server (scale-out or catch-up). With
    ROKUON_BROKER_URL set: a Celery worker on the given queues (docs/scale.md)."""
    import time

    from rokuon.pipeline.executor import EmbeddedExecutor, run_one, worker_name

    rt = _runtime()
    _refuse_unusable(rt)
    if rt.settings.broker_url and not until_idle:
        from rokuon.pipeline.celery_worker import run_celery_worker

        try:
            run_celery_worker(rt, queues=queues, concurrency=concurrency or workers or 1,
                              beat=beat or beat_only, beat_only=beat_only)
        except ValueError as exc:
            fail(str(exc))
        return
    if beat or beat_only or queues != "transcribe,analyze":
        fail("--queues, --beat and --beat-only need a broker (ROKUON_BROKER_URL)")
    if until_idle:
        name = worker_name()
        while run_one(rt, name):
            pass
        _leave_after_engines(rt)
        return
    ex = EmbeddedExecutor(rt, concurrency or workers)
    ex.start()
    typer.echo(f"rokuon worker running ({ex.n} threads); Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        ex.stop(timeout=30)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Recordings to import.")],
    meta: Annotated[Path | None, typer.Option(help="Metadata JSON for the call(s).")] = None,
    channels: Annotated[str | None, typer.Option(
        help="Stereo channel roles, left,right (default agent,customer).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Return after analysis.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Import recordings (WAV/G.711, MP3, OGG/Opus, FLAC, M4A)."""
    from rokuon.calls.ingest import ingest_files
    from rokuon.calls.metadata import validate_channel_roles
    from rokuon.pipeline.executor import run_until_done
    from rokuon.store.models import Call

    roles = None
    if channels:
        try:
            roles = validate_channel_roles([c.strip() for c in channels.split(",")])
        except ValueError as exc:
            fail(f"--channels: {exc}")
    rt = _runtime()
    results = ingest_files(rt, files, meta_path=meta, channels=roles, actor=Principal.cli())
    new_ids = [r.call_id for r in results if r.status == "stored" and r.call_id]
    if wait and new_ids:
        run_until_done(rt, new_ids)
    out = []
    with rt.db.session() as s:
        for r in results:
            d = r.as_dict()
            cid = r.call_id or r.duplicate_of
            if cid:
                d["call_id"] = cid
                call = s.get(Call, cid)
                if call is not None and r.status != "duplicate":
                    d["status"] = call.status
                    if call.status_reason:
                        d["reason"] = call.status_reason
            out.append(d)
    if json_:
        emit_json({"calls": out})
    else:
        for d in out:
            if d["status"] == "error":
                continue
            extra = f" (duplicate of {d['duplicate_of']})" if d.get("duplicate_of") else ""
            typer.echo(f"{d['file']}: {d['status']} {d.get('call_id', '')}{extra}")
    errors = [d for d in out if d["status"] == "error" or d.get("status") == "failed"]
    for d in errors:
        typer.echo("rokuon: " + (d.get("error") or f"{d['file']}: {d.get('reason')}"), err=True)
    if wait and new_ids:
        _leave_after_engines(rt, 1 if errors else 0)
    if errors:
        raise typer.Exit(1)


@calls_app.command("list")
def calls_list(
    since: SinceOpt = None,
    until: UntilOpt = None,
    agent: AgentOpt = None,
    direction: DirectionOpt = None,
    team: Annotated[str | None, typer.Option(help="Team (metadata team or queue).")] = None,
    flag: Annotated[str | None, typer.Option(
        help="complaint, churn, negative, no_announcement, qa_failed, ng or pii.")] = None,
    min_score: Annotated[float | None, typer.Option(help="QA score at least.")] = None,
    max_score: Annotated[float | None, typer.Option(help="QA score at most.")] = None,
    keyword: Annotated[str | None, typer.Option(help="A keyword heard in the call.")] = None,
    customer_number: Annotated[str | None, typer.Option(
        help="Digits compared; the end of the number is enough (4 digits or more).")] = None,
    sort: Annotated[str, typer.Option(help="started, duration, qa or agent.")] = "started",
    asc: Annotated[bool, typer.Option("--asc", help="Ascending (default: descending).")
                   ] = False,
    limit: Annotated[int, typer.Option(help="At most this many calls.")] = 200,
    json_: JsonOpt = False,
) -> None:
    """List calls, newest first (or as --sort says), with their QA score and flags."""
    from dataclasses import replace

    from rokuon.calls.listing import ListError, page

    f = replace(_filter(since, until, agent, direction, limit), team=team, flag=flag,
                min_score=min_score, max_score=max_score, keyword=keyword,
                customer_number=customer_number, sort=sort, descending=not asc)
    rt = _runtime()
    try:
        with rt.db.session() as s:
            result = page(s, Principal.cli(), f, rt.settings.timezone)
    except ListError as exc:
        fail(str(exc))
    if json_:
        emit_json({"calls": result["calls"], "total": result["total"]})
        return
    for r in result["calls"]:
        qa = "-" if r.get("qa_score") is None else f"QA {r['qa_score']:.0f}"
        typer.echo(f"{r['call_id']}  {r['started_at'] or '-':25}  {r['duration_s']:7.1f}s  "
                   f"{r['agent'] or '-':12}  {r['status']:10}  {qa}  {' '.join(r['flags'])}")


def _filter(since: str | None, until: str | None, agent: str | None, direction: str | None,
            limit: int):  # type: ignore[no-untyped-def]
    from rokuon.calls.service import CallFilter

    if direction and direction not in ("inbound", "outbound"):
        fail(f"--direction: '{direction}' must be inbound or outbound")
    return CallFilter(since=option_date("since", since), until=option_date("until", until),
                      agent=agent,
                      direction=direction, limit=limit)


@calls_app.command("show")
def calls_show(
    call_id: Annotated[str, typer.Argument(help="The call id.")],
    words: Annotated[bool, typer.Option("--words", help="Include word timings.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Show one call (the call document)."""
    from rokuon.access.door import NotFound
    from rokuon.calls.service import show_call

    rt = _runtime()
    try:
        with rt.db.session() as s:
            doc = show_call(s, Principal.cli(), call_id, rt.settings.timezone, with_words=words)
    except NotFound as exc:
        fail(str(exc))
    if json_:
        emit_json(doc)
        return
    typer.echo(f"call {doc['call_id']}  {doc['status']}  {doc['started_at']}  "
               f"{doc['duration_s']}s  agent={doc['agent']}")
    for seg in doc["segments"]:
        typer.echo(f"[{seg['start']:7.2f}-{seg['end']:7.2f}] {seg['speaker']:9} {seg['text']}")


@calls_app.command("retry")
def calls_retry(call_id: Annotated[str, typer.Argument(help="A failed call's id.")]) -> None:
    """Put a failed call back into the pipeline."""
    from rokuon.pipeline.jobs import retry_failed

    rt = _runtime()
    with rt.db.session() as s:
        n = retry_failed(s, call_id)
    if not n:
        fail(f"call {call_id} has no failed step")
    typer.echo(f"call {call_id}: requeued")


@calls_app.command("reanalyze")
def calls_reanalyze(
    call_ids: Annotated[list[str] | None, typer.Argument(help="Call ids (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every analysed call.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Return when done.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run the analyzers again (after changing word lists, patterns or scorecards, or
    upgrading rokuon). Results of older analyzer versions are kept."""
    from sqlalchemy import select

    from rokuon.access import audit
    from rokuon.pipeline.executor import run_until_done
    from rokuon.pipeline.jobs import rerun
    from rokuon.store.models import Call, CallStatus

    if not call_ids and not all_:
        fail("name call ids or use --all")
    rt = _runtime()
    queued: list[str] = []
    with rt.db.session() as s:
        ids = list(call_ids or []) or list(s.scalars(select(Call.id).where(
            Call.status.in_([CallStatus.ANALYZED, CallStatus.INDEXED]),
            Call.use_stopped_at.is_(None))))  # stopped calls are out of analytics
        for cid in ids:
            if rerun(s, cid, "analyze"):
                queued.append(cid)
        audit.record(s, Principal.cli(), "call.reanalyze", object_type="call",
                     object_id=None, detail={"calls": len(queued)})
    missing = sorted(set(call_ids or []) - set(queued))
    if wait and queued:
        run_until_done(rt, queued)
        typer.echo(f"{len(queued)} call(s) analysed", err=True)
    if json_:
        emit_json({"queued": queued, "skipped": missing})
    else:
        typer.echo(f"{len(queued)} call(s) queued for analysis"
                   + (f"; skipped (unknown or busy): {', '.join(missing)}" if missing else ""))
    if missing and not queued:
        fail("no call could be queued")
    if wait and queued:
        _leave_after_engines(rt)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Text to find (Japanese or other).")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    agent: AgentOpt = None,
    direction: DirectionOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many hits.")] = 100,
    cursor: Annotated[str | None, typer.Option(
        "--cursor", "--after",
        help="Continue after this page (the next_cursor of the previous one).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Full-text search over transcripts, by text and by reading (解約 finds 開約)."""
    from rokuon.calls.search_cursor import CursorError
    from rokuon.calls.service import search_page

    f = _filter(since, until, agent, direction, limit)
    rt = _runtime()
    with rt.db.session() as s:
        try:
            page = search_page(s, Principal.cli(), query, f, rt.settings.timezone,
                               cursor=cursor)
        except CursorError as exc:
            fail(str(exc))
    if json_:
        emit_json(page)
        return
    for h in page["hits"]:
        how = "  (matched by reading)" if h.get("matched") == "reading" else ""
        typer.echo(f"{h['call_id']}  {h['start']:7.2f}  {h['speaker']:9} {h['text']}{how}")
    if page["next_cursor"]:
        typer.echo(f"-- more: --cursor {page['next_cursor']}", err=True)


@calls_app.command("delete")
def calls_delete(
    call_id: Annotated[str, typer.Argument(help="The call to erase.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the deletion record).")],
    json_: JsonOpt = False,
) -> None:
    """Erase a call: crypto-shred the audio, remove derived data, keep a deletion record."""
    from rokuon.calls.erase import EraseRefused, erase_call

    rt = _runtime()
    try:
        rec = erase_call(rt, Principal.cli(), call_id, reason=reason)
    except EraseRefused as exc:
        fail(str(exc))
    if json_:
        emit_json({"call_id": call_id, "deleted": True, "deletion_record": rec.id,
                   "method": rec.method})
    else:
        typer.echo(f"call {call_id} erased (deletion record {rec.id})")


@audit_app.command("verify")
def audit_verify(
    public_key: Annotated[Path | None, typer.Option(
        help="Check checkpoints against this Ed25519 public key (PEM).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Check the whole audit chain; exit 0 only when intact."""
    from rokuon.access import audit

    rt = _runtime()
    pem = public_key.read_bytes() if public_key else None
    with rt.db.session() as s:
        res = audit.verify(s, public_pem=pem)
        audit.record(s, Principal.cli(), "audit.verify", outcome="ok" if res.ok else "broken",
                     detail={"entries": res.entries, "first_bad": res.first_bad})
    if json_:
        emit_json(res.as_dict())
    elif res.ok:
        typer.echo(f"audit log intact: {res.entries} entries, "
                   f"{res.checkpoints_ok} signed checkpoint(s) verified")
    if not res.ok:
        fail(f"audit log broken at entry {res.first_bad}: {res.reason}")


@audit_app.command("list")
def audit_list(
    since: SinceOpt = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Action prefix, e.g. call.play")] = None,
    call: Annotated[str | None, typer.Option(help="Only entries about this call.")] = None,
    outcome: Annotated[str | None, typer.Option(
        help="ok, denied, failed, break_glass (accesses to review), locked…")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write CSV here.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Query the audit log (for auditors); CSV export."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rokuon.access import audit

    rt = _runtime()
    d = _filter(since, None, None, None, limit).since
    start = datetime.combine(d, datetime.min.time(), tzinfo=ZoneInfo(rt.settings.timezone)) \
        if d else None
    with rt.db.session() as s:
        rows = audit.query(s, since=start, actor=actor, action=action, object_id=call,
                           outcome=outcome, limit=limit)
        out = [audit.as_row(e) for e in rows]
        csv_text = audit.to_csv(rows) if csv_out else None
        audit.record(s, Principal.cli(), "audit.export" if csv_out else "audit.query",
                     detail={"rows": len(out), "action": action, "actor": actor})
    if csv_out and csv_text is not None:
        csv_out.write_text(csv_text, encoding="utf-8")
    if json_:
        emit_json({"entries": out})
    elif not csv_out:
        for e in out:
            typer.echo(f"{e['seq']}\t{e['at']}\t{e['actor']}\t{e['action']}\t"
                       f"{e['object_id'] or '-'}\t{e['purpose'] or '-'}\t{e['outcome']}")


@audit_app.command("checkpoint")
def audit_checkpoint(json_: JsonOpt = False) -> None:
    """Sign the current end of the chain (Ed25519)."""
    from rokuon.access import audit

    rt = _runtime()
    with rt.db.session() as s:
        cp = audit.checkpoint(s)
        doc = {"seq": cp.seq, "hash": cp.hash, "signature": cp.signature,
               "key_id": cp.key_id}
    emit_json(doc) if json_ else typer.echo(f"checkpoint at seq {cp.seq} signed")


@audit_app.command("export-checkpoints")
def audit_export_checkpoints(
    out: Annotated[Path, typer.Argument(help="JSON file for the outside verifier.")],
) -> None:
    """Public key + signed checkpoints, for verification outside rokuon."""
    from rokuon.access import audit

    rt = _runtime()
    with rt.db.session() as s:
        doc = audit.export_checkpoints(s)
    import json

    out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    typer.echo(f"{len(doc['checkpoints'])} checkpoint(s) written to {out}")


@keys_app.command("rotate")
def keys_rotate(json_: JsonOpt = False) -> None:
    """New key-encryption key; every call's data key is re-wrapped (audio untouched)."""
    from rokuon.store.keys import KeyProviderError
    from rokuon.store.rotation import rotate_kek

    rt = _runtime()
    try:
        new_id, n = rotate_kek(rt, Principal.cli())
    except KeyProviderError as exc:
        fail(str(exc))
    if json_:
        emit_json({"kek_id": new_id, "rewrapped": n})
    else:
        typer.echo(f"new key {new_id}; {n} data key(s) re-wrapped")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Argument(help="The user the token acts as.")],
    scope: Annotated[list[str], typer.Option(help="calls:read, audio:read, calls:write, "
                                                  "audit:read (repeatable)")],
    days: Annotated[int, typer.Option(help="Valid for this many days (max 365).")] = 30,
    name: Annotated[str, typer.Option(help="A label.")] = "script",
    json_: JsonOpt = False,
) -> None:
    """Create a scoped, expiring API token (shown once, stored hashed)."""
    from rokuon.users.tokens import TokenError, create_token

    rt = _runtime()
    try:
        with rt.db.session() as s:
            token, row = create_token(s, Principal.cli(), email, scope, days=days, name=name)
            doc = {"token": token, "id": row.id, "expires_at": row.expires_at.isoformat(),
                   "scopes": row.scopes}
    except TokenError as exc:
        fail(str(exc))
    emit_json(doc) if json_ else typer.echo(f"token (shown once): {token}")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="Token id.")]) -> None:
    """Revoke an API token."""
    from rokuon.users.tokens import TokenError, revoke_token

    rt = _runtime()
    try:
        with rt.db.session() as s:
            revoke_token(s, Principal.cli(), token_id)
    except TokenError as exc:
        fail(str(exc))
    typer.echo(f"token {token_id} revoked")


@hold_app.command("add")
def hold_add(
    reason: Annotated[str, typer.Option(help="Why (litigation, complaint, authority…).")],
    call: Annotated[str | None, typer.Option("--call", help="Hold one call.")] = None,
    customer_number: Annotated[str | None, typer.Option(
        help="Hold every call of this customer number.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Put calls under legal hold: retention and erasure skip them."""
    from rokuon.compliance.holds import HoldError, add_hold

    f = _filter(since, until, None, None, 1)
    rt = _runtime()
    try:
        with rt.db.session() as s:
            hold = add_hold(s, Principal.cli(), reason=reason, call_id=call,
                            customer_number=customer_number, date_from=f.since,
                            date_to=f.until, tz=rt.settings.timezone)
            hold_id = hold.id
    except HoldError as exc:
        fail(str(exc))
    emit_json({"hold_id": hold_id}) if json_ else typer.echo(f"hold {hold_id} added")


@hold_app.command("release")
def hold_release(hold_id: Annotated[int, typer.Argument(help="The hold id.")],
                 json_: JsonOpt = False) -> None:
    """Release a legal hold."""
    from rokuon.compliance.holds import HoldError, release_hold

    rt = _runtime()
    try:
        with rt.db.session() as s:
            release_hold(s, Principal.cli(), hold_id)
    except HoldError as exc:
        fail(str(exc))
    emit_json({"hold_id": hold_id, "released": True}) if json_ else \
        typer.echo(f"hold {hold_id} released")


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Erase calls whose retention period ended (held calls are kept and listed)."""
    from rokuon.compliance.retention import run_retention

    rt = _runtime()
    rep = run_retention(rt, Principal.cli(), dry_run=dry_run)
    if json_:
        emit_json(rep.as_dict())
    else:
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"{verb} {len(rep.deleted)} call(s); {len(rep.held)} held")
    if rep.failed:
        fail(f"{len(rep.failed)} call(s) could not be erased: "
             + "; ".join(f"{k}: {v}" for k, v in rep.failed.items()))


app.add_typer(compliance_app, name="compliance")
app.add_typer(dsar_app, name="dsar")
app.add_typer(provision_app, name="provision")
app.add_typer(pci_app, name="pci")
app.add_typer(report_app, name="report")

if __name__ == "__main__":  # pragma: no cover
    main()
