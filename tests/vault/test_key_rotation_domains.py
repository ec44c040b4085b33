"""KEK rotation re-wraps every record key, not only the vault's own: a case's text key and a recipient's
webhook secret survive the retired KEK leaving the key ring, and no table holding a wrapped key is left out."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from pydantic import SecretStr

from fiduciary.cases.grievances import GrievanceIntake, file_grievance
from fiduciary.cases.models import Case
from fiduciary.cases.workflow import case_values, get_case
from fiduciary.config import Settings
from fiduciary.disclosures.endpoints import configure_endpoint, current_secret
from fiduciary.migrations.metadata import metadata
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.kek import generate_key_b64, kek_fingerprint
from fiduciary.vault.keys.rotation import rotate_keks, wrapped_key_tables
from vault_support import vault_runtime

# Key tables rotation handles on its own: the people's data keys (in the key store) and the canary.
OWN_KEY_TABLES = {"person_keys", "vault_meta"}


def test_every_table_with_a_wrapped_key_is_rotated() -> None:
    holding = {table.name for table in metadata.sorted_tables if "kek_id" in table.c}
    assert {"cases", "recipient_endpoints", "legal_hold_records"} <= holding  # the walk finds them
    assert holding - OWN_KEY_TABLES == set(wrapped_key_tables()), "register the table with register_wrapped_keys"


def test_case_text_and_recipient_secrets_outlive_the_retired_kek(settings: Settings) -> None:
    k1, k2 = generate_key_b64(), generate_key_b64()
    first = settings.model_copy(update={"kek": SecretStr(k1)})
    with vault_runtime(first) as (runtime, _), runtime.sessions() as session:
        case_id = file_grievance(
            runtime,
            session,
            GrievanceIntake(text="The parcel came open.", channel="api", contact_email="a@b.example"),
            actor="key_staff",
        ).id
        configure_endpoint(
            runtime,
            session,
            "couriers",
            "https://couriers.example/hooks",
            actor="key_admin",
            secret="whsec_" + base64.b64encode(b"s" * 32).decode(),
        )
        session.commit()
        secret = current_secret(runtime, session, "couriers")

    rotating = settings.model_copy(update={"kek": SecretStr(k2), "kek_previous": SecretStr(k1)})
    with vault_runtime(rotating) as (runtime, _):
        report = rotate_keks(runtime, batch_size=1)
        assert report.remaining == 0 and report.record_keys_rewrapped >= 2
        assert rotate_keks(runtime).record_keys_rewrapped == 0  # idempotent

    only_new = settings.model_copy(update={"kek": SecretStr(k2)})
    with vault_runtime(only_new) as (runtime, _), runtime.sessions() as session:
        assert set(session.scalars(sa.select(Case.kek_id))) == {kek_fingerprint(base64.b64decode(k2))}
        case = get_case(session, case_id)
        assert case_values(unit_of_work(runtime, session), case)["text"] == "The parcel came open."
        assert current_secret(runtime, session, "couriers") == secret
