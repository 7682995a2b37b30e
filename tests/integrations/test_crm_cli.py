"""`rokuon crm …` and `rokuon sms …` on a real installation: the targets check, the
delivery log, retry (audited), an SMS refused for a number that is not one."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.cli.main import app
from rokuon.store.models import AuditEntry
from rokuon.store.models_integrations import CrmDelivery, SmsOptOut
from tests.integrations.test_sms import add_call

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_targets_deliveries_and_retry(rt) -> None:  # type: ignore[no-untyped-def]
    home = Path(rt.settings.home)
    (home / "crm.yaml").write_text("targets:\n  - {name: s, kind: salesforse, "
                                   "base_url: 'https://a.my.salesforce.com'}\n")
    r = run("crm", "targets")
    assert r.exit_code == 1 and "'kind' must be one of" in r.output
    (home / "crm.yaml").write_text("targets:\n  - {name: s, kind: salesforce, "
                                   "base_url: 'https://a.my.salesforce.com', token_env: X,"
                                   " fields: {Subject: '{title}'}}\n")
    doc = json.loads(run("crm", "targets", "--json").output)
    assert doc["targets"][0]["fields"] == ["Subject"]
    with rt.db.session() as s:
        s.add(CrmDelivery(target="s", kind="salesforce", call_id=uuid.uuid4().hex,
                          payload="{}", status="dead", attempts=6,
                          next_attempt_at=datetime.now(UTC), last_error="HTTP 400"))
    rows = json.loads(run("crm", "deliveries", "--status", "dead", "--json").output)
    (d,) = rows["deliveries"]
    assert run("crm", "deliveries", "--status", "gone").exit_code == 1
    assert run("crm", "retry", str(d["delivery_id"])).exit_code == 0
    assert run("crm", "retry", "999999").exit_code == 1
    with rt.db.session() as s:
        assert s.get(CrmDelivery, d["delivery_id"]).status == "pending"
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "crm.retry")).one()


def test_sms_send_refuses_what_is_not_a_phone_number_and_opt_out(rt) -> None:  # type: ignore[no-untyped-def]
    cid = add_call(rt, number="非通知")
    r = run("sms", "send", cid, "--json")
    assert r.exit_code == 1
    assert "not configured" in json.loads(r.output)["error"]
    r = run("sms", "opt-out", "12ab")
    assert r.exit_code == 1 and "not a phone number" in r.output
    assert run("sms", "opt-out", "090-1234-5678").exit_code == 0
    with rt.db.session() as s:
        assert s.get(SmsOptOut, "+819012345678").source == "admin"
    assert "already" in run("sms", "opt-out", "09012345678").output
    assert run("sms", "opt-out", "09012345678", "--remove").exit_code == 0
    with rt.db.session() as s:
        assert s.get(SmsOptOut, "+819012345678") is None
