"""`rokuon dsar …` and `rokuon provision …`: data subject requests and third-party
provision records (the CLI acts as the local administrator, audited as such)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.orm import Session

from rokuon.access.door import AccessDenied, NotFound
from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail, option_date

dsar_app = typer.Typer(no_args_is_help=True,
                       help="Data subject requests: disclosure (開示), correction, stop-use, "
                            "erasure.")
provision_app = typer.Typer(no_args_is_help=True,
                            help="Records of personal data provided to third parties.")
review_app = typer.Typer(no_args_is_help=True,
                         help="Four-eyes review of a disclosure package: draft, accept/reject/"
                              "add masking spans, approve (a second person), publish.")
dsar_app.add_typer(review_app, name="review")
T = TypeVar("T")
AsOpt = Annotated[str | None, typer.Option(
    "--as", help="E-mail of the compliance officer (or admin) doing this step; the "
                 "four-eyes rule compares it with the draft's builder.")]


def _run(fn: Any) -> Any:  # noqa: ANN401 - maps domain errors to one-line failures
    from rokuon.compliance.dsar import RequestError
    from rokuon.compliance.package import PackageError
    from rokuon.compliance.review import ReviewError

    try:
        return fn()
    except (RequestError, PackageError, ReviewError, AccessDenied, NotFound) as exc:
        fail(str(exc))


def _in_session(rt, fn: Callable[[Session], T]) -> T:  # type: ignore[no-untyped-def]
    """``fn`` in one database transaction; a domain error is a one-line failure."""

    def go() -> T:
        with rt.db.session() as s:
            return fn(s)

    return _run(go)


@dsar_app.command("create")
def create(
    customer_number: Annotated[str | None, typer.Option(help="The customer's number.")] = None,
    name: Annotated[str | None, typer.Option(help="The requester's name (also searched "
                                                  "in what customers said).")] = None,
    kind: Annotated[str, typer.Option(help="disclosure | correction | stop_use | erasure")
                    ] = "disclosure",
    contact: Annotated[str | None, typer.Option(help="How to reach the requester.")] = None,
    detail: Annotated[str | None, typer.Option(help="What the requester asks for.")] = None,
    since: Annotated[str | None, typer.Option(help="Calls on/after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Calls on/before (YYYY-MM-DD).")] = None,
    due_days: Annotated[int, typer.Option(help="Days until the answer is due.")] = 14,
    json_: JsonOpt = False,
) -> None:
    """Open a request and locate the customer's calls."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> dict[str, Any]:
        req = dsar.create_request(
            s, Principal.cli(), kind=kind, customer_number=customer_number, name=name,
            contact=contact, detail=detail, date_from=option_date("since", since),
            date_to=option_date("until", until), due_days=due_days, tz=rt.settings.timezone)
        return dsar.describe(s, req)

    doc = _in_session(rt, go)
    if json_:
        emit_json(doc)
    else:
        typer.echo(f"request {doc['request_id']} ({doc['kind']}), due {doc['due_at'][:10]}: "
                   f"{len(doc['calls'])} call(s) located")


@dsar_app.command("show")
def show(request_id: str, json_: JsonOpt = False) -> None:
    """A request with its calls, decisions and identity check."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> dict[str, Any]:
        dsar._guard(Principal.cli())
        return dsar.describe(s, dsar._get(s, request_id))

    doc = _in_session(rt, go)
    if json_:
        emit_json(doc)
        return
    typer.echo(f"request {doc['request_id']} {doc['kind']} {doc['status']} due {doc['due_at']}")
    for d in doc["decisions"]:
        typer.echo(f"  {d['call_id']}  {d['decision']}  {d['reason'] or ''}")


@dsar_app.command("list")
def list_(overdue: Annotated[bool, typer.Option(help="Only open requests due within a day "
                                                     "or late.")] = False,
          json_: JsonOpt = False) -> None:
    """Requests, oldest deadline first."""
    from sqlalchemy import select

    from rokuon.compliance import dsar
    from rokuon.store.models import DataRequest

    rt = _runtime()
    with rt.db.session() as s:
        reqs = dsar.overdue(s) if overdue else list(s.scalars(
            select(DataRequest).order_by(DataRequest.due_at)))
        docs = [dsar.describe(s, r) for r in reqs]
    if json_:
        emit_json({"requests": docs})
        return
    for d in docs:
        typer.echo(f"{d['request_id']}  {d['kind']:10} {d['status']:9} due {d['due_at'][:10]}  "
                   f"{len(d['calls'])} call(s)")


@dsar_app.command("verify")
def verify(request_id: str,
           method: Annotated[str, typer.Option(help="How the identity was checked.")],
           note: Annotated[str | None, typer.Option()] = None) -> None:
    """Record the requester's identity verification."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> None:
        dsar.verify_identity(s, Principal.cli(), request_id, method=method, note=note)

    _in_session(rt, go)
    typer.echo(f"request {request_id}: identity verified ({method})")


