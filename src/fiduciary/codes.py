"""The shapes of the codes that may be recorded or echoed: ids, policy slugs, actions, request ids.

An audit event, a log line or a problem document holds only values of these shapes, so a personal value
cannot slip in through them (DESIGN principle 2; DPDP Rule 6(1)(c) logs without the data itself). Shared by
the audit trail, which refuses anything else, and the web layer, which checks a client's request id.
"""

from __future__ import annotations

import re
from typing import Final

ACTION_PATTERN: Final = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$"
SLUG_PATTERN: Final = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
ACTOR_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$"
SUBJECT_PATTERN: Final = r"^(per|vis)_[a-z2-7]{26}$"
REQUEST_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
TARGET_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"

ACTION_RE: Final = re.compile(ACTION_PATTERN)
SLUG_RE: Final = re.compile(SLUG_PATTERN)
ACTOR_RE: Final = re.compile(ACTOR_PATTERN)
SUBJECT_RE: Final = re.compile(SUBJECT_PATTERN)
REQUEST_ID_RE: Final = re.compile(REQUEST_ID_PATTERN)
TARGET_RE: Final = re.compile(TARGET_PATTERN)


def safe_slug(value: object) -> str | None:
    """`value` if it is a policy-identifier-shaped string (safe to record), else None."""
    return value if isinstance(value, str) and len(value) <= 80 and SLUG_RE.fullmatch(value) else None


def safe_request_id(value: object) -> str | None:
    return value if isinstance(value, str) and REQUEST_ID_RE.fullmatch(value) else None
