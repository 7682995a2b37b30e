"""The audit chain detects a changed, deleted, inserted or reordered entry and says
where; checkpoints verify with the public key only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, text, update

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import AuditEntry

CLI = Principal.cli()


def _fill(rt, n: int = 6) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        with rt.db.session() as s:
            ids.append(audit.record(s, CLI, f"test.action{i}", object_type="call",
                                    object_id=f"c{i}", detail={"i": i, "名前": "テスト"}).id)
    return ids


def _verify(rt):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return audit.verify(s)


def test_intact_chain_verifies(rt) -> None:
    _fill(rt)
    res = _verify(rt)
    assert res.ok and res.first_bad is None and res.entries >= 7  # + init's user.create


def test_changed_entry(rt) -> None:
    ids = _fill(rt)
    with rt.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(actor="mallory"))
    res = _verify(rt)
    assert not res.ok and res.first_bad == ids[2] and "changed" in res.reason


def test_changed_detail(rt) -> None:
    ids = _fill(rt)
    with rt.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(
            detail={"i": 99}))
    assert _verify(rt).first_bad == ids[1]


def test_deleted_entry(rt) -> None:
    ids = _fill(rt)
    with rt.db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[3]))
    res = _verify(rt)
    assert not res.ok and res.first_bad == ids[4] and "deleted" in res.reason


def test_deleted_tail(rt) -> None:
    ids = _fill(rt)
    with rt.db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[-1]))
    res = _verify(rt)
    assert not res.ok and "removed from the end" in res.reason


def test_inserted_entry(rt) -> None:
    ids = _fill(rt)
    with rt.db.session() as s:
        victim = s.get(AuditEntry, ids[2])
        v, prev = victim.seq, victim.prev_hash
        # a forged entry squeezed in with a plausible seq, and later seqs shifted
        s.execute(update(AuditEntry).where(AuditEntry.seq >= v)
                  .values(seq=AuditEntry.seq + 1000))
        s.execute(update(AuditEntry).where(AuditEntry.seq >= v + 1000)
                  .values(seq=AuditEntry.seq - 999))
        s.add(AuditEntry(seq=v, prev_hash=prev, hash="f" * 64,
                         actor="mallory", action="call.play", outcome="ok", detail={}))
    res = _verify(rt)
    assert not res.ok and res.first_bad is not None


def test_reordered_entries(rt) -> None:
    ids = _fill(rt)
    with rt.db.session() as s:
        a, b = s.get(AuditEntry, ids[1]), s.get(AuditEntry, ids[2])
        sa_, sb, aid, bid = a.seq, b.seq, a.id, b.id
        s.execute(update(AuditEntry).where(AuditEntry.id == aid).values(seq=-1))
        s.execute(update(AuditEntry).where(AuditEntry.id == bid).values(seq=sa_))
        s.execute(update(AuditEntry).where(AuditEntry.id == aid).values(seq=sb))
    res = _verify(rt)
    assert not res.ok and res.first_bad in (ids[1], ids[2])


def test_checkpoints_signed_and_checked_with_public_key_only(rt) -> None:
    _fill(rt, 3)
    with rt.db.session() as s:
        cp = audit.checkpoint(s)
    with rt.db.session() as s:
        doc = audit.export_checkpoints(s)
    pem = doc["public_key_pem"].encode()
    assert audit.verify_exported(doc, pem) == []
    forged = json.loads(json.dumps(doc))
    forged["checkpoints"][0]["hash"] = "0" * 64
    assert audit.verify_exported(forged, pem) == [cp.seq]
    assert _verify(rt).checkpoints_ok == 1
    # rewriting the whole chain with a stolen DB but not the keys breaks the checkpoint
    with rt.db.session() as s:
        s.execute(text("UPDATE audit_checkpoints SET hash = :h"), {"h": "1" * 64})
    assert not _verify(rt).ok


def test_rollback_leaves_no_entry(rt) -> None:
    before = _verify(rt).entries
    with pytest.raises(RuntimeError), rt.db.session() as s:
        audit.record(s, CLI, "test.rolled_back")
        raise RuntimeError("the action failed")
    after = _verify(rt)
    assert after.ok and after.entries == before


def test_csv_export_neutralises_formulas(rt) -> None:
    with rt.db.session() as s:
        audit.record(s, "=HYPERLINK(\"http://x\")", "auth.login", outcome="failed")
        rows = audit.query(s, action="auth.login")
        out = audit.to_csv(rows)
    assert "'=HYPERLINK" in out and out.splitlines()[0].startswith("id,seq,at,actor")
    with rt.db.session() as s:
        assert [e.actor for e in audit.query(s, actor="=HYPERLINK(\"http://x\")")]


def test_concurrent_appends_stay_a_chain(rt) -> None:
    import threading

    def worker(k: int) -> None:
        for i in range(10):
            with rt.db.session() as s:
                audit.record(s, CLI, f"t{k}.{i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    res = _verify(rt)
    assert res.ok, res
    with rt.db.session() as s:
        seqs = sorted(s.scalars(select(AuditEntry.seq)).all())
    assert seqs == list(range(1, len(seqs) + 1))
