"""Call detail records (CDRs) as the telephony systems write them, parsed into one shape.

- ``asterisk``: ``cdr_csv`` (``Master.csv``): no header, every string quoted, 16 columns
  (``accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
  answer, end, duration, billsec, disposition, amaflags``) plus ``uniqueid`` and/or
  ``userfield`` (``loguniqueid``/``loguserfield``) and ``peeraccount, linkedid, sequence``
  (``newcdrcolumns``) — 16 to 21 columns. A header row with those names is also accepted
  (``calldate`` for ``start``, as in database exports). Without ``uniqueid`` the record's
  id is a hash of its start, parties and channels (re-importing it is still idempotent).
- ``freeswitch``: ``mod_cdr_csv`` with the stock ``example`` template — ``caller_id_name,
  caller_id_number, destination_number, context, start_stamp, answer_stamp, end_stamp,
  duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode[, read_codec, write_codec
  [, …]]`` (13, 15, 17 or 20 columns), or any template with a header row of variable names.
- ``twilio-csv`` / ``twilio-json``: the Call resource (``sid, parent_call_sid, from, to,
  status, start_time, end_time, duration, direction, …``); JSON as a list, a REST page
  ``{"calls": […]}`` or one record per line (BulkExport). CSV headers may be the API's
  names or title case (``Call Sid``, ``Start Time``).

Times without an offset are in the given time zone (Asterisk and FreeSWITCH write local
time). Every error names the file, the row and the field."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

FORMATS = ("asterisk", "freeswitch", "twilio-csv", "twilio-json")
SOURCE = {"asterisk": "asterisk", "freeswitch": "freeswitch", "twilio-csv": "twilio",
          "twilio-json": "twilio"}
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
MAX_FIELD = 200


class CdrFormatError(ValueError):
    """Bad input: the message names the file, row and field."""


@dataclass
class CdrRow:
    row: int
    source: str
    unique_id: str
    related_id: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int
    billsec: int
    disposition: str
    raw_status: str | None
    src: str | None
    dst: str | None
    direction: str | None
    channel: str | None
    dst_channel: str | None
    queue: str | None
    account: str | None

    def values(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("row")
        return d


@dataclass
class Parsed:
    rows: list[CdrRow]
    skipped: list[dict[str, Any]]


class _Ctx:
    def __init__(self, name: str, tz: str) -> None:
        self.name, self.tz = name, ZoneInfo(tz)

    def err(self, row: int | None, field: str | None, msg: str) -> CdrFormatError:
        where = self.name + (f": row {row}" if row is not None else "")
        return CdrFormatError(where + (f": field '{field}'" if field else "") + f": {msg}")

    def text(self, v: Any, row: int, field: str) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            raise self.err(row, field, f"expected text, got {type(v).__name__}")
        s = str(v).strip()
        if len(s) > MAX_FIELD:
            raise self.err(row, field, f"longer than {MAX_FIELD} characters")
        return s or None

    def time(self, v: Any, row: int, field: str, *, required: bool = False) -> datetime | None:
        s = self.text(v, row, field)
        if s is None:
            if required:
                raise self.err(row, field, "missing (a date and time is required)")
            return None
        at: datetime | None = None
        try:
            at = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            try:
                at = parsedate_to_datetime(s)  # RFC 2822, as the Twilio REST API writes
            except (TypeError, ValueError, IndexError):
                at = None
        if at is None:
            raise self.err(row, field, f"'{s}' is not a date and time (expected "
                                       "YYYY-MM-DD HH:MM:SS, ISO 8601 or RFC 2822)")
        return at if at.tzinfo else at.replace(tzinfo=self.tz)

    def seconds(self, v: Any, row: int, field: str) -> int:
        s = self.text(v, row, field)
        if s is None:
            return 0
        if re.fullmatch(r"\d+(\.\d+)?", s):
            return int(round(float(s)))
        m = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{2})", s)
        if m:
            return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
        raise self.err(row, field, f"'{s}' is not a number of seconds")


def decode(data: bytes, name: str, encoding: str) -> str:
    try:
        codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") \
            else encoding
        return data.decode(codec)
    except LookupError:
        raise CdrFormatError(f"{name}: unknown encoding '{encoding}' "
                             "(e.g. utf-8, cp932, euc-jp)") from None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CdrFormatError(
            f"{name}: row {line}: not {encoding} text (byte 0x{data[exc.start]:02x}); "
            "give the file's encoding with --encoding (e.g. cp932)") from None


def _csv_rows(text: str, ctx: _Ctx) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        begins = reader.line_num + 1  # the line this record starts on
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ctx.err(begins, None, f"malformed CSV ({exc})") from None
        if fields and any(f.strip() for f in fields):
            out.append((begins, fields))
    if not out:
        raise ctx.err(None, None, "no records in the file")
    return out


def _key(h: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", h.strip().lower()).strip("_")


def _header(fields: list[str], known: set[str], aliases: dict[str, str], required: set[str],
            ctx: _Ctx, allow_unknown: bool) -> list[str | None]:
    cols: list[str | None] = []
    unknown: list[str] = []
    for h in fields:
        k = _key(h)
        k = aliases.get(k, k)
        if k in known:
            if k in cols:
                raise ctx.err(1, h, "the column appears twice in the header")
            cols.append(k)
        else:
            cols.append(None)
            unknown.append(h)
    if unknown and not allow_unknown:
        raise ctx.err(1, None, f"unknown column(s) {', '.join(map(repr, unknown))} "
                               "(--allow-unknown-columns ignores them)")
    missing = sorted(required - {c for c in cols if c})
    if missing:
        raise ctx.err(1, None, f"required column(s) missing: {', '.join(missing)}")
    return cols


def _named(cols: list[str | None], fields: list[str], row: int, ctx: _Ctx) -> dict[str, str]:
    if len(fields) != len(cols):
        raise ctx.err(row, None, f"{len(fields)} columns; the header has {len(cols)}")
    return {c: f for c, f in zip(cols, fields, strict=True) if c}


# --- Asterisk ----------------------------------------------------------------------

_AST_BASE = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
             "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
             "disposition", "amaflags"]
_AST_NEW = ["peeraccount", "linkedid", "sequence"]
_AST_KNOWN = set(_AST_BASE) | {"uniqueid", "userfield"} | set(_AST_NEW)
_AST_DISP = {"ANSWERED": "ANSWERED", "NO ANSWER": "NO ANSWER", "BUSY": "BUSY",
             "FAILED": "FAILED", "CONGESTION": "FAILED"}
_UNIQUEID = re.compile(r"^[\w.-]*\d+\.\d+$")


def _ast_layout(fields: list[str]) -> list[str] | None:
    n = len(fields)
    extra = n - 16
    if extra == 0:
        return list(_AST_BASE)
    if extra in (1, 4):  # uniqueid or userfield (+ the new columns)
        one = "uniqueid" if _UNIQUEID.match(fields[16].strip()) else "userfield"
        return _AST_BASE + [one] + (_AST_NEW if extra == 4 else [])
    if extra == 2:
        return _AST_BASE + ["uniqueid", "userfield"]
    if extra == 3:
        return _AST_BASE + _AST_NEW
    if extra == 5:
        return _AST_BASE + ["uniqueid", "userfield"] + _AST_NEW
    return None


def _asterisk(text: str, ctx: _Ctx, allow_unknown: bool) -> Parsed:
    rows = _csv_rows(text, ctx)
    cols: list[str | None] | None = None
    first = {_key(f) for f in rows[0][1]}
    if {"disposition", "billsec"} <= first:
        cols = _header(rows[0][1], _AST_KNOWN, {"calldate": "start"},
                       {"src", "dst", "start", "duration", "billsec", "disposition"},
                       ctx, allow_unknown)
        rows = rows[1:]
    out: list[CdrRow] = []
    for line, fields in rows:
        if cols is not None:
            d = _named(cols, fields, line, ctx)
        else:
            layout = _ast_layout(fields)
            if layout is None:
                raise ctx.err(line, None, f"{len(fields)} columns; Asterisk cdr_csv writes "
                                          "16 to 21 (is this the right --format?)")
            d = dict(zip(layout, fields, strict=True))
        out.append(_ast_row(d, line, ctx))
    return Parsed(out, [])


def _ast_row(d: dict[str, str], line: int, ctx: _Ctx) -> CdrRow:
    disp_raw = (ctx.text(d.get("disposition"), line, "disposition") or "").upper()
    if disp_raw not in _AST_DISP:
        raise ctx.err(line, "disposition", f"'{disp_raw}' is not one of ANSWERED, "
                                           "NO ANSWER, BUSY, FAILED, CONGESTION")
    start = ctx.time(d.get("start"), line, "start", required=True)
    answer = ctx.time(d.get("answer"), line, "answer")
    end = ctx.time(d.get("end"), line, "end")
    assert start is not None
    src, dst = ctx.text(d.get("src"), line, "src"), ctx.text(d.get("dst"), line, "dst")
    channel = ctx.text(d.get("channel"), line, "channel")
    dst_channel = ctx.text(d.get("dstchannel"), line, "dstchannel")
    uid = ctx.text(d.get("uniqueid"), line, "uniqueid")
    if uid is None:
        basis = "|".join([start.isoformat(), src or "", dst or "", channel or "",
                          dst_channel or "", ctx.text(d.get("lastapp"), line, "lastapp") or ""])
        uid = "h-" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    linked = ctx.text(d.get("linkedid"), line, "linkedid")
    queue = None
    if (ctx.text(d.get("lastapp"), line, "lastapp") or "").lower() == "queue":
        queue = (ctx.text(d.get("lastdata"), line, "lastdata") or "").split(",")[0] or None
    return CdrRow(
        row=line, source="asterisk", unique_id=uid,
        related_id=linked if linked and linked != uid else None,
        started_at=start, answered_at=answer, ended_at=end,
        duration_s=ctx.seconds(d.get("duration"), line, "duration"),
        billsec=ctx.seconds(d.get("billsec"), line, "billsec"),
        disposition=_AST_DISP[disp_raw], raw_status=disp_raw, src=src, dst=dst,
        direction=None, channel=channel, dst_channel=dst_channel, queue=queue,
        account=ctx.text(d.get("accountcode"), line, "accountcode"))


# --- FreeSWITCH --------------------------------------------------------------------

_FS_EXAMPLE = ["caller_id_name", "caller_id_number", "destination_number", "context",
               "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec",
               "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
               "write_codec", "sip_user_agent", "sip_p_rtp_stat", "call_clientcode",
               "sip_rtp_rxstat", "sip_rtp_txstat", "sofia_record_file"]
_FS_LAYOUTS = {13: _FS_EXAMPLE[:13], 15: _FS_EXAMPLE[:15], 17: _FS_EXAMPLE[:17],
               20: _FS_EXAMPLE[:16] + _FS_EXAMPLE[17:]}
_FS_KNOWN = set(_FS_EXAMPLE) | {"channel_name", "direction", "cc_queue", "ani",
                                 "signal_bond", "last_app", "last_arg", "caller_id",
                                 "bridge_channel", "userfield", "amaflags"}
_FS_BUSY = {"USER_BUSY"}
_FS_NOANSWER = {"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "CALL_REJECTED",
                "ALLOTTED_TIMEOUT", "PICKED_OFF", "LOSE_RACE", "NORMAL_CLEARING"}


def _freeswitch(text: str, ctx: _Ctx, allow_unknown: bool) -> Parsed:
    rows = _csv_rows(text, ctx)
    cols: list[str | None] | None = None
    if {"uuid", "start_stamp"} <= {_key(f) for f in rows[0][1]}:
        cols = _header(rows[0][1], _FS_KNOWN, {}, {"uuid", "start_stamp", "hangup_cause"},
                       ctx, allow_unknown)
        rows = rows[1:]
    out: list[CdrRow] = []
    for line, fields in rows:
        if cols is not None:
            d = _named(cols, fields, line, ctx)
        else:
            layout = _FS_LAYOUTS.get(len(fields))
            if layout is None:
                raise ctx.err(line, None, f"{len(fields)} columns; the stock FreeSWITCH "
                                          "template writes 13, 15, 17 or 20 (add a header "
                                          "row of variable names for another template)")
            d = dict(zip(layout, fields, strict=True))
        out.append(_fs_row(d, line, ctx))
    return Parsed(out, [])


def _fs_row(d: dict[str, str], line: int, ctx: _Ctx) -> CdrRow:
    uid = ctx.text(d.get("uuid"), line, "uuid")
    if not uid:
        raise ctx.err(line, "uuid", "missing (every record needs its call's uuid)")
    cause = (ctx.text(d.get("hangup_cause"), line, "hangup_cause") or "").upper()
    if not re.fullmatch(r"[A-Z_0-9]+", cause):
        raise ctx.err(line, "hangup_cause", f"'{cause}' is not a FreeSWITCH hangup cause")
    start = ctx.time(d.get("start_stamp"), line, "start_stamp", required=True)
    assert start is not None
    answer = ctx.time(d.get("answer_stamp"), line, "answer_stamp")
    billsec = ctx.seconds(d.get("billsec"), line, "billsec")
    if answer is not None or billsec > 0:
        disp = "ANSWERED"
    elif cause in _FS_BUSY:
        disp = "BUSY"
    elif cause in _FS_NOANSWER:
        disp = "NO ANSWER"
    else:
        disp = "FAILED"
    direction = ctx.text(d.get("direction"), line, "direction")
    return CdrRow(
        row=line, source="freeswitch", unique_id=uid,
        related_id=ctx.text(d.get("bleg_uuid"), line, "bleg_uuid"),
        started_at=start, answered_at=answer,
        ended_at=ctx.time(d.get("end_stamp"), line, "end_stamp"),
        duration_s=ctx.seconds(d.get("duration"), line, "duration"), billsec=billsec,
        disposition=disp, raw_status=cause,
        src=ctx.text(d.get("caller_id_number"), line, "caller_id_number"),
        dst=ctx.text(d.get("destination_number"), line, "destination_number"),
        direction=direction if direction in ("inbound", "outbound") else None,
        channel=ctx.text(d.get("channel_name"), line, "channel_name"),
        dst_channel=ctx.text(d.get("bridge_channel"), line, "bridge_channel"),
        queue=ctx.text(d.get("cc_queue"), line, "cc_queue"),
        account=ctx.text(d.get("accountcode"), line, "accountcode"))


# --- Twilio ------------------------------------------------------------------------

_TW_KNOWN = {"sid", "parent_call_sid", "from", "to", "status", "start_time", "end_time",
             "duration", "direction", "date_created", "date_updated", "account_sid",
             "to_formatted", "from_formatted", "phone_number_sid", "price", "price_unit",
             "answered_by", "api_version", "forwarded_from", "group_sid", "caller_name",
             "queue_time", "trunk_sid", "uri", "subresource_uris", "annotation", "type"}
_TW_ALIASES = {"call_sid": "sid", "callsid": "sid", "parentcallsid": "parent_call_sid",
               "parent_sid": "parent_call_sid", "from_number": "from", "to_number": "to",
               "call_status": "status", "callstatus": "status", "starttime": "start_time",
               "endtime": "end_time", "call_duration": "duration",
               "duration_seconds": "duration", "duration_s": "duration",
               "datecreated": "date_created"}
_TW_REQUIRED = {"sid", "from", "to", "status"}
_TW_STATUS = {"completed": "ANSWERED", "busy": "BUSY", "no-answer": "NO ANSWER",
              "canceled": "NO ANSWER", "failed": "FAILED"}
_TW_OPEN = {"queued", "ringing", "in-progress", "initiated"}


def _twilio_csv(text: str, ctx: _Ctx, allow_unknown: bool) -> Parsed:
    rows = _csv_rows(text, ctx)
    cols = _header(rows[0][1], _TW_KNOWN, _TW_ALIASES, _TW_REQUIRED, ctx, allow_unknown)
    return _twilio([(line, _named(cols, f, line, ctx)) for line, f in rows[1:]], ctx)


def _twilio_json(text: str, ctx: _Ctx, allow_unknown: bool) -> Parsed:
    numbered: list[tuple[int, Any]] = []
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        if "Extra data" not in exc.msg:
            raise ctx.err(exc.lineno, None, f"not valid JSON ({exc.msg})") from None
        for i, line in enumerate(text.splitlines(), start=1):  # one call per line
            if line.strip():
                try:
                    numbered.append((i, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise ctx.err(i, None, f"not valid JSON ({e.msg})") from None
    else:
        if isinstance(doc, dict) and "calls" in doc:
            doc = doc["calls"]
        elif isinstance(doc, dict) and "sid" in doc:
            doc = [doc]
        if not isinstance(doc, list):
            raise ctx.err(None, None, "expected a list of calls, a REST page "
                                      "{\"calls\": [...]} or one call per line")
        numbered = list(enumerate(doc, start=1))
    if not numbered:
        raise ctx.err(None, None, "no records in the file")
    out: list[tuple[int, dict[str, Any]]] = []
    for i, rec in numbered:
        if not isinstance(rec, dict):
            raise ctx.err(i, None, f"a call must be a JSON object, got {type(rec).__name__}")
        d: dict[str, Any] = {}
        for k, v in rec.items():
            key = _TW_ALIASES.get(_key(k), _key(k))
            if key not in _TW_KNOWN:
                if not allow_unknown:
                    raise ctx.err(i, k, "unknown key (--allow-unknown-columns ignores it)")
                continue
            d[key] = v
        missing = sorted(k for k in _TW_REQUIRED if k not in d)
        if missing:
            raise ctx.err(i, None, f"required key(s) missing: {', '.join(missing)}")
        out.append((i, d))
    return _twilio(out, ctx)


def _twilio(records: list[tuple[int, dict[str, Any]]], ctx: _Ctx) -> Parsed:
    rows: list[CdrRow] = []
    skipped: list[dict[str, Any]] = []
    for line, d in records:
        sid = ctx.text(d.get("sid"), line, "sid")
        if not sid or not re.fullmatch(r"CA[0-9a-fA-F]{32}", sid):
            raise ctx.err(line, "sid", f"'{sid or ''}' is not a Twilio CallSid (CA + 32 hex)")
        status = (ctx.text(d.get("status"), line, "status") or "").lower()
        if status in _TW_OPEN:
            skipped.append({"row": line, "unique_id": sid,
                            "reason": f"call not finished ({status}); import it again later"})
            continue
        if status not in _TW_STATUS:
            raise ctx.err(line, "status", f"'{status}' is not a Twilio call status")
        start = ctx.time(d.get("start_time"), line, "start_time") or ctx.time(
            d.get("date_created"), line, "date_created")
        if start is None:
            raise ctx.err(line, "start_time", "missing (and no date_created)")
        dur = ctx.seconds(d.get("duration"), line, "duration")
        disp = _TW_STATUS[status]
        direction = (ctx.text(d.get("direction"), line, "direction") or "").lower()
        rows.append(CdrRow(
            row=line, source="twilio", unique_id=sid,
            related_id=ctx.text(d.get("parent_call_sid"), line, "parent_call_sid"),
            started_at=start, answered_at=start if disp == "ANSWERED" else None,
            ended_at=ctx.time(d.get("end_time"), line, "end_time"),
            duration_s=dur, billsec=dur if disp == "ANSWERED" else 0, disposition=disp,
            raw_status=status, src=ctx.text(d.get("from"), line, "from"),
            dst=ctx.text(d.get("to"), line, "to"),
            direction="inbound" if direction.startswith("inbound")
            else "outbound" if direction.startswith("outbound") else None,
            channel=ctx.text(d.get("trunk_sid"), line, "trunk_sid"), dst_channel=None,
            queue=None, account=ctx.text(d.get("account_sid"), line, "account_sid")))
    return Parsed(rows, skipped)


_PARSERS = {"asterisk": _asterisk, "freeswitch": _freeswitch, "twilio-csv": _twilio_csv,
            "twilio-json": _twilio_json}


def parse(data: bytes, fmt: str, *, name: str, tz: str, encoding: str = "utf-8",
          allow_unknown: bool = False) -> Parsed:
    """Every record of the file, or CdrFormatError naming the first problem; duplicate
    ids within the file are an error (naming both rows)."""
    if fmt not in _PARSERS:
        raise CdrFormatError(f"--format must be one of {', '.join(FORMATS)}; got '{fmt}'")
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise CdrFormatError(f"{name}: row {line}: contains a NUL byte (not a text file?)")
    ctx = _Ctx(name, tz)
    parsed = _PARSERS[fmt](decode(data, name, encoding), ctx, allow_unknown)
    seen: dict[str, int] = {}
    for r in parsed.rows:
        if r.unique_id in seen:
            raise ctx.err(r.row, None, f"the record id {r.unique_id} is already at row "
                                       f"{seen[r.unique_id]} (duplicate row)")
        seen[r.unique_id] = r.row
    return parsed
