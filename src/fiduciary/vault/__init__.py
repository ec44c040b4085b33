"""vault domain: the people (data principals) Fiduciary knows, by pseudonymous id.

Minimal for now: the `people` table with the age facts consent and decisions need. Identifiers, encrypted
fields and crypto-shredding extend it in the vault issue.
"""
