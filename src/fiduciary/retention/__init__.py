"""Retention that runs itself (issue 15 items 1 and 2): the planner finds, set-wise in SQL, the vault fields
each policy rule says are due; the sweep deletes or anonymises them in batches, resumable and audited; staff
holds keep a person or a record out of every sweep and erasure until the hold ends. docs/retention.md.
Inactivity erasure (item 3, DPDP s.8(8)) is `inactivity_*`: docs/inactivity.md."""
