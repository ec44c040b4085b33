"""personal_data: the contract every domain that stores personal data signs — an exporter and an eraser.

A base package: it imports no domain. Each domain registers itself from its own `<domain>/rights.py`; the
runtime installs them; the `rights` flows run them (access and erasure requests), and a schema walk
(`coverage`) proves no table with a person reference is left out. A domain that changes a person's data
announces it (`registry.announce`, `changes`) to the domains that react (disclosures). See docs/rights-registry.md.
"""

__all__ = [
    "changes",  # PersonDataChange, ChangeKind: what a listener hears (registry.announce tells them)
    "contacts",  # report_contact: the person approached the store (the inactivity clock listens)
    "coverage",  # person_reference_tables, uncovered_tables, PSEUDONYMOUS_ONLY
    "registry",  # PersonalDataRegistry, EraseReport, ErasureSummary, registry_for, register
]
