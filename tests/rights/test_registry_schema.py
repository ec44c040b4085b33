"""THE registry test: every table that references a person is covered by a registered exporter and eraser.

It walks the SQLAlchemy metadata (what the code declares) and the live migrated schema (what the
migrations created) on both engines. A table with a foreign key to `people.id`, or a column named
person_id / subject_id / pii_principal_id / guardian_id, must belong to a registration, or be on the
documented allowlist of tables that hold only pseudonymous ids inside append-only evidence.
"""

from __future__ import annotations

import sqlalchemy as sa

from fiduciary.migrations.metadata import metadata
from fiduciary.personal_data.coverage import (
    PERSON_COLUMN_NAMES,
    PSEUDONYMOUS_ONLY,
    describe_uncovered,
    person_reference_tables,
    person_reference_tables_in_database,
    uncovered_tables,
)
from fiduciary.personal_data.registry import PersonalDataRegistry, registry_for
from fiduciary.runtime import Runtime


def test_every_declared_table_with_a_person_reference_has_an_exporter_and_an_eraser(runtime: Runtime) -> None:
    covered = registry_for(runtime).covered_tables()
    missing = uncovered_tables(person_reference_tables(metadata), covered)
    assert not missing, describe_uncovered(missing)


def test_every_migrated_table_with_a_person_reference_has_an_exporter_and_an_eraser(runtime: Runtime) -> None:
    covered = registry_for(runtime).covered_tables()
    live = person_reference_tables_in_database(runtime.engine)
    missing = uncovered_tables(live, covered)
    assert not missing, describe_uncovered(missing)
    # The walk really sees the person tables (a walk that finds nothing would pass vacuously).
    assert {"people", "personal_fields", "person_identifiers", "consent_state", "audit_events"} <= set(live)
    assert set(live) == set(person_reference_tables(metadata)), "metadata and migrations disagree"


def test_registrations_name_only_tables_that_exist(runtime: Runtime) -> None:
    existing = set(sa.inspect(runtime.engine).get_table_names())
    covered = registry_for(runtime).covered_tables()
    assert set(covered) <= existing, sorted(set(covered) - existing)
    assert set(PSEUDONYMOUS_ONLY) <= existing, "stale allowlist entry"
    assert not set(covered) & set(PSEUDONYMOUS_ONLY), "a table is both covered and allowlisted"
    assert all(len(reason) > 20 for reason in PSEUDONYMOUS_ONLY.values()), "every allowlist entry says why"


def test_the_check_fails_naming_a_new_table_nobody_registered(runtime: Runtime) -> None:
    """Prove the check can fail: a copy of the metadata with throwaway tables it must report."""
    copy = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(copy)
    sa.Table(
        "loyalty_points", copy, sa.Column("id", sa.Integer, primary_key=True), sa.Column("person_id", sa.String(40))
    )
    sa.Table(
        "wishlists",
        copy,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(40), sa.ForeignKey("people.id")),
    )
    sa.Table(
        "survey_answers",
        copy,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pii_principal_id", sa.String(40)),
    )
    sa.Table("shipping_rates", copy, sa.Column("id", sa.Integer, primary_key=True), sa.Column("zone", sa.String(10)))
    covered = registry_for(runtime).covered_tables()
    missing = uncovered_tables(person_reference_tables(copy), covered)
    assert set(missing) == {"loyalty_points", "wishlists", "survey_answers"}
    assert missing["wishlists"] == ["foreign key owner -> people.id"]
    message = describe_uncovered(missing)
    assert "table loyalty_points (column person_id) has no registered exporter and eraser" in message


def test_the_live_walk_fails_naming_a_table_added_by_hand(runtime: Runtime) -> None:
    """The same on the database: a table created outside the metadata (a hand-written migration)."""
    with runtime.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE referral_codes (code VARCHAR(20) PRIMARY KEY, subject_id VARCHAR(40))"))
    try:
        covered = registry_for(runtime).covered_tables()
        missing = uncovered_tables(person_reference_tables_in_database(runtime.engine), covered)
        assert missing == {"referral_codes": ["column subject_id"]}
    finally:
        with runtime.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE referral_codes"))


def test_a_registration_covers_its_tables_and_the_allowlist_is_not_a_loophole() -> None:
    registry = PersonalDataRegistry()
    referencing = {"wallets": ["column person_id"], "ledger_events": ["column subject_id"]}
    assert uncovered_tables(referencing, registry.covered_tables()) == {"wallets": ["column person_id"]}
    registry.register("wallets", lambda s, p: {}, lambda s, p: None, ["wallets"])  # type: ignore[arg-type,return-value]
    assert uncovered_tables(referencing, registry.covered_tables()) == {}
    assert uncovered_tables(referencing, registry.covered_tables(), allowlist={}) == {
        "ledger_events": ["column subject_id"]
    }
    assert "person_id" in PERSON_COLUMN_NAMES and "subject_id" in PERSON_COLUMN_NAMES
