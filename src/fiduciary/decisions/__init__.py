"""decisions domain."""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "audiences",  # audiences computed in SQL
    "engine",  # the pure decision function and reason codes
    "flows",  # decide and audit
    "ids",  # subject id shapes
    "service",  # DecisionService: facts and decisions
]
