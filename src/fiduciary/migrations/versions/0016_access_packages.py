"""access_packages, access_package_chunks: access and portability packages (issue 13 item 4)

Revision ID: 0016
Revises: 0015 (to be re-chained after 0015 when both land)

The ZIP sealed in chunks under a package key wrapped by the person's vault key; the link as a SHA-256 of its
token. docs/access-packages.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_packages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("portability", sa.Boolean(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_downloads", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_access_packages_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_packages")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_access_packages_link_hash")),
    )
    op.create_index("ix_access_packages_person_id", "access_packages", ["person_id"])
    op.create_table(
        "access_package_chunks",
        sa.Column("package_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["access_packages.id"],
            name=op.f("fk_access_package_chunks_package_id_access_packages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("package_id", "seq", name=op.f("pk_access_package_chunks")),
    )


def downgrade() -> None:
    op.drop_table("access_package_chunks")
    op.drop_index("ix_access_packages_person_id", table_name="access_packages")
    op.drop_table("access_packages")
