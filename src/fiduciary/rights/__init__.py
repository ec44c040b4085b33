"""rights domain: data principals' rights, orchestrated above the domains that hold their data.

`flows.export_person` and `flows.erase_person` run every domain's exporter and eraser through the
`fiduciary.personal_data` registry, audited through the unit of work. This package knows no other domain's
tables: a domain joins by registering in its own `<domain>/rights.py`. `deadlines` counts a request's due dates
on the policy's calendar (issue 13; docs/rights-deadlines.md). `packages` builds access and portability packages
(docs/access-packages.md). Rights requests (identity verification) build on these. See docs/rights-registry.md.
"""

__all__ = [
    "deadlines",  # due dates on the policy's calendar
    "erasure",  # the erasure kind: waiting period, erasers, what the law keeps
    "flows",  # export_person / erase_person through the registry
    "handlers",  # the map from kind of request to what it does
    "listing",  # the staff listing, soonest deadline first
    "models",  # the rights_requests tables (for migrations)
    "packages",  # access and portability packages: built, sealed, downloaded through signed links
    "personal_data",  # the rights domain's own exporter and eraser
    "request_flows",  # the named steps of a request: submit, verify, approve, reject, extend, …
    "request_jobs",  # the waiting-period job and the overdue/reminder sweep
    "requests",  # request records, transitions, messages
    "running",  # what a handler is given and answers (Run, Outcome, Handler), the policy's calendar
    "states",  # the state machine
]
