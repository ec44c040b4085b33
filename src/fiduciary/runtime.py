"""The running system's shared parts: settings, database, and the policy in force.

The web app and the CLI both build one `Runtime`; domain services receive what they need from it
(a session, the compiled policy) rather than reaching for globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.config import Settings, get_settings
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
        settings = settings or get_settings()
        engine = create_engine_for_url(settings.resolved_database_url)
        if migrate:
            upgrade_to_head(engine)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine))

    def close(self) -> None:
        self.engine.dispose()
