"""Access and portability packages (DPDP s.11; GDPR Art 15 and 20; issue 13 item 4).

`builder.build_package` runs every registered exporter row by row (the registry's streams) into one ZIP — a
JSON document under a published schema (docs/access-package.schema.json), a CSV per record type, an HTML
summary and the consent receipts — sealed in chunks under the person's vault key and stored in the database.
`links.issue_link` gives a signed, expiring, limited download link; `links.open_download` serves it. The job
`rights.build_package` (`job`) builds a package for a rights request in its own transaction and then calls
every listener registered here with the new link, so the requests domain completes the request and queues
the message in that same transaction. See docs/access-packages.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext

if TYPE_CHECKING:
    from fiduciary.rights.packages.links import PackageLink

PackageListener = Callable[[RuntimeContext, Session, str, "PackageLink"], None]
"""Called by the job `rights.build_package` with (runtime, the job's session, request id, the new link)."""

_listeners: list[PackageListener] = []
_lock = threading.Lock()


def register_package_listener(listener: PackageListener) -> None:
    """Call `listener` whenever the job builds a package for a request (once per listener, however often
    it is registered). It runs in the job's transaction: raising rolls the package back and the job retries."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unregister_package_listener(listener: PackageListener) -> None:
    """Undo `register_package_listener` (tests, unloaded plugins)."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def package_listeners() -> list[PackageListener]:
    """The registered listeners, in registration order (a copy)."""
    with _lock:
        return list(_listeners)


__all__ = [
    "PackageListener",
    "builder",  # build_package, BuiltPackage
    "job",  # the job rights.build_package
    "links",  # issue_link, open_download, PackageLink, Download
    "models",  # the access_packages and access_package_chunks tables
    "package_listeners",
    "register_package_listener",
    "registration",  # the packages' exporter and eraser
    "unregister_package_listener",
]
