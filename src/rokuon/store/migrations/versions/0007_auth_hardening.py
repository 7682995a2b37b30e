"""authentication hardening: MFA failure counter, the last TOTP time-step used (replay),
failure counters per client address (throttle), break-glass grants opened by POST

Revision ID: 0007_auth_hardening
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_auth_hardening"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("mfa_failures", sa.Integer(), nullable=False,
                               server_default="0"))
        b.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "auth_throttle",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("window_start", TZ, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
    )
    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("break_glass_grants")
    op.drop_table("auth_throttle")
    with op.batch_alter_table("users") as b:
        b.drop_column("totp_last_step")
        b.drop_column("mfa_failures")
