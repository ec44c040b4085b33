"""audit domain: who read or changed what, for which purpose, with which outcome — never the values.

Events go on the ledger stream "audit" (hash-chained, signed checkpoints) and into the `audit_events`
index in the same transaction; `service.AuditTrail` records them, `service.list_events` serves
GET /v1/audit, `service.verify_audit` backs `fiduciary audit verify`. See docs/audit.md.
"""
