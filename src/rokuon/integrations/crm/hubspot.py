"""HubSpot: the call as a call engagement (CRM v3 ``objects/calls``) associated with the
contact whose phone matches (association type 194, call → contact), through
``hubspot-api-client``.

Idempotent: the engagement carries rokuon's call id in the ``key_field`` property
(``rokuon_call_id`` unless configured: create it in HubSpot as a single-line text call
property); an attempt searches for it first and updates the one it finds."""

from __future__ import annotations

import json
from typing import Any

from rokuon.integrations.crm.config import Target, render
from rokuon.integrations.crm.errors import CrmError, parse_retry_after

TIMEOUT_S = 15.0


def _client(target: Target) -> Any:
    from hubspot import HubSpot

    token = target.secret("token_env")
    if not token:
        raise CrmError(f"no HubSpot token: set {target.token_env or 'token_env'} (a private "
                       "app access token)", permanent=True)
    cfg: dict[str, Any] = {"access_token": token, "host": target.base_url}
    if target.ca_file:
        cfg["ssl_ca_cert"] = target.ca_file
    return HubSpot(**cfg)


def _error(exc: Exception) -> CrmError:
    status = getattr(exc, "status", None)
    if status is None:
        return CrmError(f"HubSpot unreachable: {type(exc).__name__}: {exc}"[:300])
    body = getattr(exc, "body", None) or ""
    try:
        doc = json.loads(body)
        said = doc.get("message") or body
        if doc.get("category"):
            said = f"{doc['category']}: {said}"
    except (TypeError, ValueError):
        said = body
    msg = f"HubSpot HTTP {status}: {said}"[:600]
    if status == 429:
        headers = getattr(exc, "headers", None) or {}
        return CrmError(msg, code=429, retry_after=parse_retry_after(
            headers.get("Retry-After")))
    return CrmError(msg, code=status, permanent=status in (400, 401, 403, 404))


def _search(api: Any, prop: str, value: str) -> str | None:
    from hubspot.crm.objects.calls import PublicObjectSearchRequest

    req = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": prop, "operator": "EQ",
                                     "value": value}]}], limit=1, properties=[prop])
    res = api.do_search(public_object_search_request=req, _request_timeout=TIMEOUT_S)
    return str(res.results[0].id) if res.results else None


def properties(target: Target, activity: dict[str, Any]) -> dict[str, str]:
    props = {"hs_timestamp": activity.get("started_at") or "",
             "hs_call_title": activity["title"],
             "hs_call_body": (activity.get("summary") or "").replace("\n", "<br>"),
             "hs_call_duration": str(activity.get("duration_ms") or 0),
             "hs_call_status": "COMPLETED",
             target.key_field: activity["call_id"]}
    if activity.get("direction") in ("inbound", "outbound"):
        props["hs_call_direction"] = activity["direction"].upper()
    number = activity.get("customer_number") or ""
    if number:
        props["hs_call_from_number" if activity.get("direction") == "inbound"
              else "hs_call_to_number"] = number
    if activity.get("audio_url"):
        props["hs_call_recording_url"] = activity["audio_url"]
    props.update({k: render(v, activity) for k, v in target.fields.items()})
    return {k: v for k, v in props.items() if v != ""}


def send(target: Target, activity: dict[str, Any]) -> str:
    """Create or update the call's engagement; returns its id. Raises CrmError."""
    from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearch
    from hubspot.crm.objects.calls import (
        AssociationSpec,
        PublicAssociationsForObject,
        PublicObjectId,
        SimplePublicObjectInput,
        SimplePublicObjectInputForCreate,
    )

    client = _client(target)
    calls = client.crm.objects.calls
    props = properties(target, activity)
    try:
        existing = _search(calls.search_api, target.key_field, activity["call_id"])
        if existing:
            calls.basic_api.update(existing,
                                   simple_public_object_input=SimplePublicObjectInput(
                                       properties=props), _request_timeout=TIMEOUT_S)
            return existing
        assoc = []
        number = activity.get("customer_number")
        if number:
            found = client.crm.contacts.search_api.do_search(
                public_object_search_request=ContactSearch(
                    filter_groups=[{"filters": [{"propertyName": "phone", "operator": "EQ",
                                                 "value": number}]}], limit=1),
                _request_timeout=TIMEOUT_S)
            if found.results:
                assoc.append(PublicAssociationsForObject(
                    to=PublicObjectId(id=str(found.results[0].id)),
                    types=[AssociationSpec(association_category="HUBSPOT_DEFINED",
                                           association_type_id=194)]))
        res = calls.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                properties=props, associations=assoc), _request_timeout=TIMEOUT_S)
        return str(res.id)
    except CrmError:
        raise
    except Exception as exc:  # noqa: BLE001 - ApiException or a transport error
        raise _error(exc) from None
