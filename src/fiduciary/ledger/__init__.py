"""ledger domain: one append-only, hash-chained log with signed checkpoints, for the consent and audit streams.

`chain` is the pure format (canonical JSON, hashes, the chain walker), `signing` the Ed25519 keys, `service`
appends and seals inside a caller's Session, `reads` reads events, checkpoints and streams back, and
`verification` walks a stream and its checkpoints. See docs/ledger.md.
"""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "chain",  # the pure format: canonical JSON, hashes
    "lookup",  # events by position
    "models",  # the ledger tables
    "reads",  # entries, checkpoints, streams
    "service",  # Ledger: appends and sealing
    "signing",  # Ed25519 signing keys
    "verification",  # verify a stream
]
