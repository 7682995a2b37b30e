"""Comments and bookmarks at a moment of a call.

Whoever may read a call may comment on it (a supervisor on their team's calls, the agent
on their own: that is how an agent replies); a reply joins its thread (one level: a reply
to a reply joins the same thread). The agent whose call it is acknowledges a thread. Every
change is audited; the body is stored as written and escaped wherever it is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit, door
from rokuon.access.principal import Principal
from rokuon.store.models import Call, CallComment, utcnow

MAX_BODY = 4000
KINDS = ("comment", "bookmark")


class CommentError(ValueError):
    """Bad input (422): names what was wrong."""


def _is_agent_of(principal: Principal, call: Call) -> bool:
    return principal.role == "operator" and call.agent is not None and \
        call.agent == (principal.agent_name or principal.name)


def _clean_body(body: Any, kind: str) -> str:
    if not isinstance(body, str):
        raise CommentError("body: must be text")
    if "\x00" in body:
        raise CommentError("body: contains a NUL character")
    text = body.strip()
    if len(text) > MAX_BODY:
        raise CommentError(f"body: {len(text)} characters; at most {MAX_BODY}")
    if kind == "comment" and not text:
        raise CommentError("body: a comment needs text")
    return text


def _clean_at(at_s: Any, call: Call) -> float | None:
    if at_s is None:
        return None
    if isinstance(at_s, bool) or not isinstance(at_s, int | float) or at_s != at_s:
        raise CommentError("at_s: must be a number of seconds")
    at = float(at_s)
    if at < 0 or (call.duration_s and at > call.duration_s + 0.5):
        raise CommentError(f"at_s: {at:.1f} s is outside the call (0–{call.duration_s:.1f} s)")
    return round(at, 2)


def as_dict(c: CallComment) -> dict[str, Any]:
    return {"id": c.id, "call_id": c.call_id, "parent_id": c.parent_id, "kind": c.kind,
            "at_s": c.at_s, "body": c.body, "author": c.author, "author_role": c.author_role,
            "created_at": c.created_at.isoformat(),
            "acknowledged_by": c.acknowledged_by,
            "acknowledged_at": c.acknowledged_at.isoformat() if c.acknowledged_at else None}


@dataclass
class Thread:
    root: CallComment
    replies: list[CallComment]

    def as_dict(self) -> dict[str, Any]:
        return {**as_dict(self.root), "replies": [as_dict(r) for r in self.replies]}


def add(s: Session, principal: Principal, call_id: str, *, body: Any, at_s: Any = None,
        kind: str = "comment", parent_id: Any = None) -> CallComment:
    if kind not in KINDS:
        raise CommentError(f"kind: {kind!r}; one of {', '.join(KINDS)}")
    call = door.get_call(s, principal, call_id, action="call.comment")
    text = _clean_body(body, kind)
    at = _clean_at(at_s, call)
    parent = None
    if parent_id is not None:
        if kind != "comment":
            raise CommentError("parent_id: a bookmark is not a reply")
        if not isinstance(parent_id, int) or isinstance(parent_id, bool):
            raise CommentError("parent_id: must be a comment id")
        parent = s.get(CallComment, parent_id)
        if parent is None or parent.call_id != call.id:
            raise CommentError(f"parent_id: no comment {parent_id} on this call")
        if parent.parent_id is not None:
            parent = s.get(CallComment, parent.parent_id)
        if at is None and parent is not None:
            at = parent.at_s
    c = CallComment(call_id=call.id, parent_id=parent.id if parent else None, kind=kind,
                    at_s=at, body=text, author=principal.name, author_role=principal.role)
    s.add(c)
    s.flush()
    if parent is not None and parent.acknowledged_at is not None and \
            not _is_agent_of(principal, call):
        parent.acknowledged_at = parent.acknowledged_by = None  # the coach said more
    audit.record(s, principal, f"{kind}.add", object_type="call", object_id=call.id,
                 detail={"comment": c.id, "at_s": at, "reply_to": c.parent_id,
                         "chars": len(text)})
    return c


def threads(s: Session, principal: Principal, call_id: str) -> list[Thread]:
    call = door.get_call(s, principal, call_id, action="call.comments")
    return threads_of(s, call.id)


def threads_of(s: Session, call_id: str) -> list[Thread]:
    """The call's threads in call order (for a caller that already went through the
    door for this call)."""
    rows = list(s.scalars(select(CallComment).where(CallComment.call_id == call_id)
                          .order_by(CallComment.id)))
    roots = {c.id: Thread(c, []) for c in rows if c.parent_id is None}
    for c in rows:
        if c.parent_id is not None and c.parent_id in roots:
            roots[c.parent_id].replies.append(c)
    return sorted(roots.values(), key=lambda t: (t.root.at_s is None, t.root.at_s or 0.0,
                                                 t.root.id))


def acknowledge(s: Session, principal: Principal, call_id: str, comment_id: int
                ) -> CallComment:
    """The agent of the call acknowledges a thread (their supervisor sees it)."""
    call = door.get_call(s, principal, call_id, action="comment.acknowledge")
    c = s.get(CallComment, comment_id)
    if c is None or c.call_id != call.id:
        raise CommentError(f"comment {comment_id}: not on this call")
    if c.parent_id is not None:
        c = s.get(CallComment, c.parent_id) or c
    if not _is_agent_of(principal, call):
        raise door.AccessDenied("only the call's agent acknowledges a comment")
    if c.acknowledged_at is None:
        c.acknowledged_at, c.acknowledged_by = utcnow(), principal.name
        audit.record(s, principal, "comment.acknowledge", object_type="call",
                     object_id=call.id, detail={"comment": c.id})
    return c


def delete(s: Session, principal: Principal, call_id: str, comment_id: int) -> None:
    """The author takes back their own comment (with its replies)."""
    call = door.get_call(s, principal, call_id, action="comment.delete")
    c = s.get(CallComment, comment_id)
    if c is None or c.call_id != call.id:
        raise CommentError(f"comment {comment_id}: not on this call")
    if c.author != principal.name:
        raise door.AccessDenied("only its author deletes a comment")
    for r in s.scalars(select(CallComment).where(CallComment.parent_id == c.id)):
        s.delete(r)
    s.delete(c)
    audit.record(s, principal, "comment.delete", object_type="call", object_id=call.id,
                 detail={"comment": comment_id})
