"""Key-encryption-key rotation: a new KEK becomes current and every call's data key is
re-wrapped under it. The encrypted audio is not touched."""

from __future__ import annotations

from sqlalchemy import select

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.runtime import Runtime
from rokuon.store.keys import WrappedKey, rewrap
from rokuon.store.models import Call


def rotate_kek(rt: Runtime, principal: Principal, *, batch: int = 200) -> tuple[str, int]:
    from rokuon.store.dbcrypt import rewrap_database_key

    new_id = rt.keys.rotate()
    rewrap_database_key(rt.settings.key_file.parent, rt.keys)  # the embedded database's
    done = 0
    last = ""
    while True:
        with rt.db.session() as s:
            calls = s.scalars(select(Call).where(Call.id > last, Call.wrapped_key.is_not(None))
                              .order_by(Call.id).limit(batch)).all()
            if not calls:
                break
            for call in calls:
                w = WrappedKey.from_json(call.wrapped_key or "")
                if w.kek_id != new_id:
                    call.wrapped_key = rewrap(rt.keys, w).to_json()
                    done += 1
            last = calls[-1].id
    with rt.db.session() as s:
        audit.record(s, principal, "keys.rotate", object_type="kek", object_id=new_id,
                     detail={"rewrapped": done})
    return new_id, done
