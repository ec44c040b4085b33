"""Python client for the Fiduciary HTTP API, for the store backend: `FiduciaryClient`, and
`FiduciaryVaultClient` with personal fields, lookup, export, erasure and the audit trail as well, and
`FiduciaryRequestsClient` with rights requests, `FiduciaryCasesClient` with what is due and grievances,
`FiduciaryVulnerabilityClient` with vulnerability reports, `FiduciaryBreachClient` with the breach register, and
`FiduciaryDisclosuresClient` with disclosures; and for a recipient of disclosures, `RecipientClient` to
acknowledge the notices it acted on."""

from fiduciary.sdk.breaches import FiduciaryBreachClient
from fiduciary.sdk.cases import CasePage, FiduciaryCasesClient
from fiduciary.sdk.client import DecisionResult, FiduciaryAPIError, FiduciaryClient, consent_item
from fiduciary.sdk.disclosures import FiduciaryDisclosuresClient, RecipientClient, sign_acknowledgement
from fiduciary.sdk.requests import CloseItem, FiduciaryRequestsClient, RequestPage
from fiduciary.sdk.vault import AuditPage, FiduciaryVaultClient, FieldsResult
from fiduciary.sdk.vulnerability_reports import FiduciaryVulnerabilityClient

__all__ = [
    "AuditPage",
    "CasePage",
    "CloseItem",
    "DecisionResult",
    "FiduciaryAPIError",
    "FiduciaryBreachClient",
    "FiduciaryCasesClient",
    "FiduciaryClient",
    "FiduciaryDisclosuresClient",
    "FiduciaryRequestsClient",
    "FiduciaryVaultClient",
    "FiduciaryVulnerabilityClient",
    "FieldsResult",
    "RecipientClient",
    "RequestPage",
    "consent_item",
    "sign_acknowledgement",
]
