"""The knowledge base in the database: list, create, edit, delete and import FAQ
entries. Plain functions that take the session and the acting principal; every change
is audited in the same transaction (``faq.create``, ``faq.update``, ``faq.delete``,
``faq.import``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.assist.knowledge import MAX_ENTRIES, FaqFormatError, FaqItem, check_item
from rokuon.assist.retrieval import FaqDoc
from rokuon.store.models import utcnow
from rokuon.store.models_assist import FaqEntry
from rokuon.text.normalize import normalize


class FaqError(ValueError):
    """A refused change (the message says why, in one line)."""


class FaqNotFound(LookupError):
    pass


def entry_dict(e: FaqEntry) -> dict[str, Any]:
    return {"entry_id": e.id, "question": e.question, "answer": e.answer,
            "tags": list(e.tags or []), "language": e.language, "active": e.active,
            "created_by": e.created_by, "created_at": e.created_at.isoformat(),
            "updated_by": e.updated_by, "updated_at": e.updated_at.isoformat()}


def list_entries(s: Session, *, active_only: bool = False) -> list[FaqEntry]:
    q = select(FaqEntry).order_by(FaqEntry.id)
    if active_only:
        q = q.where(FaqEntry.active.is_(True))
    return list(s.scalars(q))


def get_entry(s: Session, entry_id: int) -> FaqEntry:
    e = s.get(FaqEntry, entry_id)
    if e is None:
        raise FaqNotFound(f"no FAQ entry {entry_id}")
    return e


def kb_version(s: Session) -> str:
    """Changes whenever an entry is added, edited, (de)activated or deleted: the number
    of entries, the newest id and the newest change, in this database."""
    n, top, changed = s.execute(select(func.count(FaqEntry.id), func.max(FaqEntry.id),
                                       func.max(FaqEntry.updated_at))).one()
    bind = s.get_bind()
    return f"{bind.url!r}|{n}|{top}|{changed}"


def active_docs(s: Session) -> list[FaqDoc]:
    return [FaqDoc(e.id, e.question, e.answer, tuple(e.tags or []))
            for e in list_entries(s, active_only=True)]


def _same_question(s: Session, question: str, exclude: int | None = None) -> FaqEntry | None:
    key = normalize(question)
    for e in list_entries(s):
        if e.id != exclude and normalize(e.question) == key:
            return e
    return None


def _item(data: dict[str, Any], where: str, base: FaqEntry | None = None) -> FaqItem:
    def pick(name: str, default: Any) -> Any:
        v = data.get(name)
        return default if v is None else v

    tags = pick("tags", list(base.tags or []) if base else [])
    if isinstance(tags, str):
        from rokuon.assist.knowledge import split_tags

        tags = list(split_tags(tags))
    for name in ("question", "answer", "language"):
        v = data.get(name)
        if v is not None and not isinstance(v, str):
            raise FaqError(f"{name}: a string is expected")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise FaqError("tags: a list of strings is expected")
    try:
        return check_item(pick("question", base.question if base else ""),
                          pick("answer", base.answer if base else ""), tags,
                          pick("language", base.language if base else None), where=where)
    except FaqFormatError as exc:
        raise FaqError(str(exc)) from exc


def create_entry(s: Session, actor: Principal, data: dict[str, Any]) -> FaqEntry:
    item = _item(data, "entry")
    if _same_question(s, item.question):
        raise FaqError(f"an entry with the question {item.question[:40]!r} exists already")
    if s.scalar(select(func.count(FaqEntry.id))) >= MAX_ENTRIES:
        raise FaqError(f"the knowledge base holds {MAX_ENTRIES} entries, its limit")
    now = utcnow()
    e = FaqEntry(question=item.question, answer=item.answer, tags=list(item.tags),
                 language=item.language, active=bool(data.get("active", True)),
                 created_by=actor.name, created_at=now, updated_by=actor.name,
                 updated_at=now)
    s.add(e)
    s.flush()
    audit.record(s, actor, "faq.create", object_type="faq", object_id=str(e.id),
                 detail={"question": e.question[:200]})
    return e


def update_entry(s: Session, actor: Principal, entry_id: int, data: dict[str, Any]
                 ) -> FaqEntry:
    e = get_entry(s, entry_id)
    item = _item(data, f"entry {entry_id}", base=e)
    if _same_question(s, item.question, exclude=e.id):
        raise FaqError(f"another entry has the question {item.question[:40]!r}")
    changed = [k for k, old, new in (("question", e.question, item.question),
                                     ("answer", e.answer, item.answer),
                                     ("tags", list(e.tags or []), list(item.tags)),
                                     ("language", e.language, item.language))
               if old != new]
    if "active" in data and bool(data["active"]) != e.active:
        e.active = bool(data["active"])
        changed.append("active")
    e.question, e.answer, e.tags, e.language = (item.question, item.answer, list(item.tags),
                                                item.language)
    if changed:
        e.updated_by, e.updated_at = actor.name, utcnow()
        audit.record(s, actor, "faq.update", object_type="faq", object_id=str(e.id),
                     detail={"changed": changed, "question": e.question[:200]})
    return e


def delete_entry(s: Session, actor: Principal, entry_id: int) -> None:
    e = get_entry(s, entry_id)
    audit.record(s, actor, "faq.delete", object_type="faq", object_id=str(e.id),
                 detail={"question": e.question[:200]})
    s.delete(e)
    s.flush()


def import_items(s: Session, actor: Principal, items: list[FaqItem], *, source: str,
                 replace: bool = False) -> dict[str, int]:
    """Add the file's entries; an entry whose question is already there (same text after
    normalisation) gets the file's answer, tags and language. ``replace``: entries not in
    the file are deleted. One transaction: all of it or nothing."""
    existing = {normalize(e.question): e for e in list_entries(s)}
    now = utcnow()
    added = updated = removed = 0
    seen: set[int] = set()
    for item in items:
        e = existing.get(normalize(item.question))
        if e is None:
            s.add(FaqEntry(question=item.question, answer=item.answer, tags=list(item.tags),
                           language=item.language, active=True, created_by=actor.name,
                           created_at=now, updated_by=actor.name, updated_at=now))
            added += 1
            continue
        seen.add(e.id)
        if (e.answer, list(e.tags or []), e.language, e.active) != \
                (item.answer, list(item.tags), item.language, True):
            e.answer, e.tags, e.language, e.active = (item.answer, list(item.tags),
                                                      item.language, True)
            e.updated_by, e.updated_at = actor.name, now
            updated += 1
    if replace:
        for e in existing.values():
            if e.id not in seen:
                s.delete(e)
                removed += 1
    s.flush()
    total = s.scalar(select(func.count(FaqEntry.id))) or 0
    if total > MAX_ENTRIES:
        raise FaqError(f"{source}: the knowledge base would hold {total} entries "
                       f"(at most {MAX_ENTRIES}); use --replace or remove some")
    counts = {"added": added, "updated": updated, "removed": removed, "entries": total}
    audit.record(s, actor, "faq.import", object_type="faq", object_id=None,
                 detail={"source": source[:200], "replace": replace, **counts})
    return counts
