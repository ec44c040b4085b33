"""The policy file: schema, loading with file:line errors, checks, versions, diffs, the rendered notice."""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "ages",  # the ages that apply to a person, by jurisdiction
    "calendar",  # working days (with public holidays) and month arithmetic
    "compiled",  # CompiledPolicy for decisions
    "diff",  # policy diffs
    "duration",  # Duration: lengths as policies write them (a due-soon window, a deadline)
    "export",  # fideslang and DPV exports
    "loader",  # loading with file:line problems
    "models",  # the policy versions table
    "notice",  # the rendered notice
    "openpgp",  # clear-signing security.txt with gpg
    "retention_due",  # when retained data falls due
    "schema",  # the policy file's schema
    "security_txt",  # /.well-known/security.txt from the security contact (RFC 9116)
    "versions",  # published versions
]
