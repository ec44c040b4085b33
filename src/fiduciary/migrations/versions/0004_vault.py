"""vault: wrapped data keys, vault meta (KEK canary), identifiers, encrypted fields, legal holds, erasures

Revision ID: 0004
Revises: 0003

`person_keys` and `vault_meta` are created here even when FIDUCIARY_KEYS_DATABASE_URL puts the key store in
another database (they then stay empty here; the key database gets them from `create_key_store_tables`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(length=40), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_keys")),
    )
    op.create_index(op.f("ix_person_keys_kek_id"), "person_keys", ["kek_id"])
    op.create_table(
        "vault_meta",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.Column("kek_id", sa.String(length=40), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vault_meta")),
    )
    op.create_table(
        "person_identifiers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("blind_index", sa.LargeBinary(length=16), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_person_identifiers_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_identifiers")),
        sa.UniqueConstraint("kind", "blind_index", name=op.f("uq_person_identifiers_kind")),
    )
    op.create_index(op.f("ix_person_identifiers_person_id"), "person_identifiers", ["person_id"])
    op.create_table(
        "personal_fields",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("field_type", sa.String(length=32), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("purpose_of_collection", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_personal_fields_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_fields")),
        sa.UniqueConstraint("person_id", "category", "item", name=op.f("uq_personal_fields_person_id")),
    )
    op.create_table(
        "legal_hold_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("record_type", sa.String(length=80), nullable=False),
        sa.Column("basis", sa.String(length=300), nullable=False),
        sa.Column("purge_after", sa.Date(), nullable=False),
        sa.Column("record_key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=40), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold_records")),
    )
    op.create_index(op.f("ix_legal_hold_records_person_id"), "legal_hold_records", ["person_id"])
    op.create_index(op.f("ix_legal_hold_records_purge_after"), "legal_hold_records", ["purge_after"])
    op.create_index(op.f("ix_legal_hold_records_kek_id"), "legal_hold_records", ["kek_id"])
    op.create_table(
        "vault_erasures",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("journal_seq", sa.BigInteger(), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_vault_erasures")),
    )
    op.create_index("ix_vault_erasures_pending", "vault_erasures", ["purged_at"])


def downgrade() -> None:
    op.drop_index("ix_vault_erasures_pending", table_name="vault_erasures")
    op.drop_table("vault_erasures")
    op.drop_index(op.f("ix_legal_hold_records_kek_id"), table_name="legal_hold_records")
    op.drop_index(op.f("ix_legal_hold_records_purge_after"), table_name="legal_hold_records")
    op.drop_index(op.f("ix_legal_hold_records_person_id"), table_name="legal_hold_records")
    op.drop_table("legal_hold_records")
    op.drop_table("personal_fields")
    op.drop_index(op.f("ix_person_identifiers_person_id"), table_name="person_identifiers")
    op.drop_table("person_identifiers")
    op.drop_table("vault_meta")
    op.drop_index(op.f("ix_person_keys_kek_id"), table_name="person_keys")
    op.drop_table("person_keys")
