"""roles versions: admins edit and publish the roles and their rights live

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=256), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_roles_versions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles_versions")),
        sa.UniqueConstraint(
            "roles", "version", name=op.f("uq_roles_versions_roles_version")
        ),
    )
    with op.batch_alter_table("roles_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roles_versions_roles"), ["roles"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("roles_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roles_versions_roles"))

    op.drop_table("roles_versions")
