"""comms domain: messages to people. Now: signed unsubscribe links and RFC 8058 one-click headers."""

# The modules other packages may import; the rest are this package's own workings.
__all__ = [
    "unsubscribe",  # signed unsubscribe links, RFC 8058 one-click headers
]
