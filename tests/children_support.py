"""Policy variants for the children's tests: the demo policy with other children's settings or laws."""

from __future__ import annotations

from typing import Any

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Jurisdiction, PolicyDocument


def variant(
    base: PolicyDocument, *, jurisdictions: list[Jurisdiction] | None = None, version: int = 3, **children: Any
) -> CompiledPolicy:
    """`base` with `children.<key>` replaced (and the controller's jurisdictions), compiled."""
    doc = base.model_copy(update={"children": base.children.model_copy(update=children)})
    if jurisdictions is not None:
        doc = doc.model_copy(update={"controller": doc.controller.model_copy(update={"jurisdictions": jurisdictions})})
    return CompiledPolicy.build(doc, "sha256:variant", version)


def us_only(base: PolicyDocument, **children: Any) -> CompiledPolicy:
    """A California-only store whose children are under 13 (COPPA age), so CCPA's 13-15 band shows."""
    return variant(base, jurisdictions=[Jurisdiction.US_CA], minimum_age=13, **children)
