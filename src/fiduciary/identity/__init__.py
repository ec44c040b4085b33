"""identity domain: proving who is asking before a rights request acts (issue 13 item 2).

A 6-digit one-time code sent to an identifier on file (email through the outbox, SMS through the outbox's
sms channel), valid 10 minutes, locked after 5 attempts, rate-limited per identifier and per client
address, stored only as a keyed hash; an unknown identifier gets a decoy challenge that looks the same
and never verifies. A verified person gets a customer session (30 minutes, revocable, its bearer token stored
only as a digest). docs/identity.md; decision 0030-one-time-codes.
"""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "codes",  # issue_code, verify_code, Verdict, the rate limits
    "models",  # the verification_codes and customer_sessions tables (for migrations)
    "rights",  # the identity domain's exporter and eraser
    "sessions",  # open_session, authenticate, revoke, CustomerSession: short-lived customer sessions
]
