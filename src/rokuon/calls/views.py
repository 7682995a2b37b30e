"""Saved views of the call list: a user names the list's current filter and finds it
again in one click. Each user has their own (at most MAX_VIEWS); the query is checked
as the list checks it, so a saved view always opens."""

from __future__ import annotations

from urllib.parse import parse_qsl

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.calls.listing import ListError, from_query, to_query
from rokuon.store.models import SavedView

MAX_VIEWS = 50
NAME_MAX = 100


def mine(session: Session, principal: Principal) -> list[SavedView]:
    return list(session.scalars(select(SavedView).where(SavedView.owner == principal.name)
                                .order_by(SavedView.name)))


def save(session: Session, principal: Principal, name: str, query: str) -> SavedView:
    """Save (or replace, same name) the view; raises ListError on a bad name or query."""
    name = " ".join((name or "").split())
    if not name:
        raise ListError("name: a saved view needs a name")
    if len(name) > NAME_MAX:
        raise ListError(f"name: at most {NAME_MAX} characters")
    params = dict(parse_qsl(query or "", keep_blank_values=False))
    from_query(params)  # the same checks as the list
    kept = to_query(params)
    if not kept:
        raise ListError("query: the view has no filter or sort to save")
    row = session.scalars(select(SavedView).where(SavedView.owner == principal.name,
                                                  SavedView.name == name)).first()
    if row is None:
        count = session.scalar(select(func.count()).select_from(SavedView)
                               .where(SavedView.owner == principal.name)) or 0
        if count >= MAX_VIEWS:
            raise ListError(f"at most {MAX_VIEWS} saved views per user; delete one first")
        row = SavedView(owner=principal.name, name=name, query=kept)
        session.add(row)
    else:
        row.query = kept
    session.flush()
    audit.record(session, principal, "view.save", object_type="saved_view",
                 object_id=str(row.id), detail={"name": name, "query": kept})
    return row


def delete(session: Session, principal: Principal, view_id: int) -> bool:
    row = session.get(SavedView, view_id)
    if row is None or row.owner != principal.name:
        return False
    session.delete(row)
    audit.record(session, principal, "view.delete", object_type="saved_view",
                 object_id=str(view_id), detail={"name": row.name})
    return True
