"""Which tables hold a person reference, and which of them no registration covers.

A person reference is a foreign key to `people.id`, or a column named in `PERSON_COLUMN_NAMES`. Tables that
by design hold only pseudonymous ids inside opaque, append-only evidence are listed, with the reason, in
`PSEUDONYMOUS_ONLY`. The schema test (tests/rights/test_registry_schema.py) and the development start-up
check (`fiduciary.runtime.Runtime.start`) both use this walk.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

import sqlalchemy as sa

PERSON_TABLE: Final = "people"
PERSON_COLUMN_NAMES: Final = frozenset({"person_id", "subject_id", "pii_principal_id", "guardian_id"})

# Tables with no person column of their own whose rows nevertheless mention pseudonymous person ids inside
# an opaque payload. They are append-only evidence and are neither exported row by row nor erased:
PSEUDONYMOUS_ONLY: Final[Mapping[str, str]] = {
    "ledger_events": (
        "append-only, hash-chained consent and audit events; payloads carry pseudonymous ids (per_…, vis_…) and "
        "policy references, never a value (enforced by the ledger's payload guard). Erasing a person crypto-shreds "
        "the vault, which leaves these events meaningless about them. Kept as proof of consent (DPDP s.6(10), "
        "GDPR Art 7(1)) and as the processing logs DPDP Rule 6(1)(e) and 8(3) require for at least a year. The "
        "consent and audit exporters export the person's own events from it."
    ),
    "ledger_subjects": (
        "the index of ledger_events by the pseudonymous ids their payloads name (stream, subject_id, position): "
        "it repeats only ids those payloads already hold and is kept, not erased, with them for the same "
        "reasons; the consent exporter reads it to find the person's own events."
    ),
    "ledger_checkpoints": "signatures over ledger hashes; no person id at all",
    "ledger_heads": "one row per ledger stream (position and hash); no person id at all",
}


def _reasons_for_columns(table: str, columns: Collection[str], fk_targets: Collection[tuple[str, str]]) -> list[str]:
    reasons = [f"column {name}" for name in sorted(columns) if name in PERSON_COLUMN_NAMES]
    reasons += [
        f"foreign key {column} -> {PERSON_TABLE}.id"
        for column, target in sorted(fk_targets)
        if target == PERSON_TABLE and f"column {column}" not in reasons
    ]
    if table == PERSON_TABLE:
        reasons.insert(0, "the person table itself")
    return reasons


def person_reference_tables(metadata: sa.MetaData) -> dict[str, list[str]]:
    """Tables of `metadata` that reference a person, each with why (column names, foreign keys)."""
    found: dict[str, list[str]] = {}
    for table in metadata.tables.values():
        fks = [
            (element.parent.name, element.column.table.name)
            for constraint in table.foreign_key_constraints
            for element in constraint.elements
        ]
        reasons = _reasons_for_columns(table.name, [c.name for c in table.columns], fks)
        if reasons:
            found[table.name] = reasons
    return found


def person_reference_tables_in_database(bind: sa.Engine | sa.Connection) -> dict[str, list[str]]:
    """The same walk over the live database schema (what migrations actually created)."""
    inspector = sa.inspect(bind)
    found: dict[str, list[str]] = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        columns = [c["name"] for c in inspector.get_columns(table)]
        fks = [
            (column, fk["referred_table"])
            for fk in inspector.get_foreign_keys(table)
            for column in fk["constrained_columns"]
        ]
        reasons = _reasons_for_columns(table, columns, fks)
        if reasons:
            found[table] = reasons
    return found


def uncovered_tables(
    referencing: Mapping[str, list[str]],
    covered: Collection[str],
    allowlist: Mapping[str, str] = PSEUDONYMOUS_ONLY,
) -> dict[str, list[str]]:
    """Tables that reference a person but are neither covered by a registration nor allowlisted."""
    return {
        table: reasons
        for table, reasons in sorted(referencing.items())
        if table not in covered and table not in allowlist
    }


def describe_uncovered(uncovered: Mapping[str, list[str]]) -> str:
    return "; ".join(
        f"table {table} ({', '.join(reasons)}) has no registered exporter and eraser"
        for table, reasons in uncovered.items()
    )