@dsar_app.command("decide")
def decide(request_id: str,
           decision: Annotated[str, typer.Option(help="disclose | partial | refuse")],
           call: Annotated[str | None, typer.Option(help="One call (default: every "
                                                         "pending one).")] = None,
           ground: Annotated[str | None, typer.Option(
               help="For refuse/partial: harm | business | law | not_found "
                    "(APPI art. 33(2)).")] = None) -> None:
    """Decide on the located calls."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> int:
        return len(dsar.decide(s, Principal.cli(), request_id, decision, call_id=call,
                               reason=ground))

    n = _in_session(rt, go)
    typer.echo(f"request {request_id}: {decision} for {n} call(s)")


@dsar_app.command("export")
def export(
    request_id: str,
    out: Annotated[Path, typer.Option("--out", help="Where to write the encrypted ZIP.")],
    password_file: Annotated[Path, typer.Option(help="File holding the ZIP password "
                                                     "(sent to the requester separately).")],
    agent_voice: Annotated[str, typer.Option(help="mute (default) or keep the operator's "
                                                  "voice.")] = "mute",
    link_days: Annotated[int, typer.Option(help="Also publish an expiring download link "
                                                "valid this many days (0: no link).")] = 0,
    json_: JsonOpt = False,
) -> None:
    """Build the masked disclosure package (AES-256 encrypted ZIP)."""
    from rokuon.compliance import package

    try:
        password = password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        fail(f"{password_file}: cannot read the password file: {exc.strerror or exc}")
    if out.exists():
        fail(f"{out}: already exists; not overwritten")
    rt = _runtime()
    blob, record = _run(lambda: package.build(rt, Principal.cli(), request_id,
                                              password=password, agent_voice=agent_voice,
                                              require_identity=False))
    tmp = out.with_name(f".{out.name}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"{out}: cannot write the package: {exc.strerror or exc}")
    doc: dict[str, Any] = {"request_id": request_id, "file": str(out), "bytes": len(blob),
                           "sha256": record["sha256"],
                           "calls": [i["call_id"] for i in record["included"]],
                           "refused": [r["call_id"] for r in record["refused"]],
                           "identity_verified": record["identity_verified"]}
    if link_days > 0:
        token, exp = package.publish(rt, Principal.cli(), request_id, blob,
                                     valid_days=link_days)
        doc["download_path"] = f"/requests/download/{token}"
        doc["link_expires_at"] = exp.expires_at.isoformat()
    if not record["identity_verified"]:
        typer.echo("warning: the requester's identity is not recorded as verified "
                   "(rokuon dsar verify)", err=True)
    if json_:
        emit_json(doc)
    else:
        typer.echo(f"{out}: {len(doc['calls'])} call(s), {len(blob)} bytes, "
                   f"sha256 {record['sha256'][:16]}…")


@dsar_app.command("fee")
def fee(request_id: str, yen: Annotated[int, typer.Option(help="Fee received (円).")]) -> None:
    """Record the fee paid for a disclosure (APPI art. 38)."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> None:
        dsar.record_fee(s, Principal.cli(), request_id, yen)

    _in_session(rt, go)
    typer.echo(f"request {request_id}: fee {yen} yen recorded")


