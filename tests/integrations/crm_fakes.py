"""Local servers that speak each CRM's REST wire format (request paths, JSON bodies,
auth headers, and their error bodies: Salesforce's ``[{"message","errorCode"}]``,
HubSpot's ``{"status":"error","message","category"}``, kintone's
``{"code","id","message"}``), stateful enough to show upserts."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SF_TASK_FIELDS = {"Subject", "TaskSubtype", "Status", "CallDurationInSeconds",
                  "Description", "CallObject", "CallType", "ActivityDate", "WhoId",
                  "WhatId", "OwnerId", "Priority", "CallDisposition"}
HS_CALL_PROPS = {"hs_timestamp", "hs_call_title", "hs_call_body", "hs_call_duration",
                 "hs_call_status", "hs_call_direction", "hs_call_from_number",
                 "hs_call_to_number", "hs_call_recording_url", "rokuon_call_id",
                 "hubspot_owner_id", "hs_call_disposition"}


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(doc), status=status, headers=headers or {},
                    content_type="application/json")


@dataclass
class Script:
    """What the next requests get instead of the normal answer: (status, body, headers)
    tuples, or "slow" (the write is stored, then the answer comes too late)."""

    queue: list[Any] = field(default_factory=list)

    def next(self) -> Any:
        return self.queue.pop(0) if self.queue else None


def tls_context(tmp: Path) -> tuple[ssl.SSLContext, str]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it as its CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, pem = tmp / "sf.crt", tmp / "sf.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(pem))
    return ctx, str(crt)


class FakeSalesforce:
    """REST API v59.0: query, sobjects/Task create/update, oauth2 token."""

    def __init__(self, server: HTTPServer, token: str = "00Dgood!token") -> None:
        self.server, self.token = server, token
        self.tasks: dict[str, dict[str, Any]] = {}
        self.contacts = {"+819012345678": "003000000000001AAA"}
        self.script = Script()
        self.client_secret = "s3cret"
        self.writes = 0
        server.expect_request(re.compile("^/services/.*")).respond_with_handler(self.handle)

    def handle(self, req: Request) -> Response:
        path = req.path
        if path == "/services/oauth2/token":
            form = parse_qs(req.get_data(as_text=True))
            if form.get("client_secret") != [self.client_secret]:
                return _json({"error": "invalid_client",
                              "error_description": "invalid client credentials"}, 400)
            return _json({"access_token": self.token, "instance_url": self.server.url_for(""),
                          "id": "https://login.salesforce.com/id/00D/005",
                          "token_type": "Bearer", "scope": "api"})
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return _json([{"message": "Session expired or invalid",
                           "errorCode": "INVALID_SESSION_ID"}], 401)
        forced = self.script.next()
        if isinstance(forced, tuple):
            status, body, headers = forced
            return _json(body, status, headers)
        if path.endswith("/query/"):
            return self._query(req.args.get("q", ""))
        m = re.match(r"^/services/data/v59\.0/sobjects/Task/(\w*)$", path)
        if not m:
            return _json([{"message": "The requested resource does not exist",
                           "errorCode": "NOT_FOUND"}], 404)
        body = req.get_json()
        bad = sorted(set(body) - SF_TASK_FIELDS)
        if bad:
            return _json([{"message": f"No such column '{bad[0]}' on sobject of type Task",
                           "errorCode": "INVALID_FIELD", "fields": []}], 400)
        self.writes += 1
        if req.method == "POST":
            tid = f"00T{len(self.tasks) + 1:015d}"
            self.tasks[tid] = dict(body)
            if forced == "slow":
                time.sleep(1.0)
            return _json({"id": tid, "success": True, "errors": []}, 201)
        self.tasks[m.group(1)].update(body)
        return Response(status=204)

    def _query(self, q: str) -> Response:
        m = re.search(r"FROM (\w+) WHERE (\w+) = '([^']*)'", q)
        assert m, q
        obj, fld, value = m.groups()
        if obj == "Task":
            ids = [i for i, t in self.tasks.items() if t.get(fld) == value]
        elif obj == "Contact":
            ids = [self.contacts[value]] if value in self.contacts else []
        else:
            ids = []
        recs = [{"attributes": {"type": obj, "url": f"/services/data/v59.0/sobjects/"
                                f"{obj}/{i}"}, "Id": i} for i in ids]
        return _json({"totalSize": len(recs), "done": True, "records": recs})


class FakeHubSpot:
    """CRM v3: objects/calls (create, update, search) and contacts/search."""

    def __init__(self, server: HTTPServer, token: str = "pat-na1-good") -> None:
        self.server, self.token = server, token
        self.calls: dict[str, dict[str, Any]] = {}
        self.associations: dict[str, list[Any]] = {}
        self.contacts = {"+819012345678": "501"}
        self.script = Script()
        server.expect_request(re.compile("^/crm/v3/.*")).respond_with_handler(self.handle)

    @staticmethod
    def _obj(oid: str, props: dict[str, Any]) -> dict[str, Any]:
        return {"id": oid, "properties": props, "createdAt": "2026-12-08T03:00:00.000Z",
                "updatedAt": "2026-12-08T03:00:00.000Z", "archived": False}

    def handle(self, req: Request) -> Response:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"status": "error", "message": "Authentication credentials not "
                          "found. This API supports OAuth 2.0 authentication.",
                          "correlationId": "c0ffee", "category": "INVALID_AUTHENTICATION"},
                         401)
        forced = self.script.next()
        if isinstance(forced, tuple):
            status, body, headers = forced
            return _json(body, status, headers)
        body = req.get_json(silent=True) or {}
        if req.path.endswith("/search"):
            f = body["filterGroups"][0]["filters"][0]
            if "contacts" in req.path:
                ids = [self.contacts[f["value"]]] if f["value"] in self.contacts else []
                found = [self._obj(i, {}) for i in ids]
            else:
                found = [self._obj(i, p) for i, p in self.calls.items()
                         if p.get(f["propertyName"]) == f["value"]]
            return _json({"total": len(found), "results": found})
        props = body.get("properties") or {}
        bad = sorted(set(props) - HS_CALL_PROPS)
        if bad:
            errs = [{"isValid": False, "message": f'Property "{b}" does not exist',
                     "error": "PROPERTY_DOESNT_EXIST", "name": b} for b in bad]
            return _json({"status": "error", "message": "Property values were not valid: "
                          + json.dumps(errs), "correlationId": "c0ffee",
                          "category": "VALIDATION_ERROR"}, 400)
        m = re.match(r"^/crm/v3/objects/calls/(\d+)$", req.path)
        if req.method == "PATCH" and m:
            self.calls[m.group(1)].update(props)
            return _json(self._obj(m.group(1), self.calls[m.group(1)]))
        oid = str(9000 + len(self.calls))
        self.calls[oid] = dict(props)
        self.associations[oid] = body.get("associations") or []
        if forced == "slow":
            time.sleep(1.0)
        return _json(self._obj(oid, props), 201)


class FakeKintone:
    """REST API: app/form/fields.json, records.json (query), record.json (add, update)."""

    def __init__(self, server: HTTPServer, app: int = 5, token: str = "kt-good") -> None:
        self.server, self.app, self.token = server, app, token
        self.fields = {"rokuon_call_id", "summary", "qa", "call_url", "agent"}
        self.records: dict[str, dict[str, Any]] = {}
        self.script = Script()
        server.expect_request(re.compile("^/k/v1/.*")).respond_with_handler(self.handle)

    def _err(self, status: int, code: str, message: str) -> Response:
        return _json({"code": code, "id": "1505999166-897850006", "message": message},
                     status)

    def handle(self, req: Request) -> Response:
        if req.headers.get("X-Cybozu-API-Token") != self.token:
            return self._err(401, "GAIA_IA02", "指定したAPIトークンが無効です。")
        forced = self.script.next()
        if isinstance(forced, tuple):
            status, body, headers = forced
            return _json(body, status, headers)
        if req.path == "/k/v1/app/form/fields.json":
            return _json({"revision": "3", "properties": {
                f: {"type": "SINGLE_LINE_TEXT", "code": f, "label": f} for f in self.fields}})
        if req.path == "/k/v1/records.json":
            m = re.match(r'^(\w+) = "([^"]*)"', req.args.get("query", ""))
            assert m
            if m.group(1) not in self.fields:
                return self._err(400, "GAIA_IQ11",
                                 f"指定したフィールド（code: {m.group(1)}）が見つかりません。")
            recs = [{"$id": {"type": "__ID__", "value": i}} for i, r in self.records.items()
                    if r.get(m.group(1), {}).get("value") == m.group(2)]
            return _json({"records": recs, "totalCount": None})
        body = req.get_json()
        if body.get("app") != self.app:
            return self._err(404, "GAIA_AP01", "指定したアプリ（id: ...）が見つかりません。")
        if req.method == "POST":
            rid = str(len(self.records) + 1)
            self.records[rid] = {k: v for k, v in body["record"].items() if k in self.fields}
            return _json({"id": rid, "revision": "1"})
        self.records[str(body["id"])].update(body["record"])
        return _json({"revision": "2"})
