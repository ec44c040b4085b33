"""The job `rights.build_package`: builds in its own transaction, tells the listeners in that transaction,
takes effect once when run twice, and rolls everything back when a listener fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.jobs import JobCall, registered
from fiduciary.rights.packages import register_package_listener, unregister_package_listener
from fiduciary.rights.packages.job import JOB_NAME, build_package_job, package_job_args
from fiduciary.rights.packages.links import PackageLink
from fiduciary.rights.packages.models import AccessPackage
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from jobs_support import queued
from packages_support import EMAIL, download, make_person


@pytest.fixture
def heard() -> Iterator[list[tuple[str, PackageLink, bool]]]:
    calls: list[tuple[str, PackageLink, bool]] = []

    def listener(runtime: RuntimeContext, session: Session, request_id: str, link: PackageLink) -> None:
        stored = session.get(AccessPackage, link.package_id) is not None  # visible: the same transaction
        calls.append((request_id, link, stored))

    register_package_listener(listener)
    register_package_listener(listener)  # once, however often registered
    try:
        yield calls
    finally:
        unregister_package_listener(listener)


def test_job_builds_once_and_tells_the_listeners(
    runtime: Runtime, session: Session, heard: list[tuple[str, PackageLink, bool]]
) -> None:
    assert JOB_NAME in registered()
    person = make_person(session, runtime)
    args = package_job_args(person, "req_42", portability=True)
    unit_of_work(runtime, session).enqueue(JOB_NAME, args)
    session.commit()
    assert len(queued(session, JOB_NAME)) == 1
    assert EMAIL not in repr(args) and set(args) == {"person_id", "request_id", "portability"}

    counts = build_package_job(runtime, JobCall(job_id=7, task_name=JOB_NAME, args=args))
    assert counts["built"] == 1
    [(request_id, link, stored)] = heard
    assert request_id == "req_42" and stored and link.max_downloads == 3
    assert build_package_job(runtime, JobCall(job_id=7, task_name=JOB_NAME, args=args)) == {"built": 0}
    assert len(heard) == 1
    row = session.scalars(sa.select(AccessPackage)).one()
    assert row.request_id == "req_42" and row.portability
    assert download(runtime, session, link.token).namelist()


def test_a_failing_listener_rolls_the_package_back(runtime: Runtime, session: Session) -> None:
    person = make_person(session, runtime)

    def failing(runtime: RuntimeContext, session: Session, request_id: str, link: Any) -> None:
        raise RuntimeError("the request could not be completed")

    register_package_listener(failing)
    try:
        with pytest.raises(RuntimeError):
            build_package_job(runtime, JobCall(job_id=8, task_name=JOB_NAME, args=package_job_args(person, "req_1")))
    finally:
        unregister_package_listener(failing)
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessPackage)) == 0
    assert (
        build_package_job(runtime, JobCall(job_id=8, task_name=JOB_NAME, args=package_job_args(person, "req_1")))[
            "built"
        ]
        == 1
    )  # the retry takes effect