@dsar_app.command("erase")
def erase(request_id: str, json_: JsonOpt = False) -> None:
    """Carry out an erasure request: crypto-shred the located calls; calls under legal
    hold are kept and the refusal recorded. Closes the request."""
    from rokuon.compliance import dsar

    rt = _runtime()
    res = _run(lambda: dsar.erase_request(rt, Principal.cli(), request_id))
    if json_:
        emit_json({"request_id": request_id, **res})
    else:
        typer.echo(f"request {request_id}: {len(res['erased'])} erased, "
                   f"{len(res['refused'])} kept (legal hold)")


@dsar_app.command("close")
def close(request_id: str,
          outcome: Annotated[str, typer.Option(help="What was done (or refused, and why).")]
          ) -> None:
    """Close a request with its outcome."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> None:
        dsar.close(s, Principal.cli(), request_id, outcome)

    _in_session(rt, go)
    typer.echo(f"request {request_id} closed")


@dsar_app.command("stop-use")
def stop_use(call_id: str, reason: Annotated[str, typer.Option()],
             request: Annotated[str | None, typer.Option(help="The request id.")] = None
             ) -> None:
    """Stop using a call: out of analytics, coaching and exports; kept for its legal
    purpose."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> None:
        dsar.stop_use(s, Principal.cli(), call_id, reason=reason, request_id=request)

    _in_session(rt, go)
    typer.echo(f"call {call_id}: use stopped")


@dsar_app.command("correct")
def correct(call_id: str,
            segment: Annotated[int, typer.Option(help="Transcript line number (from 0).")],
            text: Annotated[str, typer.Option(help="The corrected text.")],
            note: Annotated[str | None, typer.Option()] = None,
            request: Annotated[str | None, typer.Option(help="The request id.")] = None
            ) -> None:
    """Correct a transcript line (the original is kept alongside)."""
    from rokuon.compliance import dsar

    rt = _runtime()

    def go(s: Session) -> None:
        dsar.correct(s, Principal.cli(), call_id, segment, text, note=note,
                     request_id=request)

    _in_session(rt, go)
    typer.echo(f"call {call_id}: line {segment} corrected")


@provision_app.command("add")
def provision_add(
    recipient: Annotated[str, typer.Option(help="Who received the data.")],
    basis: Annotated[str, typer.Option(help="Legal basis (consent, contract, law…).")],
    call: Annotated[list[str], typer.Option("--call", help="A call provided (repeat).")],
    json_: JsonOpt = False,
) -> None:
    """Record that recordings were given to a third party (APPI art. 29)."""
    from rokuon.compliance.provision import record_provision

    rt = _runtime()

    def go(s: Session) -> int:
        return record_provision(s, Principal.cli(), recipient=recipient, basis=basis,
                                call_ids=call).id

    pid = _in_session(rt, go)
    emit_json({"provision_id": pid}) if json_ else typer.echo(f"provision {pid} recorded")


@provision_app.command("list")
def provision_list(call: Annotated[str | None, typer.Option(help="Only this call.")] = None,
                   json_: JsonOpt = False) -> None:
    """Who received which recordings, when, on what basis."""
    from rokuon.compliance.provision import list_provisions

    rt = _runtime()
    with rt.db.session() as s:
        rows = list_provisions(s, call_id=call)
    if json_:
        emit_json({"provisions": rows})
        return
    for r in rows:
        typer.echo(f"{r['provided_at'][:19]}  {r['recipient']}  {r['basis']}  "
                   f"{', '.join(r['call_ids'])}")


def _person(rt, email: str | None) -> Principal:  # type: ignore[no-untyped-def]
    """The named user's principal (an enabled admin or compliance account), or the
    local administrator when none is named."""
    from sqlalchemy import func, select

    from rokuon.store.models import User

    if not email:
        return Principal.cli()
    with rt.db.session() as s:
        user = s.scalars(select(User).where(
            func.lower(User.email) == email.strip().lower())).first()
        if user is None or user.disabled:
            fail(f"--as {email}: no such enabled user")
        if user.role not in ("admin", "compliance"):
            fail(f"--as {email}: role {user.role} cannot review disclosures "
                 f"(admin or compliance)")
        return Principal(name=user.email, role=user.role, team=user.team,
                         user_id=user.id, source="cli")


