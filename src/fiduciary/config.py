"""Runtime settings, read once from the environment.

Every setting has an embedded default so that `fiduciary serve` works on a fresh machine with nothing
configured: data goes into `./.fiduciary/` (SQLite in WAL mode) and the bundled demo policy is loaded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_POLICY_PATH = PACKAGE_DIR / "policy" / "demo_policy.yaml"


class Settings(BaseSettings):
    """Configuration, from `FIDUCIARY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FIDUCIARY_", extra="ignore")

    data_dir: Path = Field(default=Path(".fiduciary"), description="Folder for the embedded database and keys.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite in data_dir. Use postgresql+psycopg://... for PostgreSQL.",
    )
    policy_file: Path | None = Field(
        default=None, description="Policy YAML loaded at start; unset means the bundled demo policy."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Origin used in links the service generates."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="Requests per minute per client address on public endpoints."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fiduciary.db').resolve()}"

    @property
    def resolved_policy_file(self) -> Path:
        return self.policy_file or DEMO_POLICY_PATH


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
