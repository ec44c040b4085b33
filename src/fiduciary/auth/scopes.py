"""Scopes an API key can hold: least privilege for store backends.

DPDP Rule 6(1)(b) asks for access control to the computer resources that process personal data; a store
backend gets a key that can do only what that backend needs (a checkout service may write consent and ask
decisions but never read people or the audit trail). Scope names are `resource:action` so that a reader of
a key listing can tell what the key can touch; `admin` implies every scope, present and future.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from fiduciary.errors import FieldProblem, ValidationFailed


class Scope(StrEnum):
    """One permission. The value is what keys store and what the CLI and API accept."""

    POLICY_WRITE = "policy:write"
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    DECISIONS = "decisions"
    PEOPLE_READ = "people:read"
    PEOPLE_WRITE = "people:write"
    RIGHTS_MANAGE = "rights:manage"
    HOLDS_READ = "holds:read"
    HOLDS_WRITE = "holds:write"
    DISCLOSURES_WRITE = "disclosures:write"
    DISCLOSURES_READ = "disclosures:read"
    BREACHES_MANAGE = "breaches:manage"
    SESSIONS_WRITE = "sessions:write"
    CASES_READ = "cases:read"
    CASES_MANAGE = "cases:manage"
    AUDIT_READ = "audit:read"
    LEDGER_READ = "ledger:read"
    APIKEYS_MANAGE = "apikeys:manage"
    JOBS_READ = "jobs:read"
    METRICS_READ = "metrics:read"
    ADMIN = "admin"


SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.POLICY_WRITE: "Publish a new policy version (changes the notice every customer sees).",
    Scope.CONSENT_READ: "Read a subject's current consent state and receipts.",
    Scope.CONSENT_WRITE: "Record consent events (grant, withdraw, deny, GPC) from checkout or the banner backend.",
    Scope.DECISIONS: "Ask whether an actor may use categories of a person's data for a purpose (single or bulk).",
    Scope.PEOPLE_READ: "Read people and their personal fields, always for a declared purpose.",
    Scope.PEOPLE_WRITE: "Create people and collect or correct their personal fields.",
    Scope.RIGHTS_MANAGE: "Open and act on rights requests (access, correction, erasure, nomination).",
    Scope.HOLDS_READ: "List staff holds on people and records (reason, who, until when; the note is redacted).",
    Scope.HOLDS_WRITE: "Place and release holds that keep a person or a record past retention and erasure for a "
    "dispute or an authority's order.",
    Scope.DISCLOSURES_WRITE: "Disclose people's data to a recipient the policy names: the allowed fields come back "
    "as a minimised package and the share is logged (DPDP s.11(1)(b)).",
    Scope.DISCLOSURES_READ: "Read the disclosure log, recipients' endpoints (never their secrets), the notices sent "
    "to recipients and whether they acknowledged them, and the records of processing.",
    Scope.BREACHES_MANAGE: "Record personal-data breaches, their reports and steps, and notify the people affected.",
    Scope.SESSIONS_WRITE: "Open a customer session for a customer signed in on the store's site, vouching for "
    "who they are, so they can use the privacy endpoints without a one-time code.",
    Scope.CASES_READ: "Read what is due across cases and rights requests, and cases (grievances, vulnerability "
    "reports) with their redacted text and attachments.",
    Scope.CASES_MANAGE: "Act on cases: receive and answer grievances; acknowledge, triage, fix, disclose or close "
    "vulnerability reports, write notes and replies to researchers.",
    Scope.AUDIT_READ: "Read the audit stream (who used what, for which purpose; never values).",
    Scope.LEDGER_READ: "Read the consent and audit ledgers, checkpoints and verification results.",
    Scope.APIKEYS_MANAGE: "Create, list and revoke API keys, granting at most the scopes the key itself holds.",
    Scope.JOBS_READ: "Read the background jobs' dead-letter list (ids, task names, attempts; never arguments).",
    Scope.METRICS_READ: "Read the service's Prometheus metrics (request counts and latencies, decisions, ledger "
    "appends, queue depths; never personal values).",
    Scope.ADMIN: "Every scope, including scopes added in later versions.",
}


def valid_scope_list() -> str:
    return ", ".join(s.value for s in Scope)


def parse_scopes(values: Iterable[str], field: str = "scopes") -> list[Scope]:
    """Validate scope names; the result is de-duplicated and in declaration order (stable listings)."""
    problems: list[FieldProblem] = []
    seen: set[Scope] = set()
    for index, raw in enumerate(values):
        value = raw.strip()
        try:
            seen.add(Scope(value))
        except ValueError:
            problems.append(
                FieldProblem(
                    f"{field}[{index}]",
                    "unknown scope",
                    hint=f"valid scopes: {valid_scope_list()}",
                )
            )
    if problems:
        raise ValidationFailed("Unknown scope. Valid scopes: " + valid_scope_list() + ".", problems)
    if not seen:
        raise ValidationFailed(
            "At least one scope is required.",
            [FieldProblem(field, "give at least one scope", hint=f"valid scopes: {valid_scope_list()}")],
        )
    return [s for s in Scope if s in seen]


def held_scopes(stored: Iterable[str]) -> set[Scope]:
    """The scopes a stored list grants. An unknown stored name (e.g. from a newer version) grants nothing."""
    held: set[Scope] = set()
    for value in stored:
        try:
            held.add(Scope(value))
        except ValueError:
            continue
    if Scope.ADMIN in held:
        return set(Scope)
    return held


def missing_scopes(stored: Iterable[str], needed: Iterable[Scope | str]) -> list[Scope]:
    """The needed scopes that `stored` does not grant (empty when allowed); admin grants everything."""
    held = held_scopes(stored)
    missing: list[Scope] = []
    for scope in needed:
        wanted = Scope(scope)
        if wanted not in held and wanted not in missing:
            missing.append(wanted)
    return missing
