"""comms domain: messages to people. Now: signed unsubscribe links and RFC 8058 one-click headers."""
