"""Runtime settings, read once from the environment.

Every setting has an embedded default so that `fiduciary serve` works on a fresh machine with nothing
configured: data goes into `./.fiduciary/` (SQLite in WAL mode) and the bundled demo policy is loaded.

The data folder and the public base URL each have one rule, shared by the service and every command
(docs/decisions/0016-base-url-and-data-folder.md):

- data folder: `FIDUCIARY_DATA_DIR`, else `data_dir` of the first `fiduciary.toml` found in the current
  folder or one above it (relative to that file), else `./.fiduciary`;
- public base URL: `FIDUCIARY_PUBLIC_BASE_URL` (an origin: scheme and host, no path), else the address the
  service actually bound (`Runtime.public_base_url`), else `http://FIDUCIARY_HOST:FIDUCIARY_PORT`.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_POLICY_PATH = PACKAGE_DIR / "policy" / "demo_policy.yaml"
DEFAULT_DATA_DIR = Path(".fiduciary")
PROJECT_CONFIG_NAME = "fiduciary.toml"
DATABASE_FILE_NAME = "fiduciary.db"


class ConfigError(ValueError):
    """A project config file that cannot be used; the message names the file (and line where known)."""


def find_project_config(start: Path | None = None) -> Path | None:
    """The nearest `fiduciary.toml` in `start` (default: the current folder) or a folder above it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def data_dir_from_config(path: Path) -> Path | None:
    """`data_dir` of a project config file, relative to the file's folder; None when the file sets none."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    value = table.get("data_dir")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f'{path}: data_dir must be a non-empty string, e.g. data_dir = ".fiduciary"')
    return (path.parent / value).resolve()


def default_data_dir() -> Path:
    """The data folder when FIDUCIARY_DATA_DIR is unset: the project config's, else `./.fiduciary`."""
    config = find_project_config()
    found = data_dir_from_config(config) if config is not None else None
    return found or DEFAULT_DATA_DIR


