"""Cases: one workflow, one deadline engine and one staff listing for every kind of case that is not a
rights request — grievances, vulnerability reports, breaches (issue 16; docs/cases.md).

- `kinds`: what a kind is (states, transitions, clocks) and the registry of kinds;
- `workflow`: open, move, assign, note, read — versioned, audited, through the unit of work;
- `clocks`: deadlines on the policy's calendar (the rights deadlines' arithmetic), several per case;
- `due`: "what is due, across everything" (case clocks and rights requests);
- `jobs`: the escalation sweep; `sealing`: each case's text under its own key; `personal_data`: export and
  erasure (crypto-shredding the case keys).
"""
