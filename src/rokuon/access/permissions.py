"""The permission model: what each role may do, in one table.

``docs/security.md`` shows this table (``markdown_table()``); a test walks every route of
the app and checks that it declares one of these actions and behaves as the table says.
Call content is further limited by scope (rokuon.access.door): ``all``, ``team`` or
``own`` calls.
"""

from __future__ import annotations

from rokuon.access.principal import ROLES, Principal

# read: list calls, open a call (transcript, analysis); play: stream the audio;
# download: save the audio file; upload: add a recording; delete: erase (crypto-shred);
# export: disclosure packages and data subject requests; search: full-text search;
# report: the dashboard and reports (KPIs, keyword ranking) over the calls in scope;
# coach: override a QA criterion of a call in scope (commenting needs only read);
# audit: read and export the audit log and the checklist; admin: users, keys, tokens;
# faq_read: the FAQ knowledge base and its suggestions (live calls, /api/faq/suggest);
# faq_edit: add, edit, delete and import FAQ entries (the /faq page);
# scorecards: edit QA scorecards (a new version each time) and re-score past calls
# (a re-score run covers only the calls in the requester's scope).
ACTIONS = ("read", "play", "download", "upload", "delete", "export", "search", "report",
           "coach", "audit", "admin", "faq_read", "faq_edit", "scorecards")

ALL, TEAM, OWN, YES, NO = "all", "team", "own", "yes", "–"

MATRIX: dict[str, dict[str, str]] = {
    "admin": {"read": ALL, "play": ALL, "download": ALL, "upload": YES, "delete": YES,
              "export": YES, "search": ALL, "report": ALL, "coach": ALL, "audit": YES,
              "admin": YES, "faq_read": YES, "faq_edit": YES, "scorecards": ALL},
    "compliance": {"read": ALL, "play": ALL, "download": ALL, "upload": YES, "delete": YES,
                   "export": YES, "search": ALL, "report": ALL, "coach": NO, "audit": YES,
                   "admin": NO, "faq_read": YES, "faq_edit": NO, "scorecards": NO},
    "supervisor": {"read": TEAM, "play": TEAM, "download": TEAM, "upload": YES,
                   "delete": NO, "export": NO, "search": TEAM, "report": TEAM, "coach": TEAM,
                   "audit": NO, "admin": NO, "faq_read": YES, "faq_edit": YES,
                   "scorecards": TEAM},
    "operator": {"read": OWN, "play": OWN, "download": OWN, "upload": YES, "delete": NO,
                 "export": NO, "search": OWN, "report": OWN, "coach": NO, "audit": NO,
                 "admin": NO, "faq_read": YES, "faq_edit": NO, "scorecards": NO},
    "auditor": {"read": NO, "play": NO, "download": NO, "upload": NO, "delete": NO,
                "export": NO, "search": NO, "report": NO, "coach": NO, "audit": YES,
                "admin": NO, "faq_read": NO, "faq_edit": NO, "scorecards": NO},
}
assert set(MATRIX) == set(ROLES) and all(set(v) == set(ACTIONS) for v in MATRIX.values())

# API token scopes and the action each one needs: a token never exceeds its user's role
SCOPE_ACTIONS: dict[str, tuple[str, ...]] = {
    "calls:read": ("read",),
    "audio:read": ("play",),
    "calls:write": ("upload",),
    "audit:read": ("audit",),
    "requests:read": ("export",),
    "requests:write": ("export",),
}


class Forbidden(PermissionError):
    """The role may not do this at all (403); distinct from a call out of scope (404)."""


def allowed(principal: Principal, action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return MATRIX.get(principal.role, {}).get(action, NO) != NO


def require(principal: Principal, action: str) -> None:
    if not allowed(principal, action):
        raise Forbidden(f"the role {principal.role} may not {action} "
                        f"(see the permission table in docs/security.md)")


def scopes_beyond_role(role: str, scopes: list[str]) -> list[str]:
    """The token scopes that would give more than the role has."""
    p = Principal(name="-", role=role)
    return [s for s in scopes if not all(allowed(p, a) for a in SCOPE_ACTIONS.get(s, ()))]


def markdown_table() -> str:
    """The role × action table as it appears in docs/security.md."""
    lines = ["| action | " + " | ".join(ROLES) + " |",
             "|---|" + "---|" * len(ROLES)]
    for a in ACTIONS:
        lines.append(f"| {a} | " + " | ".join(MATRIX[r][a] for r in ROLES) + " |")
    return "\n".join(lines)
