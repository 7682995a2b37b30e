"""security core: MFA, lockout, API tokens, hash-chained audit log, checkpoints,
deletion records

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "deletion_records",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("call_id", sa.String(32), nullable=False, index=True),
        sa.Column("deleted_at", TZ, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("policy", sa.String(100), nullable=True),
        sa.Column("method", sa.String(50), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    # entries written before the chain existed keep seq NULL ("legacy, unchained")
    with op.batch_alter_table("audit_log") as b:
        b.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        b.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        b.add_column(sa.Column("hash", sa.String(64), nullable=True))
        b.create_unique_constraint("uq_audit_log_seq", ["seq"])
    false = sa.text("false") if op.get_bind().dialect.name == "postgresql" else sa.text("0")
    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("agent_name", sa.String(200), nullable=True))
        b.add_column(sa.Column("mfa_secret", sa.Text(), nullable=True))
        b.add_column(sa.Column("mfa_enabled", sa.Boolean(), nullable=False,
                               server_default=false))
        b.add_column(sa.Column("recovery_codes", sa.JSON(), nullable=True))
        b.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False,
                               server_default="0"))
        b.add_column(sa.Column("locked_until", TZ, nullable=True))
    with op.batch_alter_table("web_sessions") as b:
        b.add_column(sa.Column("mfa_passed", sa.Boolean(), nullable=False,
                               server_default=false))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as b:
        b.drop_column("mfa_passed")
    with op.batch_alter_table("users") as b:
        for c in ("locked_until", "failed_logins", "recovery_codes", "mfa_enabled",
                  "mfa_secret", "agent_name"):
            b.drop_column(c)
    with op.batch_alter_table("audit_log") as b:
        b.drop_constraint("uq_audit_log_seq", type_="unique")
        for c in ("hash", "prev_hash", "seq"):
            b.drop_column(c)
    for t in ("api_tokens", "deletion_records", "audit_head", "audit_checkpoints"):
        op.drop_table(t)
