"""rights domain: data principals' rights, orchestrated above the domains that hold their data.

`flows.export_person` and `flows.erase_person` run every domain's exporter and eraser through the
`fiduciary.personal_data` registry, audited through the unit of work. This package knows no other domain's
tables: a domain joins by registering in its own `<domain>/rights.py`. Rights requests (deadlines, identity
verification, export packages) build on these flows. See docs/rights-registry.md.
"""

__all__ = ["flows"]
