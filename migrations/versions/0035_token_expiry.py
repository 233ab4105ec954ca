"""api_tokens.expires_at: a token may be issued to stop working by itself (tokens issued before
have none: they work until revoked, as they did)

Revision ID: 0035
Revises: 0034
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
