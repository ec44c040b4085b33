"""consent domain."""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "evidence",  # Evidence of a consent action
    "facts",  # the one reader of people and visitor-link facts
    "flows",  # record with GPC
    "gpc",  # Global Privacy Control opt-outs
    "guardians",  # a guardian's consent for a child
    "linking",  # visitor-to-person links
    "models",  # the consent tables
    "projection",  # the state projection and its rebuild
    "receipt_check",  # receipts compared with the ledger
    "receipt_verify",  # offline receipt verification
    "reconsent",  # re-consent floors and notices
    "restrictions",  # objections and restrictions
    "rights",  # the consent domain's exporters and erasers
    "service",  # ConsentService: recording consent
]
