"""A policy with store-declared retention events (issue 12), for the API, CLI, SDK and rights tests."""

from __future__ import annotations

from pathlib import Path

from fiduciary.config import DEMO_POLICY_PATH

DISPUTE = "dispute_closed"
WARRANTY = "warranty_ended"
EVENTS = f"""retention_events:
  - id: {DISPUTE}
    description: the dispute about your order is closed
  - id: {WARRANTY}
    description: the warranty on your purchase ends
"""


def events_policy_text() -> str:
    """The demo policy whose support history is kept 2 years after a dispute closes and delivery data 1 year
    after the warranty ends, both events declared by the store."""
    text = DEMO_POLICY_PATH.read_text(encoding="utf-8")
    support = "  - id: support_history\n"
    assert text.count("    trigger: case_closed\n") == 1 and support in text
    text = text.replace("    trigger: case_closed\n", f"    trigger: {{event: {DISPUTE}}}\n")
    delivery = text.index("  - id: delivery_data\n")
    before, after = text[:delivery], text[delivery:]
    old = "    trigger: order_completed\n    keep_for: 180d\n"
    after = after.replace(old, f"    trigger: {{event: {WARRANTY}}}\n    keep_for: 1y\n", 1)
    assert f"event: {WARRANTY}" in after
    return before + after.replace("cookies:\n", EVENTS + "cookies:\n", 1)


def write_events_policy(directory: Path) -> Path:
    path = directory / "events-policy.yaml"
    path.write_text(events_policy_text(), encoding="utf-8")
    return path
