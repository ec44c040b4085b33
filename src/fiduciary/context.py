"""What a domain may ask of the running system: a protocol, so that domains never import the runtime.

`fiduciary.runtime.Runtime` is the composition root: it starts the vault keys and registers every domain's
exporter and eraser, so it imports the domains. A domain that imported it back would close a cycle between
packages (tests/architecture/test_import_graph.py); domains take a `RuntimeContext` instead, which the
runtime satisfies structurally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

# Annotations only: importing this module stays free, so a light CLI command that reaches it through the
# audit trail does not load the policy schema or the ORM (tests/cli/test_cli_imports.py).
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from fiduciary.config import Settings
    from fiduciary.policy.compiled import CompiledPolicy

T = TypeVar("T")


class RuntimeContext(Protocol):
    """The settings, the database and the policy in force, and a place for per-runtime objects."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def extras(self) -> dict[str, object]: ...

    @property
    def public_base_url(self) -> str: ...

    def shared(self, key: str, kind: type[T], build: Callable[[], T]) -> T:
        """The runtime's one `kind` object under `key`, built on first use (caches that live as long as it)."""
        ...

    def policy(self) -> CompiledPolicy:
        """The compiled policy in force now."""
        ...