@functools.lru_cache(maxsize=64)
def origin_for_bind(host: str, port: int) -> str:
    """The http origin of a listening address. A wildcard address is not one a browser can use, so links
    then name the loopback address of the same family (set FIDUCIARY_PUBLIC_BASE_URL to serve others)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104 - a mapping
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def check_public_base_url(value: str) -> str:
    """An origin (`https://privacy.example.com`, optionally with a port), without its trailing slash.

    A path, query or fragment is refused rather than dropped: every link appends its own absolute path, so
    a base with a path would silently produce links to a different place than the operator meant.
    """
    message = "must be an origin such as https://privacy.example.com (http or https, a host, no path)"
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError(message) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValueError(message)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(message)
    return f"{parts.scheme}://{parts.netloc}"


class Settings(BaseSettings):
    """Configuration, from `FIDUCIARY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FIDUCIARY_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the embedded database and keys; unset means `data_dir` of the nearest "
        "fiduciary.toml (this folder or one above), else ./.fiduciary.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite in data_dir. Use postgresql+psycopg://... for PostgreSQL.",
    )
    policy_file: Path | None = Field(
        default=None, description="Policy YAML loaded at start; unset means the bundled demo policy."
    )
    public_base_url: str | None = Field(
        default=None,
        description="Origin used in links the service generates (scheme and host, no path); unset means the "
        "address `fiduciary serve` bound, or the request's Host when trust_proxy_host is on.",
    )
    trust_proxy_host: bool = Field(
        default=False,
        description="With public_base_url unset, build links from each request's Host header (scheme as the "
        "server saw it, e.g. from X-Forwarded-Proto of a trusted proxy). Only behind a proxy that sets Host: "
        "a client reaching the service directly chooses its own Host.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    demo_shop: Path | None = Field(
        default=None,
        description="Folder of the demo shop (examples/demo-shop) served at /demo/ with the cookie banner; set by "
        "`fiduciary serve --demo`. Unset serves no demo.",
    )
    public_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="Requests per minute per client address on public endpoints."
    )
    vulnerability_report_rate_limit_per_hour: int = Field(
        default=10,
        ge=1,
        description="Vulnerability reports accepted per hour per client address (the report form and "
        "POST /v1/vulnerability-reports), on top of the public budget: a report is heavy (attachments, sealing, "
        "a message), so its budget is stricter. A burst of this many, then one per hour's share.",
    )
    rate_limit_store: Literal["auto", "memory", "database", "redis"] = Field(
        default="auto",
        description="Where rate limits and failed-authentication budgets live: redis (FIDUCIARY_REDIS_URL), "
        "database (shared by every process on the database), memory (per process); auto means redis when "
        "FIDUCIARY_REDIS_URL is set, else database on PostgreSQL or with several workers, else memory.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db for shared rate limits (install the `redis` extra); unset means none.",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Base64 of the raw 32-byte Ed25519 private key that signs ledger checkpoints; "
        "unset means <data_dir>/signing.key, generated (mode 0600) on first start.",
    )
    signing_keys_previous: str = Field(
        default="",
        description="Comma-separated base64 Ed25519 public keys of retired signing keys, still trusted to verify.",
    )
    ledger_checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign a ledger checkpoint at least every this many events per stream."
    )
    ledger_checkpoint_interval_seconds: int = Field(
        default=60, ge=1, description="Sign a ledger checkpoint on the first append this many seconds after the last."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key for HMAC tokens (unsubscribe links); unset means data_dir/secret.key, made on first use.",
    )
    # --- vault keys (see docs/vault.md) ---
    kek: SecretStr | None = Field(
        default=None,
        description="Base64 of the 32-byte key-encryption key that wraps every person's data key; "
        "unset means the key file (FIDUCIARY_KEK_FILE or <data_dir>/kek.key).",
    )
    kek_file: Path | None = Field(
        default=None,
        description="File holding the base64 key-encryption key; unset means <data_dir>/kek.key, generated "
        "(mode 0600) when the vault is first initialised. A file named here is never generated.",
    )
    kek_provider: str | None = Field(
        default=None,
        description="A KMS or transit provider as package.module:factory, where factory(settings) returns a "
        "KeyEncryptionKeyProvider; unset means FIDUCIARY_KEK or the key file.",
    )
    age_token_verifier: str | None = Field(
        default=None,
        description="A virtual-token age verifier for guardians (DPDP Rule 10(1)(b), e.g. DigiLocker) as "
        "package.module:factory, where factory(settings) returns an AgeTokenVerifier; unset refuses age tokens.",
    )
    kek_previous: SecretStr | None = Field(
        default=None,
        description="Comma-separated base64 retired key-encryption keys, still used to unwrap data keys until "
        "`fiduciary keys rotate` has re-wrapped everything under the current one.",
    )
    index_key: SecretStr | None = Field(
        default=None,
        description="Base64 of the 32-byte secret the blind-index and erasure-journal keys derive from; unset "
        "means <data_dir>/index.key, generated (mode 0600) when the vault is first initialised.",
    )
    keys_database_url: str | None = Field(
        default=None,
        description="Separate database for the per-person data keys (so their backups can be kept short); "
        "unset means the main database.",
    )
    erasure_journal: Path | None = Field(
        default=None,
        description="Append-only erasure journal, kept outside the database so a restored backup cannot lose "
        "it; unset means <data_dir>/erasure-journal.log.",
    )
    vault_key_cache_size: int = Field(
        default=10_000, ge=0, description="Unwrapped data keys kept in memory per process (LRU); 0 disables."
    )
    environment: Literal["production", "development"] = Field(
        default="production",
        description=(
            "development turns on start-up checks that cost time: e.g. that every table holding a person "
            "reference has a registered exporter and eraser (the runtime refuses to start otherwise)."
        ),
    )
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL",
        description="SQLite only: FULL fsyncs the WAL at every commit, so an acknowledged write survives a power "
        "cut; NORMAL survives a killed process but may lose the last commits to a power cut or OS crash "
        "(faster writes; docs/decisions/0012-commit-before-answering.md).",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A request's body must have arrived within this many seconds of the request, else the "
        "service answers 408 and closes the connection (a client trickling its body cannot hold a request).",
    )
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP base URL of an OpenTelemetry collector (e.g. http://collector:4318): a span per "
        "request goes to <it>/v1/traces (install the `otel` extra); unset means OTEL_EXPORTER_OTLP_ENDPOINT "
        "if set, else no tracing.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="`fiduciary serve` writes its logs to stderr as one JSON object a line (time, level, logger, "
        "message, request_id, and for access lines route, status and duration_ms), or as plain text lines.",
    )
    # --- housekeeping (see fiduciary.housekeeping) ---
    housekeeping_interval_minutes: float = Field(
        default=10,
        ge=0,
        description="The periodic job `housekeeping` (seal every ledger stream, purge erased vault data, delete "
        "expired idempotency keys) is queued this often, once cluster-wide, first one interval after start; "
        "0 disables it (run `fiduciary housekeeping` from cron instead). SQLite: the service runs it; "
        "PostgreSQL: `fiduciary worker` processes do.",
    )
    idempotency_ttl_hours: int = Field(
        default=24,
        ge=1,
        description="How long the stored answer to an Idempotency-Key is kept; housekeeping deletes older ones, "
        "after which the same key is a new request.",
    )
    # --- the outbox (see docs/comms.md) ---
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://[user:password@]host[:port][?starttls=true] or smtps://… (TLS from the start): the "
        "outbox delivers mail there; unset means .eml files in <data_dir>/outbox/ (the embedded default).",
    )
    mail_from: str | None = Field(
        default=None,
        description="The From address of outbox mail; unset means the policy's privacy contact, DPO or grievance "
        "officer e-mail.",
    )
    outbox_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Delivery attempts of a message before it is marked failed."
    )
    outbox_backoff_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Wait after a message's first failed attempt, doubling after each (at most a day).",
    )
    outbox_sweep_seconds: float = Field(
        default=60.0,
        ge=0,
        description="The periodic job `comms.deliver` sweeps the outbox this often (retries, anything missed); "
        "0 disables the sweep (messages are still delivered when they commit).",
    )
    # --- security.txt (see docs/vulnerability-reports.md) ---
    security_txt_signing_key: Path | None = Field(
        default=None,
        description="An armored OpenPGP secret key without a passphrase; set, /.well-known/security.txt is "
        "clear-signed with it by the gpg program (RFC 9116 s.2.3). Unset means an unsigned file.",
    )

    @field_validator("public_base_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else check_public_base_url(value)

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper_synchronous(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.database_file.resolve()}"

    @property
    def database_file(self) -> Path:
        """The embedded SQLite file (used unless FIDUCIARY_DATABASE_URL names another database)."""
        return self.data_dir / DATABASE_FILE_NAME

    @property
    def configured_base_url(self) -> str:
        """FIDUCIARY_PUBLIC_BASE_URL, else the origin of the configured listening address. Outside a running
        service (the CLI, an embedding application) this is the best answer; `serve` knows the bound one."""
        return self.public_base_url or origin_for_bind(self.host, self.port)

    @property
    def resolved_policy_file(self) -> Path:
        return self.policy_file or DEMO_POLICY_PATH

    def resolved_secret_key(self) -> bytes:
        """The HMAC key: FIDUCIARY_SECRET_KEY, else data_dir/secret.key (created once, mode 0600).

        Every API process must share the key, or a link signed by one is refused by another: set the
        variable, or put the processes on one data_dir. The file is created with a hard link from a
        private temporary file so two processes starting at once agree on one key.
        """
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value().encode("utf-8")
            if len(value) < 32:
                raise ValueError("FIDUCIARY_SECRET_KEY must be at least 32 characters")
            return value
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".secret.key.{secrets.token_hex(8)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_urlsafe(48).encode("ascii"))
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_bytes().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
