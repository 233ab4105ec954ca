"""option list versions: admins edit and publish the shared option lists live

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "option_list_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("option_list", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=256), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_option_list_versions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_list_versions")),
        sa.UniqueConstraint(
            "option_list", "version", name=op.f("uq_option_list_versions_option_list_version")
        ),
    )
    with op.batch_alter_table("option_list_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_option_list_versions_option_list"), ["option_list"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("option_list_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_option_list_versions_option_list"))

    op.drop_table("option_list_versions")
