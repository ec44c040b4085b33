"""vault domain: the personal data of the people Fiduciary knows (`fiduciary.people`),
encrypted under a key of their own so that destroying the key erases them (crypto-shredding).

`__all__` names the modules other packages may import from; the rest (`validation`, `recognizers`,
`checksums`) are the vault's own workings. Outside the vault,
personal values are read and written through `access` (purpose-bound, masked, audited), or shown to the person
themself masked through `own_view`, never `service`'s plaintext reads. This package imports none of its
modules itself: the CLI's start-up stays cheap.
"""

__all__ = [
    "access",  # VaultAccess: the purpose-bound read/write layer (decides, masks, audits)
    "age_tokens",  # verifiable age tokens (DPDP s.9(1), Rule 10)
    "crypto",  # AES-GCM sealing under a record's own key (cases seal their text as legal holds do)
    "erasure",  # crypto-shredding, the erasure journal, the purge sweep
    "fields",  # MAX_VALUE_BYTES: the limit on one field value
    "flows",  # record-and-audit of store-reported facts
    "identifiers",  # MAX_IDENTIFIER_CHARS: the limit on one identifier
    "keys",  # the vault's keys: startup (check_vault_keys), status, rotation, kek, blind_index, data_keys
    "legal_holds",  # records the law requires to be kept past erasure
    "own_view",  # masked_own_view: a person's own masked, audited view of what is held (privacy center)
    "records",  # the vault's tables (for migrations, the rights registry's erasers)
    "redaction",  # masking card and identity numbers pasted into free text (complaints, notes)
    "restore",  # restore-replay (`fiduciary restore-replay`), unapplied_erasures
    "retention_events",  # retention events the store reports
    "rights",  # the vault's exporters and erasers
    "service",  # VaultService: storage of encrypted fields, identifiers and legal-hold records
]
