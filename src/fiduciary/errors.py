"""Domain errors that every layer can raise and the web layer turns into RFC 9457 problem details.

Domain code raises these without knowing about HTTP; `web.problems` maps `status` and `fields` onto a
problem+json body. Messages never carry a personal value, only field names and codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input: `field` is a dotted path into the request (e.g. `body.purposes[2]`)."""

    field: str
    message: str
    hint: str | None = None


@dataclass
class FiduciaryError(Exception):
    """Base for errors a caller can act on."""

    detail: str
    status: int = 400
    title: str = "Bad request"
    code: str = "bad_request"
    fields: list[FieldProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail


class NotFound(FiduciaryError):
    def __init__(self, detail: str, code: str = "not_found") -> None:
        super().__init__(detail=detail, status=404, title="Not found", code=code)


class Conflict(FiduciaryError):
    def __init__(self, detail: str, code: str = "conflict", fields: list[FieldProblem] | None = None) -> None:
        super().__init__(detail=detail, status=409, title="Conflict", code=code, fields=fields or [])


class ValidationFailed(FiduciaryError):
    def __init__(self, detail: str, fields: list[FieldProblem], code: str = "validation_failed") -> None:
        super().__init__(detail=detail, status=422, title="Validation failed", code=code, fields=fields)


class Unauthorized(FiduciaryError):
    def __init__(self, detail: str = "A valid API key is required.", code: str = "unauthorized") -> None:
        super().__init__(detail=detail, status=401, title="Unauthorized", code=code)


class Forbidden(FiduciaryError):
    def __init__(self, detail: str, code: str = "forbidden") -> None:
        super().__init__(detail=detail, status=403, title="Forbidden", code=code)
