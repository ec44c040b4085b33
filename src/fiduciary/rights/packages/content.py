"""What goes into an access package, written row by row into a working folder (then zipped by `builder`).

- `package.json`: one JSON document under the published schema (docs/access-package.schema.json, shipped in
  the package as `schema.json`): every row every registered domain holds, as `{"record_type", "data"}`, then
  the categories held with why, from where, to whom and for how long, and the consent receipts. Written as the
  rows arrive, never held whole: machine-readable for portability (GDPR Art 20(1), DPDP s.11(1)).
- `csv/<record_type>.csv`: one CSV per record type, the columns of its first row (the JSON is complete).
- `receipts/consent-<position>.json`: each consent event's signed receipt, as `fiduciary receipt verify`
  reads it (DPDP s.6(10), GDPR Art 7(1): the person's own proof of what they consented to).
- `summary.html`: the readable summary (DPDP s.11(1)(a)-(c); GDPR Art 15(1)(a)-(h)), rendered last from the
  small aggregates collected on the way (`Observed`).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import IO, Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from fiduciary.consent.service import ConsentService
from fiduciary.context import RuntimeContext
from fiduciary.errors import NotFound
from fiduciary.personal_data.registry import Row, registry_for
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.export.mapping import retention_sentence

FORMAT: Final = "fiduciary.access_package"
FORMAT_VERSION: Final = 1
SCHEMA_ID: Final = "https://fiduciary.dev/schemas/access-package/1.json"
SCHEMA_RESOURCE: Final = "access-package.schema.json"
RECEIPT_EVENT_TYPES: Final = frozenset({"consent.granted", "consent.withdrawn", "consent.denied"})
REQUESTS_DOMAIN: Final = "rights_requests"
SUMMARY_LIMIT: Final = 1000  # rows of one list the HTML shows; the JSON and CSVs hold them all
_SAFE_NAME = re.compile(r"[^a-z0-9._-]+")

_templates = Environment(
    loader=PackageLoader("fiduciary.rights.packages", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    auto_reload=False,
    keep_trailing_newline=True,
)


def schema_text() -> str:
    """The published JSON Schema of `package.json` (the same text as docs/access-package.schema.json)."""
    return resources.files("fiduciary.rights.packages").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


@dataclass
class HeldCategory:
    """What the vault holds of one category for the person: how many values, why and how it was collected."""

    values: int = 0
    purposes: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)


@dataclass
class Observed:
    """The small aggregates the summary needs, collected while the rows stream past."""

    counts: Counter[str] = field(default_factory=Counter)
    held: dict[str, HeldCategory] = field(default_factory=dict)
    consent: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    receipts: int = 0
    erased: bool = False
    _kinds: dict[str, str] = field(default_factory=dict)

    def see(self, record_type: str, row: Row) -> None:
        self.counts[record_type] += 1
        kind = self._kinds.get(record_type)
        if kind is None:
            kind = self._kinds[record_type] = _kind(record_type)
        if kind == _OTHER:
            return
        if kind == _HELD:
            category = row.get("category") or record_type[len("vault.records.") :]
            held = self.held.get(category)
            if held is None:
                held = self.held[category] = HeldCategory()
            held.values += 1
            held.purposes.add(row["purpose_of_collection"])
            held.sources.add(row["source"])
        elif kind == _ERASED:
            self.erased = True
        elif len(self.requests) < SUMMARY_LIMIT:
            self.requests.append({k: v for k, v in row.items() if isinstance(v, str | int | bool) or v is None})


_HELD, _ERASED, _REQUEST, _OTHER = "held", "erased", "request", "other"


def _kind(record_type: str) -> str:
    if record_type == "vault.fields" or record_type.startswith("vault.records."):
        return _HELD
    if record_type == "vault.erased":
        return _ERASED
    if record_type.split(".", 1)[0] == REQUESTS_DOMAIN:
        return _REQUEST
    return _OTHER


# Built once: `json.dumps` with options builds an encoder on every call (a third of a 100,000-row package).
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
_CELL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def _cell(value: Any) -> Any:
    """A nested value as JSON text in its cell; scalars as they are (the csv module writes None as empty)."""
    return _CELL_JSON.encode(value) if isinstance(value, dict | list | tuple) else value


@dataclass
class _Csv:
    handle: IO[str]
    writer: Any
    columns: list[str]
    nested: bool  # a column of the first row held a list or mapping: every cell goes through `_cell`
    prefix: str  # the JSON text that opens a record of this type


class PackageWriter:
    """Writes rows into the working folder as they arrive: the JSON document and one CSV per record type."""

    def __init__(self, root: Path, header: Mapping[str, Any]) -> None:
        self.root = root
        (root / "csv").mkdir()
        (root / "receipts").mkdir()
        self._json: IO[str] = (root / "package.json").open("w", encoding="utf-8")
        opening = json.dumps(dict(header), ensure_ascii=False)[:-1]  # the header object, left open
        self._json.write(opening + ',"records":[')
        self._separator = "\n"
        self._csv: dict[str, _Csv] = {}
        self._names: set[str] = set()
        self._receipts: IO[str] = (root / "receipts.jsonl").open("w+", encoding="utf-8")

    def record(self, record_type: str, row: Row) -> None:
        found = self._csv.get(record_type)
        if found is None:
            found = self._csv[record_type] = self._open(record_type, row)
        self._json.write(self._separator + found.prefix + _JSON.encode(row) + "}")
        self._separator = ",\n"
        if found.nested:
            found.writer.writerow([_cell(row.get(column)) for column in found.columns])
        else:
            found.writer.writerow([row.get(column) for column in found.columns])

    def _open(self, record_type: str, row: Row) -> _Csv:
        name = base = _SAFE_NAME.sub("_", record_type.lower()) or "record"
        while name in self._names:  # two types that spell the same file name: never overwrite one
            name = f"{base}-{len(self._names)}"
        self._names.add(name)
        handle = (self.root / "csv" / f"{name}.csv").open("w", encoding="utf-8", newline="")
        columns = list(row)
        writer = csv.writer(handle)
        writer.writerow(columns)
        nested = any(isinstance(value, dict | list | tuple) for value in row.values())
        prefix = '{"record_type":' + _JSON.encode(record_type) + ',"data":'
        return _Csv(handle, writer, columns, nested, prefix)

    def receipt(self, position: int, receipt: Mapping[str, Any]) -> None:
        text = json.dumps(receipt, ensure_ascii=False, indent=2)
        (self.root / "receipts" / f"consent-{position}.json").write_text(text + "\n", encoding="utf-8")
        self._receipts.write(json.dumps(receipt, ensure_ascii=False) + "\n")

    def finish(self, tail: Mapping[str, Any]) -> None:
        """Close the records, add the tail members and the receipts; close every file."""
        self._json.write("\n]")
        for key, value in tail.items():
            self._json.write("," + json.dumps(key) + ":" + json.dumps(value, ensure_ascii=False, default=str))
        self._json.write(',"consent_receipts":[')
        self._receipts.seek(0)
        for index, line in enumerate(self._receipts):
            self._json.write(("," if index else "") + line.rstrip("\n"))
        self._json.write("]}\n")
        self.close()
        (self.root / "receipts.jsonl").unlink()

    def close(self) -> None:
        for found in self._csv.values():
            found.handle.close()
        self._csv.clear()
        self._json.close()
        self._receipts.close()


def write_rows(runtime: RuntimeContext, session: Session, person_id: str, writer: PackageWriter) -> Observed:
    """Every registered domain's rows into the writer; each consent event's receipt beside them."""
    observed = Observed()
    consent = ConsentService.for_runtime(runtime)
    for record_type, row in registry_for(runtime).stream_person(session, person_id):
        writer.record(record_type, row)
        observed.see(record_type, row)
        if record_type == "consent.ledger_events":
            _consent_event(session, consent, writer, observed, row)
    return observed


def _consent_event(
    session: Session, consent: ConsentService, writer: PackageWriter, observed: Observed, row: Row
) -> None:
    position = int(row["position"])
    payload = row.get("payload") or {}
    receipt_id: str | None = None
    if row.get("event_type") in RECEIPT_EVENT_TYPES:
        try:
            receipt = consent.receipt(session, position)
        except NotFound:  # the ledger no longer holds it: the JSON still has the event and its hash
            receipt = None
        if receipt is not None:
            writer.receipt(position, receipt)
            observed.receipts += 1
            receipt_id = str(receipt.get("header", {}).get("record_id"))
    if len(observed.consent) < SUMMARY_LIMIT:
        observed.consent.append(
            {
                "position": position,
                "event_type": row.get("event_type"),
                "purpose": payload.get("purpose") if isinstance(payload, Mapping) else None,
                "subject": payload.get("subject") if isinstance(payload, Mapping) else None,
                "recorded_at": row.get("recorded_at"),
                "receipt_id": receipt_id,
                "receipt_file": f"receipts/consent-{position}.json" if receipt_id else None,
            }
        )


def categories_held(policy: CompiledPolicy, held: Mapping[str, HeldCategory]) -> list[dict[str, Any]]:
    """Each category held: its name, why (purposes), from where (sources), to whom (recipients), how long
    (retention) — from the policy in force, beside what the vault recorded at collection (DPDP s.11(1)(a)-(b);
    GDPR Art 15(1)(a)-(d), (g))."""
    document = policy.document
    declared = {c.id: c for c in document.categories}
    out: list[dict[str, Any]] = []
    for category_id in sorted(held):
        seen = held[category_id]
        declared_category = declared.get(category_id)
        purposes = [p for p in document.purposes if category_id in p.categories or category_id in p.optional_categories]
        out.append(
            {
                "id": category_id,
                "name": declared_category.name if declared_category else category_id,
                "values_held": seen.values,
                "purposes_of_collection": sorted(seen.purposes),
                "sources_of_collection": sorted(seen.sources),
                "policy_sources": [s.value for s in declared_category.sources] if declared_category else [],
                "third_party_sources": list(declared_category.third_party_sources) if declared_category else [],
                "purposes": [{"id": p.id, "name": p.name, "legal_ground": str(p.legal_ground.value)} for p in purposes],
                "recipients": [
                    {"id": r.id, "name": r.name, "kind": r.kind.value, "countries": list(r.countries)}
                    for r in document.recipients
                    if category_id in r.categories
                ],
                "retention": [
                    {"rule": rule.id, "text": retention_sentence(rule)}
                    for rule in document.retention
                    if category_id in rule.categories
                ],
            }
        )
    return out


def render_summary(
    root: Path,
    policy: CompiledPolicy,
    header: Mapping[str, Any],
    categories: Iterable[Mapping[str, Any]],
    observed: Observed,
) -> None:
    """`summary.html`: the readable summary, every value escaped (Jinja2 autoescape)."""
    document = policy.document
    html = _templates.get_template("summary.html").render(
        header=header,
        controller=document.controller,
        contacts=document.contacts,
        categories=list(categories),
        counts=sorted(observed.counts.items()),
        consent=observed.consent,
        receipts=observed.receipts,
        requests=observed.requests,
        erased=observed.erased,
        limit=SUMMARY_LIMIT,
    )
    (root / "summary.html").write_text(html, encoding="utf-8")


def write_schema(root: Path) -> None:
    (root / "schema.json").write_text(schema_text(), encoding="utf-8")


def header_for(
    policy: CompiledPolicy,
    *,
    package_id: str,
    person_id: str,
    request_id: str | None,
    portability: bool,
    generated_at: datetime,
) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_ID,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_id": package_id,
        "person_id": person_id,
        "request_id": request_id,
        "portability": portability,
        "generated_at": generated_at.isoformat(),
        "controller": policy.document.controller.legal_name,
        "policy_version": policy.version,
    }


def clear(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
