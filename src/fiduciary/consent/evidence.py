"""Evidence of how a consent was given, reduced to what proves it without identifying anyone.

- The user agent is kept as its SHA-256 (hex): it shows which browser build was used and can be matched
  against a claimed user agent later, while keeping the ledger compact and free of free text.
- The client address is truncated to its /24 (IPv4) or /48 (IPv6) network and stored as that prefix. A
  prefix names a provider's block, not a household, so it is not a personal value on its own, and it still
  shows roughly where a request came from (GDPR recital 30 treats full addresses as identifiers; the
  truncation is the usual analytics anonymisation step).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass

MAX_USER_AGENT = 1024  # longer values are cut before hashing so an attacker cannot make us hash megabytes


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the request showed: the user agent and the truncated client address (see `truncate_ip`)."""

    user_agent: str | None = None
    ip_prefix: str | None = None


def truncate_ip(address: str | None) -> str | None:
    """`203.0.113.77` → `203.0.113.0/24`; `2001:db8:1:2::5` → `2001:db8:1::/48`; anything else → None."""
    if not address:
        return None
    return _truncated(address)


@functools.lru_cache(maxsize=4096)
def _truncated(address: str) -> str | None:
    """`truncate_ip` of one address, memoised: every banner post of a visitor asks again (bench/RESULTS.md)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if isinstance(ip, ipaddress.IPv4Address) else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def hash_user_agent(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    return hashlib.sha256(user_agent[:MAX_USER_AGENT].encode("utf-8", "replace")).hexdigest()


def evidence_from(user_agent: str | None, client_ip: str | None) -> Evidence:
    return Evidence(user_agent=user_agent or None, ip_prefix=truncate_ip(client_ip))
