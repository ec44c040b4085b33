"""The shapes of the ids a decision names; checked at the edge so a malformed id is a 422, not a deny.

The patterns are the vault's (`per_`/`vis_` + 26 base32 characters), so a decision accepts exactly the
ids that consent and people accept.
"""

from __future__ import annotations

import re

from fiduciary.people.service import PERSON_ID_RE as _PERSON
from fiduciary.people.service import SUBJECT_ID_RE as _SUBJECT
from fiduciary.people.service import VISITOR_ID_RE as _VISITOR

PERSON_PREFIX = "per_"
VISITOR_PREFIX = "vis_"
SUBJECT_ID_PATTERN = f"^{_SUBJECT.pattern}$"
PERSON_ID_PATTERN = f"^{_PERSON.pattern}$"
VISITOR_ID_PATTERN = f"^{_VISITOR.pattern}$"
ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$"
SUBJECT_ID_RE = re.compile(SUBJECT_ID_PATTERN)
PERSON_ID_RE = re.compile(PERSON_ID_PATTERN)
ACTOR_RE = re.compile(ACTOR_PATTERN)
