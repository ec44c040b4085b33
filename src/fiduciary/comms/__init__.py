"""comms domain: messages to people: the transactional outbox (`outbox.send`, delivered by the job
`comms.deliver`), message kinds and their templates, signed unsubscribe links and RFC 8058 one-click headers."""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "delivery",  # the job comms.deliver: SMTP or the outbox folder, retries with backoff
    "messages",  # message kinds, their categories and templates (English, Hindi)
    "models",  # the outbox_messages table (for migrations)
    "outbox",  # send(): a message in the transaction of the change that causes it
    "rights",  # the outbox's exporter and eraser
    "sealing",  # seal()/open_sealed(): values sealed under a person's key, or the outbox key for no person
    "unsubscribe",  # signed unsubscribe links, RFC 8058 one-click headers
]
