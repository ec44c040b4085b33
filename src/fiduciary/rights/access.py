"""Access and portability requests (DPDP s.11; GDPR Art 15 and 20; CCPA §1798.110 and §1798.130(a)(2)(B)):
the package is built by the job `rights.build_package` in a transaction of its own, then `package_ready`
(`rights.request_flows`) completes the request and sends the person the download link in that transaction.

The link is a secret: it goes into the message (sealed under the person's key in the outbox) and, while the
request waits for manual steps, into the request sealed under the outbox key; never into `details`, a log
or an audit event.
"""

from __future__ import annotations

from typing import Final

from fiduciary.comms.sealing import open_sealed, seal
from fiduciary.policy.schema import RightKind
from fiduciary.rights.packages.job import JOB_NAME, package_job_args
from fiduciary.rights.packages.links import PackageLink
from fiduciary.rights.requests import complete_request
from fiduciary.rights.running import Outcome, Run

_LINK: Final = "link"
PACKAGE: Final = "package"  # in `details`: when the link expires and how many downloads it allows


def start_access(run: Run) -> Outcome:
    """Queue the package; the request completes when it is built."""
    portability = run.row.kind == RightKind.PORTABILITY.value
    run.uow.enqueue(
        JOB_NAME,
        package_job_args(run.row.person_id, run.row.id, portability=portability),
        queueing_lock=f"{JOB_NAME}:{run.row.id}",
    )
    return Outcome.WAITING


def keep_link(run: Run, link: PackageLink, url: str) -> None:
    """Note the package on the request and keep its link, sealed, for the completion message."""
    row = run.row
    row.details = {
        **row.details,
        PACKAGE: {"expires_at": link.expires_at.isoformat(), "max_downloads": link.max_downloads},
    }
    version, sealed = seal(run.uow.runtime, run.uow.session, None, row.id, {_LINK: url})
    row.sealed_key_version, row.sealed = version, sealed[_LINK]
    run.uow.session.flush()


def finish_access(run: Run) -> None:
    """Send the link (its expiry and download limit with it), then forget it."""
    row = run.row
    if row.sealed is None or row.sealed_key_version != 0:
        raise RuntimeError("an access request completes only after its package was built")
    url = open_sealed(run.uow.runtime, run.uow.session, None, 0, row.id, _LINK, row.sealed)
    terms = row.details[PACKAGE]
    row.sealed = row.sealed_key_version = None
    run.uow.session.flush()
    complete_request(
        run.uow,
        row,
        actor=run.actor,
        now=run.now,
        message="rights.package_ready",
        params={"link": url, "expires_on": terms["expires_at"][:10], "downloads": terms["max_downloads"]},
    )