def _emit_review(doc: dict[str, Any], json_: bool) -> None:
    if json_:
        emit_json(doc)
        return
    typer.echo(f"review {doc['review_id']} of request {doc['request_id']}: {doc['status']}, "
               f"built by {doc['built_by']}, {doc['undecided']} undecided")
    for cid, spans in doc["calls"].items():
        typer.echo(f"  call {cid}")
        for sp in spans:
            typer.echo(f"    #{sp['id']} {sp['start']:.2f}-{sp['end']:.2f} {sp['state']:<9} "
                       f"{sp['type']} ({sp['source']}) {sp['text']}")


@review_app.command("draft")
def review_draft(request_id: str, agent_voice: Annotated[str, typer.Option(
        help="mute (default) or keep the operator's voice.")] = "mute",
                 as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Build the package as a draft with the detector's masking suggestions."""
    from rokuon.compliance import review

    rt = _runtime()
    who = _person(rt, as_)
    _emit_review(_run(lambda: review.draft(rt, who, request_id, agent_voice=agent_voice)),
                 json_)


@review_app.command("show")
def review_show(request_id: str, json_: JsonOpt = False) -> None:
    """The request's current review with every span and its state."""
    from rokuon.compliance import dsar, review

    rt = _runtime()

    def go(s: Session) -> dict[str, Any]:
        dsar._get(s, request_id)
        rev = review.latest(s, request_id)
        if rev is None:
            raise review.ReviewError(f"request {request_id} has no review yet "
                                     f"(rokuon dsar review draft)")
        return review.describe(rev)

    _emit_review(_in_session(rt, go), json_)


@review_app.command("span")
def review_span(review_id: int, call_id: str, span_id: int,
                state: Annotated[str, typer.Option(help="accepted | rejected")],
                as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Accept (mask) or reject (do not mask) one suggested span."""
    from rokuon.compliance import review

    rt = _runtime()
    who = _person(rt, as_)
    _emit_review(_in_session(rt, lambda s: review.set_state(s, who, review_id, call_id,
                                                            span_id, state)), json_)


@review_app.command("add")
def review_add(review_id: int, call_id: str,
               start: Annotated[float, typer.Option(help="Span start (seconds).")],
               end: Annotated[float, typer.Option(help="Span end (seconds).")],
               note: Annotated[str | None, typer.Option(help="Why.")] = None,
               as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Add a span the detector missed (bleeped in the audio, its words masked)."""
    from rokuon.compliance import review

    rt = _runtime()
    who = _person(rt, as_)
    _emit_review(_run(lambda: review.add_span(rt, who, review_id, call_id, start=start,
                                              end=end, note=note)), json_)


@review_app.command("approve")
def review_approve(review_id: int, note: Annotated[str | None, typer.Option()] = None,
                   as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Approve the reviewed draft (never by the person who built it)."""
    from rokuon.compliance import review

    rt = _runtime()
    who = _person(rt, as_)
    _emit_review(_in_session(rt, lambda s: review.approve(s, who, review_id, note=note)),
                 json_)


@review_app.command("publish")
def review_publish(review_id: int, password_file: Annotated[Path, typer.Option(
        help="File holding the ZIP password (sent to the requester separately).")],
                   link_days: Annotated[int, typer.Option(help="Link validity (days).")] = 7,
                   as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Build the approved package from its accepted spans and publish the link."""
    from rokuon.compliance import review

    try:
        password = password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        fail(f"{password_file}: cannot read the password file: {exc.strerror or exc}")
    rt = _runtime()
    who = _person(rt, as_)
    token, record = _run(lambda: review.publish(rt, who, review_id, password=password,
                                                valid_days=link_days))
    doc = {"review_id": review_id, "request_id": record["request"]["request_id"],
           "download_path": f"/requests/download/{token}", "expires_at": record["expires_at"],
           "sha256": record["sha256"], "calls": [i["call_id"] for i in record["included"]]}
    if json_:
        emit_json(doc)
    else:
        typer.echo(f"published: {doc['download_path']} (until {doc['expires_at']})")
