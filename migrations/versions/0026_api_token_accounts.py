"""every API token acts as an account of its own: a user row that only the token uses, so that
records, approvals, idempotency keys and attachments name a token by an id no person has

Before, a token was named by its own id, which is also some user's id: token 7 was taken for
user 7 wherever an actor is a user id.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

#: An account's password hash that no password matches: a token's account never signs in.
NO_PASSWORD = "!"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_api_tokens_user_id_users"), "users", ["user_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_api_tokens_user_id"), ["user_id"])
    connection = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("username", sa.String),
        sa.column("full_name", sa.String),
        sa.column("password_hash", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("locale", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("failed_logins", sa.Integer),
    )
    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("user_id", sa.Integer),
    )
    for token in connection.execute(sa.select(tokens.c.id, tokens.c.name, tokens.c.created_at)):
        user_id = connection.execute(
            users.insert()
            .values(
                username=f"token:{token.id}",
                full_name=token.name,
                password_hash=NO_PASSWORD,
                active=False,
                locale="zh_CN",
                created_at=token.created_at,
                failed_logins=0,
            )
            .returning(users.c.id)
        ).scalar_one()
        connection.execute(tokens.update().where(tokens.c.id == token.id).values(user_id=user_id))


def downgrade() -> None:
    # (the accounts stay: records and audit entries name them)
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(op.f("uq_api_tokens_user_id"), type_="unique")
        batch.drop_constraint(op.f("fk_api_tokens_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")
