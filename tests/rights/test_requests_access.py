"""An access request from receipt to the download: the package is built by its job, the request completes
in that job's transaction, the person gets a link that works, and the package holds their requests."""

from __future__ import annotations

import io
import json
import re
import zipfile

from sqlalchemy.orm import Session

from fiduciary.jobs import JobCall
from fiduciary.rights import request_flows as flows
from fiduciary.rights.packages.job import JOB_NAME, build_package_job, package_job_args
from fiduciary.rights.packages.links import open_download
from fiduciary.rights.requests import MadeBy, NewRequest, get_request
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from jobs_support import queued
from requests_support import T0, messages, person_with_email


def test_an_access_request_ends_with_a_working_link(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    new = NewRequest(
        kind="access", person_id=person, made_by=MadeBy.STORE, channel="email", verified_by="signed_in_session"
    )
    row = flows.submit(runtime, session, new, actor="key_b", now=T0)
    session.commit()
    assert row.state == State.IN_PROGRESS
    assert len(queued(session, JOB_NAME)) == 1
    build_package_job(runtime, JobCall(job_id=1, task_name=JOB_NAME, args=package_job_args(person, row.id)))
    session.expire_all()
    row = get_request(session, row.id)
    assert row.state == State.COMPLETED and row.sealed is None
    assert row.details["package"]["max_downloads"] == 3
    kind, body = messages(session, runtime)[-1]
    assert kind == "rights.package_ready" and row.id in body
    link = re.search(r"https?://\S+/v1/packages/(\S+)", body)
    assert link is not None
    download = open_download(runtime, session, link.group(1))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.chunks)))
    document = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith(".json"))))
    assert person in json.dumps(document)
    assert row.id in json.dumps(document)  # the package lists the requests made, this one among them


def test_a_package_for_a_cancelled_request_completes_nothing(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    new = NewRequest(kind="access", person_id=person, made_by=MadeBy.STORE, channel="email")
    row = flows.submit(runtime, session, new, actor="key_b", now=T0)  # waits for the person's code
    session.commit()
    flows.cancel(runtime, session, row.id, actor="key_b")
    session.commit()
    build_package_job(runtime, JobCall(job_id=2, task_name=JOB_NAME, args=package_job_args(person, row.id)))
    session.expire_all()
    assert get_request(session, row.id).state == State.CANCELLED
    assert "rights.package_ready" not in [k for k, _ in messages(session, runtime)]
