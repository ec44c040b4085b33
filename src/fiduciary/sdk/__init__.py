"""Python client for the Fiduciary HTTP API, for the store backend: `FiduciaryClient`, and
`FiduciaryVaultClient` with personal fields, lookup, export, erasure and the audit trail as well, and
`FiduciaryRequestsClient` with rights requests, `FiduciaryBreachClient` with the breach register."""

from fiduciary.sdk.breaches import FiduciaryBreachClient
from fiduciary.sdk.client import DecisionResult, FiduciaryAPIError, FiduciaryClient, consent_item
from fiduciary.sdk.requests import CloseItem, FiduciaryRequestsClient, RequestPage
from fiduciary.sdk.vault import AuditPage, FiduciaryVaultClient, FieldsResult

__all__ = [
    "AuditPage",
    "CloseItem",
    "DecisionResult",
    "FiduciaryAPIError",
    "FiduciaryBreachClient",
    "FiduciaryClient",
    "FiduciaryRequestsClient",
    "FiduciaryVaultClient",
    "FieldsResult",
    "RequestPage",
    "consent_item",
]
