"""Authentication: API keys with scopes for store backends (staff accounts and sessions come later)."""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "cache",  # the revocation-aware key cache
    "flows",  # create and revoke keys, audited
    "listing",  # Core listing of keys for the CLI
    "models",  # ApiKey
    "scopes",  # Scope and scope parsing
    "service",  # key creation, lookup, revocation
]
