"""rights domain: data principals' rights, orchestrated above the domains that hold their data.

`flows.export_person` and `flows.erase_person` run every domain's exporter and eraser through the
`fiduciary.personal_data` registry, audited through the unit of work. This package knows no other domain's
tables: a domain joins by registering in its own `<domain>/rights.py`. `deadlines` counts a request's due dates
on the policy's calendar (issue 13; docs/rights-deadlines.md). `packages` builds access and portability packages
(docs/access-packages.md). Rights requests (identity verification) build on these. See docs/rights-registry.md.
"""

__all__ = ["deadlines", "flows", "packages"]
