"""Python client for the Fiduciary HTTP API, for the store backend: `FiduciaryClient`."""

from fiduciary.sdk.client import DecisionResult, FiduciaryAPIError, FiduciaryClient

__all__ = ["DecisionResult", "FiduciaryAPIError", "FiduciaryClient"]
