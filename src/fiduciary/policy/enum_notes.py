"""The note written beside each member of a policy enumeration, read from the source.

The notes are often the clause of the law a value names (`LegitimateUse.VOLUNTARILY_PROVIDED  # ... 7a`).
docs/policy-reference.md prints them against each value, and the JSON Schema carries them as
`enumDescriptions` so an editor shows them while a store types the value.
"""

from __future__ import annotations

import inspect
import re
from enum import Enum

_MEMBER_LINE = re.compile(r'^[ \t]+\w+[ \t]*=[ \t]*"([^"]*)"[ \t]*(?:#[ \t]*(.*?))?[ \t]*$')
_COMMENT_LINE = re.compile(r"^[ \t]*#[ \t]?(.*?)[ \t]*$")


def enum_notes(enum: type[Enum]) -> dict[str, str]:
    """The note of each member in the source: often the clause of the law it names.

    A comment on the member's own line belongs to it; so does a block of comment lines directly above it
    (the form used when the note is too long for one line). Reading line by line keeps a note from
    sliding onto the member before it, which a pattern spanning newlines did.
    """
    try:
        source = inspect.getsource(enum)
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    above: list[str] = []
    for line in source.splitlines():
        member = _MEMBER_LINE.match(line)
        comment = _COMMENT_LINE.match(line)
        if member:
            note = member.group(2) or " ".join(above)
            if note:
                found[member.group(1)] = note
            above = []
        elif comment:
            above.append(comment.group(1))
        else:
            above = []
    return found
