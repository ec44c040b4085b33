"""Python client for the Fiduciary HTTP API, for the store backend: `FiduciaryClient`, and
`FiduciaryVaultClient` with personal fields, lookup, export, erasure and the audit trail as well, and
`FiduciaryRequestsClient` with rights requests, and `FiduciaryDisclosuresClient` with disclosures."""

from fiduciary.sdk.client import DecisionResult, FiduciaryAPIError, FiduciaryClient, consent_item
from fiduciary.sdk.disclosures import FiduciaryDisclosuresClient
from fiduciary.sdk.requests import CloseItem, FiduciaryRequestsClient, RequestPage
from fiduciary.sdk.vault import AuditPage, FiduciaryVaultClient, FieldsResult

__all__ = [
    "AuditPage",
    "CloseItem",
    "DecisionResult",
    "FiduciaryAPIError",
    "FiduciaryClient",
    "FiduciaryDisclosuresClient",
    "FiduciaryRequestsClient",
    "FiduciaryVaultClient",
    "FieldsResult",
    "RequestPage",
    "consent_item",
]
