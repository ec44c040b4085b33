"""One workflow engine for every kind of case and request: the state machine (`workflow.machine`), the
versioned transition (`workflow.versioned`) and the deadline engine (`workflow.deadlines`). Rights requests,
grievances, vulnerability reports and breaches are values of it (issue 16 item 4; decision 0033)."""
