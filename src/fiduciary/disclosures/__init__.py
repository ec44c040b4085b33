"""disclosures: recipients' endpoints, minimised shares and the disclosure log every person can see, and the
propagation of withdrawals, corrections, restrictions and erasures to every recipient by signed webhooks
(DPDP s.11(1)(b), s.8(7); GDPR Art 17(2), 19, 30). See docs/disclosures.md.
"""

__all__ = [
    "acknowledgements",  # acknowledge: a recipient's signed confirmation that it acted on a notice
    "endpoints",  # configure_endpoint, list_endpoints, policy_recipient
    "flows",  # disclose, DisclosureRequest, result_dict
    "log",  # list_disclosures, disclosures_of, actual_recipients, recipients_of
    "models",  # the tables and their id patterns
    "propagation",  # list_deliveries, propagation_of, queue_notices
    "rights",  # register (exporter, eraser, change listener)
    "ropa",  # records of processing (GDPR Art 30)
    "webhooks",  # deliver, the job disclosures.deliver
]
