"""The security checklist report (APPI art. 23 and the PPC guidelines' four kinds of
safeguards: organisational, human, physical, technical).

Technical items are proven from the live system when the report is made (MFA of the
privileged users, the audit chain, encryption of every recording, PCI masking, the last
verified backup, the last retention run, overdue requests). The other items are
attestations: an admin or compliance officer records "done" with a note; the
attestation is an entry in the tamper-evident audit log (who, when), and the report
shows the latest one per item. Output: JSON, HTML and PDF."""

from __future__ import annotations

import html
import io
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.runtime import Runtime
from rokuon.store.models import AuditEntry, Call, LegalHold, User, utcnow

PRIVILEGED = ("admin", "compliance", "supervisor")
BACKUP_MAX_AGE = timedelta(days=35)

# (id, category, ja, en) of the items an administrator attests
ATTESTED = [
    ("basic_policy", "organisational", "個人情報保護の基本方針を策定・公表している",
     "A personal-data protection policy is set and published"),
    ("handling_rules", "organisational", "通話録音の取扱規程（目的・保存期間・権限）を定めている",
     "Handling rules for recordings (purposes, retention, roles) exist"),
    ("incident_response", "organisational",
     "漏えい等の報告・対応体制（個人情報保護委員会への報告）がある",
     "A breach response and reporting procedure exists"),
    ("access_review", "organisational", "アクセス権限の定期的な見直しを実施した",
     "Access rights were reviewed"),
    ("staff_training", "human", "従業者への教育を実施した", "Staff were trained"),
    ("confidentiality", "human", "従業者から秘密保持の誓約を得ている",
     "Staff signed confidentiality undertakings"),
    ("area_control", "physical", "サーバー・端末の設置区域の入退室を管理している",
     "Entry to the server and workstation areas is controlled"),
    ("device_protection", "physical", "機器・媒体の盗難・紛失を防止している",
     "Devices and media are protected against theft and loss"),
    ("media_disposal", "physical", "媒体・機器の廃棄時に復元不能な消去をしている",
     "Media are wiped irrecoverably when disposed of"),
    ("tls_in_transit", "technical",
     "通信を TLS で暗号化している（rokuon 自身の証明書か、前段の TLS 終端）",
     "Traffic is encrypted with TLS (serve --certfile or a TLS proxy)"),
]
CATEGORIES = [("organisational", "組織的安全管理措置", "Organisational measures"),
              ("human", "人的安全管理措置", "Human measures"),
              ("physical", "物理的安全管理措置", "Physical measures"),
              ("technical", "技術的安全管理措置", "Technical measures")]


class ChecklistError(ValueError):
    pass


def _last(session: Session, action: str, outcome: str | None = "ok") -> AuditEntry | None:
    q = select(AuditEntry).where(AuditEntry.action == action)
    if outcome:
        q = q.where(AuditEntry.outcome == outcome)
    return session.scalars(q.order_by(AuditEntry.seq.desc())).first()


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def attest(session: Session, principal: Principal, item: str, note: str) -> None:
    if principal.role not in ("admin", "compliance"):
        raise ChecklistError("only an admin or a compliance officer records attestations")
    if item not in {i[0] for i in ATTESTED}:
        raise ChecklistError(f"unknown checklist item {item!r}; one of: "
                             + ", ".join(i[0] for i in ATTESTED))
    if not note.strip():
        raise ChecklistError("say what was done (a note is required)")
    audit.record(session, principal, "checklist.attest", object_type="checklist",
                 object_id=item, detail={"note": note.strip()})


def _proven(rt: Runtime, s: Session, now: datetime) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []

    def add(id_: str, ja: str, en: str, ok: bool | None, evidence: str,
            at: datetime | None = now) -> None:
        items.append({"id": id_, "category": "technical", "kind": "proven", "title_ja": ja,
                      "title_en": en, "ok": ok, "evidence": evidence, "at": _iso(at)})

    users = s.scalars(select(User).where(User.role.in_(PRIVILEGED), User.disabled.is_(False)))
    users = list(users)
    with_mfa = sum(1 for u in users if u.mfa_enabled)
    add("mfa_privileged", "特権ユーザーに多要素認証を強制している",
        "MFA is enforced for privileged users", with_mfa == len(users),
        f"{with_mfa} of {len(users)} admin/compliance/supervisor users have MFA")
    v = audit.verify(s)
    add("audit_chain", "アクセスログ（監査ログ）が改ざんされていない",
        "The audit log chain is intact", v.ok,
        f"{v.entries} entries verified" + ("" if v.ok else f"; first bad: {v.first_bad}"))
    calls = list(s.scalars(select(Call).where(Call.wrapped_key.is_not(None))))
    missing = [c.id for c in calls if not rt.blobs.exists(c.blob_key)]
    add("encryption_at_rest", "録音を暗号化して保存している（録音ごとの鍵）",
        "Recordings are encrypted at rest (a key per recording)", not missing,
        f"{len(calls)} recordings, AES-256-GCM, key provider '{rt.settings.key_provider}'"
        + (f"; {len(missing)} missing blob(s)" if missing else ""))
    if rt.db.url.startswith("sqlite"):
        add("database_encrypted", "データベース（書き起こし・検索索引・顧客番号）を暗号化している",
            "The database (transcripts, search index, customer numbers) is encrypted",
            rt.db.encrypted, "SQLCipher, key wrapped by the KEK" if rt.db.encrypted else
            "database_encryption = false: the SQLite file is plain text")
    else:
        add("database_encrypted", "データベース（書き起こし・検索索引・顧客番号）を暗号化している",
            "The database (transcripts, search index, customer numbers) is encrypted",
            None, "PostgreSQL: encrypt its volume and require TLS (docs/security.md); "
            "attest it below")
    add("pci_mode", "カード番号・セキュリティコードをマスクしている（PCI モード）",
        "Card numbers and security codes are masked (PCI mode)", rt.settings.pci_mode,
        "pci_mode = " + str(rt.settings.pci_mode).lower())
    b = _last(s, "backup.verify")
    fresh = b is not None and now - b.at <= BACKUP_MAX_AGE
    add("backup_verified", "バックアップを取得し、検証している", "Backups are made and verified",
        fresh, f"last verified backup: {b.object_id} by {b.actor}" if b else
        "no verified backup recorded (rokuon backup create + verify)", b.at if b else None)
    r = _last(s, "retention.run")
    max_age = timedelta(hours=rt.settings.retention_interval_h * 2)
    add("retention_runs", "保存期間を過ぎた録音を自動削除している",
        "Recordings past their retention period are deleted automatically",
        r is not None and now - r.at <= max_age,
        f"last run by {r.actor}: {r.detail}" if r else "retention has never run",
        r.at if r else None)
    from rokuon.compliance.dsar import overdue

    late = overdue(s, now)
    add("requests_on_time", "開示等の請求に期限内に対応している",
        "Data subject requests are answered on time", not late,
        f"{len(late)} open request(s) due within a day or late")
    holds = s.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))).all()
    add("legal_holds", "訴訟ホールド中の録音は削除されない", "Calls under legal hold are kept",
        True, f"{len(holds)} active hold(s); deletion of held calls is refused and audited")
    return items


