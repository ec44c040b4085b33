"""Authentication: API keys with scopes for store backends (staff accounts and sessions come later)."""
