"""kintone: the call as a record of one app (REST API, ``X-Cybozu-API-Token``).

kintone ignores unknown field codes on write, so the mapping is checked against the
app's form (``GET /k/v1/app/form/fields.json``) first: a field that does not exist is a
clear error naming it. Idempotent: the record carries rokuon's call id in ``key_field``
(``rokuon_call_id`` unless configured; make it a text field with "unique values"); an
attempt looks for it and updates that record (``updateKey``) instead of adding one."""

from __future__ import annotations

from typing import Any

import httpx

from rokuon.integrations.crm.config import Target, render
from rokuon.integrations.crm.errors import CrmError, parse_retry_after

TIMEOUT_S = 15.0


def _check(r: httpx.Response, what: str) -> dict[str, Any]:
    try:
        doc = r.json()
    except ValueError:
        doc = {}
    if 200 <= r.status_code < 300:
        return doc if isinstance(doc, dict) else {}
    said = (f"{doc.get('code')}: {doc.get('message')}" if isinstance(doc, dict)
            and doc.get("message") else r.text[:200])
    msg = f"kintone HTTP {r.status_code} ({what}): {said}"[:600]
    if r.status_code in (429, 503):
        raise CrmError(msg, code=r.status_code,
                       retry_after=parse_retry_after(r.headers.get("Retry-After")))
    raise CrmError(msg, code=r.status_code, permanent=r.status_code in (400, 401, 403, 404))


def record(target: Target, activity: dict[str, Any]) -> dict[str, dict[str, str]]:
    values = {k: render(v, activity) for k, v in target.fields.items()}
    values[target.key_field] = activity["call_id"]
    return {k: {"value": v} for k, v in values.items()}


def send(target: Target, activity: dict[str, Any]) -> str:
    """Add or update the call's record; returns its id. Raises CrmError."""
    token = target.secret("token_env")
    if not token:
        raise CrmError(f"no kintone API token: set {target.token_env or 'token_env'}",
                       permanent=True)
    headers = {"X-Cybozu-API-Token": token}
    rec = record(target, activity)
    verify: str | bool = target.ca_file or True
    try:
        with httpx.Client(base_url=target.base_url, headers=headers, timeout=TIMEOUT_S,
                          verify=verify, follow_redirects=False) as c:
            form = _check(c.get("/k/v1/app/form/fields.json", params={"app": target.app}),
                          "reading the app's fields")
            known = set((form.get("properties") or {}).keys())
            missing = [k for k in rec if k not in known]
            if missing:
                raise CrmError(f"kintone app {target.app} has no field "
                               f"{', '.join(repr(m) for m in missing)} (fix the mapping in "
                               f"crm.yaml; the app's fields: {', '.join(sorted(known))})",
                               code=400, permanent=True)
            query = f'{target.key_field} = "{activity["call_id"]}" limit 1'
            found = _check(c.get("/k/v1/records.json",
                                 params={"app": target.app, "query": query,
                                         "fields[0]": "$id"}),
                           "looking for the call's record").get("records") or []
            if found:
                rid = str(found[0]["$id"]["value"])
                body = {"app": target.app, "id": int(rid),
                        "record": {k: v for k, v in rec.items() if k != target.key_field}}
                _check(c.put("/k/v1/record.json", json=body), "updating the record")
                return rid
            doc = _check(c.post("/k/v1/record.json",
                                json={"app": target.app, "record": rec}),
                         "adding the record")
            return str(doc.get("id"))
    except httpx.HTTPError as exc:
        raise CrmError(f"kintone unreachable: {type(exc).__name__}: {exc}"[:300]) from None
