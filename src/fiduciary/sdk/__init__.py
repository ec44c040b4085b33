"""Python client for the Fiduciary HTTP API, for the store backend: `FiduciaryClient`, and
`FiduciaryVaultClient` with personal fields, lookup, export, erasure and the audit trail as well."""

from fiduciary.sdk.client import DecisionResult, FiduciaryAPIError, FiduciaryClient, consent_item
from fiduciary.sdk.vault import AuditPage, FiduciaryVaultClient, FieldsResult

__all__ = [
    "AuditPage",
    "DecisionResult",
    "FiduciaryAPIError",
    "FiduciaryClient",
    "FiduciaryVaultClient",
    "FieldsResult",
    "consent_item",
]
