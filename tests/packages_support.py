"""Shared by the package tests: a person with something in several domains, and reading a package back."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditTrail
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import create_person
from fiduciary.rights.packages.links import open_download
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService

EMAIL = "asha.verma@example.in"
NAME = "Asha <b>Verma</b>"  # markup: the HTML must escape it
PHONE = "+919812345670"
MESSAGES = ["My parcel never arrived", "Please call me after six, thanks", 'A "quoted", comma'] * 4


def make_person(session: Session, runtime: Runtime) -> str:
    vault = VaultService(runtime)
    person_id = create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 5, 17)).id
    vault.create_person_record(
        session,
        person_id,
        {"identity.name": NAME, "contact.email": EMAIL},
        {"email": EMAIL, "phone": PHONE},
        purpose="account",
        source="provided",
    )
    vault.append_records(
        session, person_id, "support.messages", MESSAGES, purpose="customer_support", source="provided"
    )
    service = ConsentService.for_runtime(runtime)
    service.record(session, ConsentInput(person_id, "marketing.email", "grant", ConsentChannel.API))
    service.record(session, ConsentInput(person_id, "marketing.email", "withdraw", ConsentChannel.API))
    service.record(session, ConsentInput(person_id, "analytics", "grant", ConsentChannel.API))
    AuditTrail.for_runtime(runtime).record(
        session, actor="keyAAAAAAAAA", action="field.read", person_id=person_id, purpose="account"
    )
    session.commit()
    return person_id


def download(runtime: Runtime, session: Session, token: str, **kwargs: Any) -> zipfile.ZipFile:
    got = open_download(runtime, session, token, **kwargs)
    session.commit()
    return zipfile.ZipFile(io.BytesIO(b"".join(got.chunks)))


def member(archive: zipfile.ZipFile, name: str) -> str:
    [found] = [n for n in archive.namelist() if n.split("/", 1)[1] == name]
    return archive.read(found).decode("utf-8")
