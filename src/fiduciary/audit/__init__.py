"""audit domain: who read or changed what, for which purpose, with which outcome — never the values.

Events go on the ledger stream "audit" (hash-chained, signed checkpoints) and into the `audit_events`
index in the same transaction; `service.AuditTrail` records them, `reads.list_events` serves
GET /v1/audit, `verification.verify_audit` backs `fiduciary audit verify`. See docs/audit.md.
"""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "models",  # AuditEventIndex, the query index
    "reads",  # listing, exporting and a person's events
    "rights",  # the audit domain's exporter and eraser
    "service",  # AuditTrail and the events it records
    "verification",  # chain, signatures and index checked against each other
]
