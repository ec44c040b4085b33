"""The running system's shared parts: settings, database, and the policy in force.

The web app and the CLI both build one `Runtime`; domain services receive what they need from it
(a session, the compiled policy) rather than reaching for globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.config import Settings, get_settings
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.versions import PolicyInForce, bootstrap_policy
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head
from fiduciary.vault.service import check_vault_keys, close_vault_keys


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    extras: dict[str, object] = field(default_factory=dict)
    _policy: PolicyInForce = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._policy = PolicyInForce(self.sessions)

    @classmethod
    def start(cls, settings: Settings | None = None, *, migrate: bool = True, bootstrap: bool = True) -> Runtime:
        """Open the database; `bootstrap` publishes the configured policy if nothing is published yet."""
        settings = settings or get_settings()
        engine = create_engine_for_url(settings.resolved_database_url)
        try:
            if migrate:
                upgrade_to_head(engine)
            runtime = cls(settings=settings, engine=engine, sessions=make_session_factory(engine))
            if bootstrap:
                bootstrap_policy(runtime.sessions, settings.resolved_policy_file)
            # A missing or wrong key-encryption key stops the start here, never a corrupt read later.
            check_vault_keys(runtime)
        except BaseException:
            engine.dispose()
            raise
        return runtime

    def policy(self) -> CompiledPolicy:
        """The compiled policy in force now (raises `NoPolicyInForce` when none is)."""
        return self._policy.get()

    def close(self) -> None:
        close_vault_keys(self)
        self.engine.dispose()
