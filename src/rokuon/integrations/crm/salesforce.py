"""Salesforce: the call as a Task (``TaskSubtype`` Call) linked by the customer's number
to a Contact or else a Lead, through ``simple-salesforce``.

Idempotent: the Task carries rokuon's call id in ``key_field`` (``CallObject`` unless
configured); an attempt first looks for that Task and updates it, so a retry after a
timeout never creates a second one. Credentials: an access token (``token_env``) or the
OAuth 2.0 client-credentials flow (``client_id_env``/``client_secret_env``) against
``{base_url}/services/oauth2/token``; an expired session (401 INVALID_SESSION_ID) is
renewed once with the client credentials when they are configured."""

from __future__ import annotations

from typing import Any

import requests

from rokuon.integrations.crm.config import Target, render
from rokuon.integrations.crm.errors import CrmError, parse_retry_after

TIMEOUT_S = 15.0


def _session(target: Target) -> tuple[requests.Session, dict[str, Any]]:
    sess = requests.Session()
    plain = sess.request

    def with_timeout(*a: Any, **k: Any) -> requests.Response:
        k.setdefault("timeout", TIMEOUT_S)
        if target.ca_file:  # per request: a session's verify loses to REQUESTS_CA_BUNDLE
            k.setdefault("verify", target.ca_file)
        return plain(*a, **k)

    sess.request = with_timeout  # type: ignore[method-assign]
    last: dict[str, Any] = {}

    def keep(r: requests.Response, *_a: Any, **_k: Any) -> None:
        last["headers"] = r.headers

    sess.hooks["response"].append(keep)
    return sess, last


def _token(target: Target, sess: requests.Session) -> str:
    cid, secret = target.secret("client_id_env"), target.secret("client_secret_env")
    if cid and secret:
        try:
            r = sess.post(f"{target.base_url}/services/oauth2/token", timeout=TIMEOUT_S,
                          data={"grant_type": "client_credentials", "client_id": cid,
                                "client_secret": secret})
        except requests.RequestException as exc:
            raise CrmError(f"Salesforce token request failed: {exc}"[:300]) from None
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        if r.status_code != 200 or "access_token" not in doc:
            said = doc.get("error_description") or doc.get("error") or r.text[:200]
            raise CrmError(f"Salesforce refused the client credentials (HTTP "
                           f"{r.status_code}): {said}", code=r.status_code,
                           permanent=r.status_code in (400, 401))
        return str(doc["access_token"])
    token = target.secret("token_env")
    if not token:
        raise CrmError(f"no Salesforce credentials: set {target.token_env or 'token_env'} "
                       "or client_id_env/client_secret_env", permanent=True)
    return token


def _error(exc: Exception, last: dict[str, Any]) -> CrmError:
    from simple_salesforce.exceptions import SalesforceError

    if isinstance(exc, requests.RequestException):
        return CrmError(f"Salesforce unreachable: {type(exc).__name__}: {exc}"[:300])
    if not isinstance(exc, SalesforceError):
        return CrmError(f"Salesforce: {exc}"[:300])
    content = exc.content
    said = content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        said = "; ".join(f"{c.get('errorCode')}: {c.get('message')}" for c in content)
    status = exc.status
    msg = f"Salesforce HTTP {status}: {said}"[:500]
    headers = last.get("headers") or {}
    if status == 429 or (status == 403 and "REQUEST_LIMIT_EXCEEDED" in str(said)):
        return CrmError(msg, code=status, retry_after=parse_retry_after(
            headers.get("Retry-After")))
    return CrmError(msg, code=status, permanent=status in (400, 403, 404))


def _lookup_who(sf: Any, number: str | None) -> str | None:
    from simple_salesforce import format_soql

    if not number:
        return None
    for obj in ("Contact", "Lead"):
        q = format_soql(f"SELECT Id FROM {obj} WHERE Phone = {{n}} OR MobilePhone = {{n}} "
                        "LIMIT 1", n=number)
        recs = sf.query(q).get("records") or []
        if recs:
            return str(recs[0]["Id"])
    return None


def _write(sf: Any, target: Target, activity: dict[str, Any]) -> str:
    from simple_salesforce import format_soql

    key = target.key_field
    data: dict[str, Any] = {
        "Subject": activity["title"][:255], "TaskSubtype": "Call", "Status": "Completed",
        "CallDurationInSeconds": int(round(activity.get("duration_s") or 0)),
        "Description": activity.get("summary") or "",
        key: activity["call_id"]}
    if activity.get("direction") in ("inbound", "outbound"):
        data["CallType"] = activity["direction"].capitalize()
    if activity.get("date"):
        data["ActivityDate"] = activity["date"]
    data.update({k: render(v, activity) for k, v in target.fields.items()})
    found = sf.query(format_soql(f"SELECT Id FROM Task WHERE {key} = {{v}} LIMIT 1",
                                 v=activity["call_id"])).get("records") or []
    if found:
        task_id = str(found[0]["Id"])
        data.pop("TaskSubtype", None)  # not updateable
        sf.Task.update(task_id, data)
        return task_id
    who = _lookup_who(sf, activity.get("customer_number"))
    if who:
        data["WhoId"] = who
    res = sf.Task.create(data)
    return str(res["id"])


def send(target: Target, activity: dict[str, Any]) -> str:
    """Create or update the call's Task; returns its id. Raises CrmError."""
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceExpiredSession

    sess, last = _session(target)
    renewable = bool(target.secret("client_id_env") and target.secret("client_secret_env"))
    for attempt in (1, 2):
        token = _token(target, sess)
        sf = Salesforce(session_id=token, instance_url=target.base_url, session=sess,
                        version=target.api_version)
        try:
            return _write(sf, target, activity)
        except SalesforceExpiredSession as exc:
            if renewable and attempt == 1:
                continue  # a fresh token from the client credentials, once
            err = _error(exc, last)
            raise CrmError(f"{err} (the access token expired or is wrong: renew "
                           f"{target.token_env or 'the token'})", code=401) from None
        except Exception as exc:  # noqa: BLE001 - mapped to retry / give up
            raise _error(exc, last) from None
    raise CrmError("Salesforce: the session could not be renewed", code=401)
