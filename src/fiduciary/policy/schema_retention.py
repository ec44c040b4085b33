"""The policy schema for retention clocks the store starts itself: declared events such as "the return window
closed", "the warranty ended" or "the dispute closed" (issue 12).

A store's own wording of a retention rule often counts from something only its backend knows. The policy
declares each such event once under `retention_events` (an id and the words the notice uses), a rule counts
from one with `trigger: {event: <id>}`, and the store's backend reports when it happened for a person
(`POST /v1/people/{person_id}/retention-events`, `fiduciary vault retention-event`). `policy check` refuses a
rule that names an event nobody declared.
"""

from __future__ import annotations

from pydantic import Field

from fiduciary.policy.schema_types import LongText, ShortText, Slug, StrictModel


class RetentionEvent(StrictModel):
    """Something in the store's own processes that starts a retention clock."""

    id: Slug = Field(description="What rules and the API call it, e.g. `warranty_ended`.")
    description: ShortText = Field(
        description="What happened, worded to follow 'after' or 'when' in the notice, e.g. 'the warranty on your "
        "purchase ends' (the notice reads 'Deleted 1 year after the warranty on your purchase ends.')."
    )
    notes: LongText | None = Field(
        default=None, description="For the store's staff: which system reports the event, and when."
    )


class EventTrigger(StrictModel):
    """`trigger: {event: warranty_ended}`: the clock starts when the store reports this declared event."""

    event: Slug = Field(description="The id of an entry of `retention_events`.")
