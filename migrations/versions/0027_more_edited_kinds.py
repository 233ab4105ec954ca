"""versions of workflows, option lists, dashboards, roles and settings: admins edit and publish
them live,
as they do forms and reports — one table per kind, each like report_versions

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

#: table → the column naming the definition
KINDS = {
    "workflow_versions": "workflow",
    "option_list_versions": "option_list",
    "dashboard_versions": "dashboard",
    "roles_versions": "roles",
    "settings_versions": "settings",
}


def upgrade() -> None:
    for table, name in KINDS.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column(name, sa.String(length=64), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("yaml_text", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("author_id", sa.Integer(), nullable=True),
            sa.Column("note", sa.String(length=256), nullable=True),
            sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(
                ["author_id"], ["users.id"], name=op.f(f"fk_{table}_author_id_users")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint(name, "version", name=op.f(f"uq_{table}_{name}_version")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{name}"), [name], unique=False)


def downgrade() -> None:
    for table, name in KINDS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{name}"))
        op.drop_table(table)
