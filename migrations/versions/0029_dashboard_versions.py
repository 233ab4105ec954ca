"""dashboard versions: admins edit and publish the role dashboards live

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dashboard", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=256), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_dashboard_versions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_versions")),
        sa.UniqueConstraint(
            "dashboard", "version", name=op.f("uq_dashboard_versions_dashboard_version")
        ),
    )
    with op.batch_alter_table("dashboard_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_versions_dashboard"), ["dashboard"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dashboard_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_versions_dashboard"))

    op.drop_table("dashboard_versions")
