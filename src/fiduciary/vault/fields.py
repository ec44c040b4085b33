"""Personal field values before they are encrypted: checked against the policy and validated by type.

Every value of a request is validated first and every problem collected (`Problems`), so a bad request
names each bad field and writes nothing. The purpose of collection recorded for a field is the first named
purpose whose categories include it; a category no named purpose uses is refused (DPDP s.6(1), GDPR Art
5(1)(c)). The validation itself (formats, checksums, redaction) is `fiduciary.vault.validation`, reached
through the `FieldValidator` protocol so tests can substitute it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol, cast

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import FieldType, Source

MAX_VALUE_BYTES = 64 * 1024  # one field value; larger content belongs in a document store, referenced

# A category as the policy declares it: (its field type, that type as stored, the first named purpose
# using it or None); None for a category the policy does not declare.
CategoryPlan = tuple[FieldType, str, str | None] | None


class ValidatedLike(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def masked(self) -> str: ...


class FieldValidator(Protocol):
    """The surface of `fiduciary.vault.validation` the vault calls (formats, checksums, redaction)."""

    def normalise_identifier(self, kind: str, value: str, default_country: str) -> str: ...

    def validate_field(self, field_type: str, value: str, *, default_country: str) -> ValidatedLike: ...


def default_validator() -> FieldValidator:
    """`fiduciary.vault.validation`, imported on first use (it pulls in the free-text recognisers)."""
    try:
        module = importlib.import_module("fiduciary.vault.validation")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while the module is being written
        raise RuntimeError("fiduciary.vault.validation is not available; the vault cannot validate values") from exc
    return cast(FieldValidator, module)


def _purpose_for(policy: CompiledPolicy, purposes: Sequence[str], category: str) -> str | None:
    for purpose in purposes:
        if category in policy.compiled_purposes[purpose].categories:
            return purpose
    return None


def prefixed(exc: ValidationFailed, prefix: str) -> list[FieldProblem]:
    problems = exc.fields or [FieldProblem("", exc.detail)]
    return [FieldProblem(prefix, p.message, p.hint) for p in problems]


class Problems(list[FieldProblem]):
    """Problems collected across every value, and the validator's codes (kept when there is only one)."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: set[str] = set()

    def append(self, problem: FieldProblem) -> None:
        super().append(problem)
        self.codes.add("validation_failed")

    def caught(self, exc: ValidationFailed, where: str | None = None) -> None:
        self.extend(exc.fields if where is None else prefixed(exc, where))
        self.codes.add(exc.code)

    def raise_if_any(self) -> None:
        if self:
            code = next(iter(self.codes)) if len(self.codes) == 1 else "validation_failed"
            raise ValidationFailed("Some values are not valid.", list(self), code=code)


class PreparedField(NamedTuple):
    """A validated value ready to encrypt (a named tuple: half the cost of a frozen dataclass to build,
    and a bulk import builds eight per person)."""

    category: str
    field_type: str
    purpose: str
    value: str
    raw: str


def check_purposes(policy: CompiledPolicy, purpose: str | Sequence[str]) -> list[str]:
    purposes = [purpose] if isinstance(purpose, str) else list(purpose)
    if not purposes:
        raise ValidationFailed("Name the purpose of collection.", [FieldProblem("purpose", "is required")])
    unknown = [p for p in purposes if not isinstance(p, str) or p not in policy.compiled_purposes]
    if unknown:
        raise ValidationFailed(
            "The purpose of collection is not one the policy declares.",
            [FieldProblem("purpose", f"'{p}' is not a purpose in the policy") for p in unknown],
        )
    return purposes


def check_source(source: str) -> str:
    allowed = [s.value for s in Source]
    if source not in allowed:
        raise ValidationFailed(
            "Unknown source of collection.", [FieldProblem("source", f"must be one of {', '.join(allowed)}")]
        )
    return source


def prepare_fields(
    validator: FieldValidator,
    policy: CompiledPolicy,
    fields: Mapping[str, str],
    purposes: Sequence[str],
    prefix: str,
    problems: Problems,
    plans: dict[str, CategoryPlan] | None = None,
) -> list[PreparedField]:
    """Validate every value against its category's type; collect every problem before writing anything.

    The purpose of collection recorded for a field is the first named purpose that uses its category:
    collecting a category for a purpose that does not need it is refused (DPDP s.6(1) "limited to such
    personal data as is necessary"; GDPR Art 5(1)(c)). `plans` memoises each category's type and
    purpose across the people of one call (they depend only on the policy and the named purposes).
    """
    country = policy.document.controller.default_country
    validate = validator.validate_field
    if plans is None:
        plans = {}
    prepared: list[PreparedField] = []
    for category, value in fields.items():
        if category in plans:
            plan = plans[category]
        else:
            plan = plans[category] = category_plan(policy, purposes, category)
        if plan is None:
            problems.append(FieldProblem(f"{prefix}.{category}", "is not a data category the policy declares"))
            continue
        if not isinstance(value, str):
            problems.append(FieldProblem(f"{prefix}.{category}", "must be a string"))
            continue
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            problems.append(FieldProblem(f"{prefix}.{category}", f"is longer than {MAX_VALUE_BYTES} bytes"))
            continue
        field_type, stored_type, purpose = plan
        if purpose is None:
            problems.append(
                FieldProblem(
                    f"{prefix}.{category}",
                    f"no named purpose of collection ({', '.join(purposes)}) uses this category",
                    "collect it under a purpose that lists it in the policy",
                )
            )
            continue
        try:
            validated = validate(field_type, value, default_country=country)
        except ValidationFailed as exc:
            problems.caught(exc, f"{prefix}.{category}")
            continue
        prepared.append(PreparedField(category, stored_type, purpose, validated.value, value))
    return prepared


def category_plan(policy: CompiledPolicy, purposes: Sequence[str], category: str) -> CategoryPlan:
    declared = policy.categories.get(category)
    if declared is None:
        return None
    return declared.field_type, str(declared.field_type), _purpose_for(policy, purposes, category)
