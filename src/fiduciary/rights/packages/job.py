"""The job `rights.build_package`: build a request's package in a transaction of its own, then tell the
listeners (`register_package_listener`) in that same transaction.

Queued by the requests flow with `{person_id, request_id, portability}`: pseudonymous ids and a flag, never a
personal value (the queue's rows are read by operators and kept in its history). Run twice (a worker killed
after the commit), it takes effect once: the job's id is recorded with the package (`effect_once`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fiduciary.jobs import JobCall, effect_once, register_job
from fiduciary.rights.packages import package_listeners
from fiduciary.rights.packages.builder import build_package
from fiduciary.rights.packages.links import issue_link

JOB_NAME: Final = "rights.build_package"
JOB_ACTOR: Final = "job:rights.build_package"


def package_job_args(person_id: str, request_id: str, *, portability: bool = False) -> dict[str, Any]:
    """The job's arguments, for `UnitOfWork.enqueue(JOB_NAME, package_job_args(...))`."""
    return {"person_id": person_id, "request_id": request_id, "portability": bool(portability)}


def build_package_job(runtime: Any, call: JobCall) -> Mapping[str, int]:
    """Build, issue the link (the default 7 days, 3 downloads), call every listener, commit — or roll all
    of it back and let the queue retry."""
    args = call.args
    person_id, request_id = str(args["person_id"]), str(args["request_id"])
    portability = bool(args.get("portability", False))
    with runtime.sessions() as session:
        if not effect_once(session, f"{JOB_NAME}:{call.job_id}", call.task_name):
            session.rollback()
            return {"built": 0}
        built = build_package(
            runtime, session, person_id=person_id, actor=JOB_ACTOR, request_id=request_id, portability=portability
        )
        link = issue_link(runtime, session, built.package_id)
        for listener in package_listeners():
            listener(runtime, session, request_id, link)
        session.commit()
    return {"built": 1, "records": built.record_count}


BUILD_PACKAGE_JOB: Final = register_job(JOB_NAME, build_package_job, retries=3)
