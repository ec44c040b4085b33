"""The running system's shared parts: settings, database, and the policy in force.

The web app and the CLI both build one `Runtime`; domain services receive what they need from it
(a session, the compiled policy) rather than reaching for globals.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.audit import rights as audit_rights
from fiduciary.cases import grievance_kind as _grievance_kind  # noqa: F401 (registers the grievance kind)
from fiduciary.cases import jobs as _cases_jobs  # noqa: F401 (registers the escalation sweep)
from fiduciary.cases import personal_data as cases_personal_data
from fiduciary.cases import vulnerability_kind as _vulnerability_kind  # noqa: F401 (registers the kind)
from fiduciary.cases.breach import jobs as _breach_jobs  # noqa: F401 (registers the breach kind and its job)
from fiduciary.cases.breach import personal_data as breach_personal_data
from fiduciary.comms import rights as comms_rights
from fiduciary.config import Settings, get_settings
from fiduciary.consent import rights as consent_rights
from fiduciary.disclosures import rights as disclosures_rights
from fiduciary.disclosures import webhooks as _disclosure_webhooks  # noqa: F401 (registers disclosures.deliver)
from fiduciary.identity import rights as identity_rights
from fiduciary.people import rights as people_rights
from fiduciary.personal_data.coverage import describe_uncovered, person_reference_tables_in_database, uncovered_tables
from fiduciary.personal_data.registry import Registrar, install_registry, registry_for
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.openpgp import ClearSigner
from fiduciary.policy.versions import PolicyInForce, bootstrap_policy
from fiduciary.retention import inactivity_jobs as _inactivity_jobs  # noqa: F401 (registers the sweep)
from fiduciary.retention import inactivity_rights
from fiduciary.retention import jobs as _retention_jobs  # noqa: F401 (registers the retention sweep)
from fiduciary.retention import rights as retention_rights
from fiduciary.rights import personal_data as rights_personal_data
from fiduciary.rights import request_jobs as _rights_jobs  # noqa: F401 (registers the jobs requests queue)
from fiduciary.rights.packages import registration as packages_rights
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head
from fiduciary.vault import rights as vault_rights
from fiduciary.vault.keys.startup import check_vault_keys, close_vault_keys

T = TypeVar("T")

# Every domain that stores personal data registers its exporter and eraser from its own `rights` module;
# this list is the one place that names them all (tests/rights/test_registry_schema.py proves it complete).
DOMAIN_REGISTRARS: Final[tuple[Registrar, ...]] = (
    vault_rights.register,
    consent_rights.register,
    audit_rights.register,
    people_rights.register,
    comms_rights.register,
    identity_rights.register,
    rights_personal_data.register,
    packages_rights.register,
    inactivity_rights.register,
    retention_rights.register,
    cases_personal_data.register,
    disclosures_rights.register,
    breach_personal_data.register,
)


class UnregisteredPersonalData(RuntimeError):
    """A table holds a person reference that no domain exports and erases (raised at start in development)."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    extras: dict[str, object] = field(default_factory=dict)
    # The origin `fiduciary serve` actually bound (its real port under --port 0); None outside a server.
    bound_base_url: str | None = None
    _policy: PolicyInForce = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._policy = PolicyInForce(self.sessions)
        install_registry(self, DOMAIN_REGISTRARS)

    @classmethod
    def start(
        cls,
        settings: Settings | None = None,
        *,
        migrate: bool = True,
        bootstrap: bool = True,
        bound_base_url: str | None = None,
    ) -> Runtime:
        """Open the database; `bootstrap` publishes the configured policy if nothing is published yet."""
        settings = settings or get_settings()
        engine = create_engine_for_url(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            if migrate:
                upgrade_to_head(engine)
            runtime = cls(
                settings=settings,
                engine=engine,
                sessions=make_session_factory(engine),
                bound_base_url=bound_base_url,
            )
            if bootstrap:
                bootstrap_policy(runtime.sessions, settings.resolved_policy_file)
            # A missing or wrong key-encryption key stops the start here, never a corrupt read later.
            check_vault_keys(runtime)
            if settings.environment == "development":
                runtime.check_personal_data_coverage()
        except BaseException:
            engine.dispose()
            raise
        return runtime

    @property
    def public_base_url(self) -> str:
        """The origin of every link this runtime generates: FIDUCIARY_PUBLIC_BASE_URL, else the address the
        service bound, else the configured host and port. (The web layer may prefer a trusted proxy's Host
        per request: `fiduciary.web.base_url.request_base_url`.)"""
        return self.settings.public_base_url or self.bound_base_url or self.settings.configured_base_url

    def shared(self, key: str, kind: type[T], build: Callable[[], T]) -> T:
        """The runtime's one `kind` object under `key`, built on first use: services that keep caches (keys,
        floors, statements) live as long as the runtime, not a request."""
        found = self.extras.get(key)
        if not isinstance(found, kind):
            found = self.extras[key] = build()
        return found

    def policy(self) -> CompiledPolicy:
        """The compiled policy in force now (raises `NoPolicyInForce` when none is)."""
        return self._policy.get()

    def policy_is_cached(self) -> bool:
        """Whether `policy()` would answer now without touching the database (web.fast_path uses it)."""
        return self._policy.peek() is not None

    def check_personal_data_coverage(self) -> None:
        """Refuse a database with a table that holds a person reference no registered domain exports and
        erases: access and erasure requests (DPDP s.11, s.12(3); GDPR Art 15, 17) would silently miss it."""
        covered = registry_for(self).covered_tables()
        missing = uncovered_tables(person_reference_tables_in_database(self.engine), covered)
        if missing:
            raise UnregisteredPersonalData(describe_uncovered(missing))

    def close(self) -> None:
        close_vault_keys(self)
        for extra in self.extras.values():
            if isinstance(extra, Engine):  # a second pool a service opened on the same database
                extra.dispose()
            elif isinstance(extra, ClearSigner):  # its temporary GnuPG home and agent
                extra.close()
        self.engine.dispose()


# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
KEEP_FREE_HEAP_BYTES = 64 * 1024 * 1024


def tune_process(keep_free_heap_bytes: int = KEEP_FREE_HEAP_BYTES) -> bool:
    """Settings for a long-running service process; `fiduciary serve` calls this before it starts serving.

    - `gc.freeze()` moves everything alive after start-up (modules, the app, compiled policy) out of the
      collector's reach, so full collections stop re-scanning hundreds of thousands of objects that live
      as long as the process (measured: garbage collection per created person 50 → 11 µs).
    - glibc gives freed memory at the top of the heap back to the kernel once more than 128 KiB is free, and
      a batch of 1,000 consent receipts frees about 8 MB at once: the next batch then page-faults all of it
      back in, about 0.7 µs per 4 KiB page, which was a tenth of a consent write
      (bench/RESULTS.md "consent_write"). Keeping up to `keep_free_heap_bytes` for reuse removes that.

    An application embedding Fiduciary (the in-process SDK) may call it once after its own start-up.
    Returns whether the allocator setting took (False off glibc, e.g. on macOS or musl).
    """
    gc.collect()
    gc.freeze()
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, keep_free_heap_bytes))


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit and return the new soft limit.

    Every held client connection is a file descriptor; the usual soft limit of 1,024 would make the service
    refuse connections long before memory or the event loop bind (issue 17: 10,000 held connections). Off
    POSIX (no `resource` module) nothing changes and -1 is returned.
    """
    try:
        import resource  # lazy: POSIX only, so the module still imports on Windows
    except ImportError:
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)
