"""ledger domain: one append-only, hash-chained log with signed checkpoints, for the consent and audit streams.

`chain` is the pure format (canonical JSON, hashes, the chain walker), `signing` the Ed25519 keys, `service`
appends and seals inside a caller's Session, `reads` reads events, checkpoints and streams back, and
`verification` walks a stream and its checkpoints. See docs/ledger.md.
"""
