"""Interoperable exports of a policy: a fideslang manifest for Fides, and W3C DPV JSON-LD (issue 12, item 8).

Public surface: `ExportFormat`, `export_policy` (document → `PolicyExport`, plain data and notes) and
`PolicyExport.text()` (YAML for fideslang, as Fides reads manifests; JSON for DPV JSON-LD). The vocabulary
tables live in `mapping`, one place for both formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from fiduciary.policy.export.dpv import dpv_document
from fiduciary.policy.export.fideslang import fideslang_manifest
from fiduciary.policy.export.mapping import approximations
from fiduciary.policy.schema import PolicyDocument

__all__ = ["ExportFormat", "PolicyExport", "export_policy"]


class ExportFormat(StrEnum):
    FIDESLANG = "fideslang"
    DPV = "dpv"


MEDIA_TYPES = {ExportFormat.FIDESLANG: "application/yaml", ExportFormat.DPV: "application/ld+json"}


@dataclass(frozen=True)
class PolicyExport:
    format: ExportFormat
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def text(self) -> str:
        if self.format is ExportFormat.FIDESLANG:
            # libyaml's dumper where present (as the loader uses libyaml's parser): the same YAML, ~10x faster.
            dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
            dumped: str = yaml.dump(self.data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=120)
            return dumped
        return json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"


def export_policy(document: PolicyDocument, format: ExportFormat) -> PolicyExport:
    """The policy in another vocabulary; `notes` say where that vocabulary could only approximate it."""
    if format is ExportFormat.FIDESLANG:
        manifest, notes = fideslang_manifest(document)
        return PolicyExport(format, manifest, notes)
    return PolicyExport(format, dpv_document(document), approximations(document, "dpv"))