def build(rt: Runtime, principal: Principal) -> dict[str, Any]:
    if principal.role not in ("admin", "compliance", "auditor"):
        raise ChecklistError("the checklist report is for admins, compliance officers and "
                             "auditors")
    now = utcnow()
    with rt.db.session() as s:
        items = _proven(rt, s, now)
        for id_, cat, ja, en in ATTESTED:
            e = s.scalars(select(AuditEntry).where(
                AuditEntry.action == "checklist.attest", AuditEntry.object_id == id_)
                .order_by(AuditEntry.seq.desc())).first()
            items.append({"id": id_, "category": cat, "kind": "attested", "title_ja": ja,
                          "title_en": en, "ok": True if e else None,
                          "evidence": (e.detail or {}).get("note") if e else "not attested yet",
                          "at": _iso(e.at) if e else None, "by": e.actor if e else None})
        audit.record(s, principal, "checklist.report")
    cats = [{"id": c, "title_ja": ja, "title_en": en,
             "items": [i for i in items if i["category"] == c]} for c, ja, en in CATEGORIES]
    return {"generated_at": now.isoformat(), "generated_by": principal.name,
            "summary": {"ok": sum(1 for i in items if i["ok"] is True),
                        "failed": sum(1 for i in items if i["ok"] is False),
                        "open": sum(1 for i in items if i["ok"] is None)},
            "categories": cats}


_MARK = {True: "✓", False: "✗", None: "—"}


def to_html(report: dict[str, Any], lang: str = "ja", stylesheet: str | None = None) -> str:
    """A standalone page (no inline script or style, so it can be served under the
    app's CSP; ``stylesheet`` links one)."""
    t = "title_ja" if lang == "ja" else "title_en"
    e = html.escape
    out = [f"<!doctype html><html lang=\"{lang}\"><meta charset=\"utf-8\">",
           "<title>rokuon security checklist</title>",
           f"<link rel=\"stylesheet\" href=\"{e(stylesheet)}\">" if stylesheet else "",
           f"<h1>{'安全管理措置チェックリスト' if lang == 'ja' else 'Security checklist'}</h1>",
           f"<p>{e(report['generated_at'])} — {e(report['generated_by'])} — "
           f"✓ {report['summary']['ok']} ✗ {report['summary']['failed']} "
           f"— {report['summary']['open']}</p>"]
    for cat in report["categories"]:
        out.append(f"<h2>{e(cat[t])}</h2><table class=\"checklist\" border=\"1\">")
        for i in cat["items"]:
            cls = {True: "ok", False: "failed", None: "open"}[i["ok"]]
            out.append(f"<tr><td class=\"{cls}\">{_MARK[i['ok']]}</td><td>{e(i[t])}</td>"
                       f"<td>{e(str(i['evidence'] or ''))}</td><td>{e(i['at'] or '')}</td>"
                       f"<td>{e(i.get('by') or i['kind'])}</td></tr>")
        out.append("</table>")
    return "\n".join(out) + "\n</html>\n"


def to_pdf(report: dict[str, Any]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "HeiseiKakuGo-W5"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle("安全管理措置チェックリスト")
    y = A4[1] - 60

    def line(text: str, size: int = 9, gap: int = 13, x: int = 50) -> None:
        nonlocal y
        if y < 60:
            c.showPage()
            y = A4[1] - 60
        c.setFont(font, size)
        c.drawString(x, y, text[:110])
        y -= gap

    line("安全管理措置チェックリスト / Security checklist", 14, 24)
    line(f"{report['generated_at']}  {report['generated_by']}", gap=20)
    for cat in report["categories"]:
        line(f"{cat['title_ja']} / {cat['title_en']}", 11, 18)
        for i in cat["items"]:
            mark = {True: "[OK]", False: "[NG]", None: "[--]"}[i["ok"]]
            line(f"{mark} {i['title_ja']}")
            line(f"{i['evidence'] or ''}  {i['at'] or ''}", 7, 12, 80)
        y -= 6
    c.save()
    return buf.getvalue()
