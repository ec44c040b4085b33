"""ledger domain: one append-only, hash-chained log with signed checkpoints, for the consent and audit streams.

`chain` is the pure format (canonical JSON, hashes, the chain walker), `signing` the Ed25519 keys, `service`
appends, seals and verifies inside a caller's Session. See docs/ledger.md.
"""
