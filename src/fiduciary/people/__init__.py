"""people domain: the data principals Fiduciary knows, by pseudonymous id — their status, the day they come of
age, their lawful guardian, and whether they were erased. Never a personal value.

Below consent, decisions and the vault, which all need to know who a person is and whether they are a child;
it imports none of them. `__all__` names the modules other packages may import from.
"""

__all__ = [
    "flows",  # create, re-age and close, audited
    "guardianship",  # lawful guardians (DPDP s.9(1), Rule 11)
    "models",  # Person, PersonErasure
    "rights",  # the people domain's exporter and eraser
    "service",  # pseudonymous ids, age, account status
]
