"""Ordinary support messages keep their order numbers, prices and dates; redaction runs fully offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fiduciary.vault.checksums import luhn_valid, verhoeff_check_digit, verhoeff_valid
from fiduciary.vault.validation import redact_free_text

# A Verhoeff-valid 12-digit bank reference: shaped exactly like an Aadhaar number.
UTR = "41234567890" + verhoeff_check_digit("41234567890")

ORDINARY = [
    "Hi, my order #40512 hasn't arrived yet. It was supposed to come on 12/03/2024.",
    "Order 1234567812345678 was charged twice, ₹1,299.00 each time. Please refund one.",
    "I ordered 3 kurtas (size M) for Rs. 2,497 on 2024-03-05 and got only 2.",
    "My order no. 402-1234567-1234567 shows delivered but I never got it.",
    "Flipkart order OD428765432109876100 was cancelled without reason.",
    "The parcel with AWB 1234567890 is stuck at the Bhiwandi hub since Monday 10:30 AM.",
    "Refund of INR 4,599.50 for order 5012345678 still not credited after 7 days.",
    f"UTR {UTR} for my payment of ₹850 on 5 March; order still shows unpaid.",
    f"NEFT ref no {UTR} dated 02.03.2024",
    "Please exchange the shoes, size 9 to size 10. Order placed 15 Jan 2024.",
    "The coupon SAVE20 did not apply at checkout; total was 3,450 instead of 2,760.",
    "I called your helpline 1800 123 4567 twice and nobody answered.",
    "Invoice INV-2024-000123 has the wrong GST amount, should be 18% of 1,000.",
    "Can you deliver between 9am and 5pm? I'm at work otherwise.",
    "Pincode 560001 shows not serviceable but you delivered here last month.",
    "The price dropped from 12,999 to 9,999 a day after I bought it (order 77812).",
    "Tracking says 'out for delivery' since 2024-02-28 08:15:00.",
    "Booking ref 2024031500012 for the installation visit was not honoured.",
    "I paid 1,49,999 for the laptop, EMI of 12,500 x 12 months.",
    "Transaction ID 98234712341234 failed but money was debited.",
    "Return request 3021 raised on 01-04-2024, pickup not done yet.",
    "Version 2.3.14 of the app crashes when I open my orders.",
    "Ticket #100234: still waiting for an answer after 48 hours.",
    "The box said 500 g but the pack weighs 450 g.",
    "Delivered to the wrong flat, 12B instead of 21B, Tower 4.",
    "My wallet balance of ₹250 expired on 31/12/2023 without any notice.",
    "Order IDs 10234, 10235 and 10236 all arrived in one box, thanks!",
    "Why was I charged a ₹49 convenience fee on a ₹999 order?",
    "Reference number 20240315123456 from the courier.",
    "I want to cancel order 6543210987 before it ships.",
    "order 9876543210 not delivered",
    "Invoice total 1,23,456.78 INR for 24 units @ 5,144.03.",
    "Rated 5/5, great service. Delivered in 2 days.",
    "Meeting at 14:30 on 2024-06-01 with the seller about a bulk order of 1200 pieces.",
    "ISBN 978-3-16-148410-0 was the book I ordered.",
    "Package dimensions 30 x 20 x 15 cm, weight 2.5 kg, declared value 3500.",
    "Your email said the sale ends 2024-03-31 23:59 IST.",
    "The return window is 7 days but it's been 8 days since 28-02-2024.",
    "आपका ऑर्डर 40512 कल तक पहुँच जाएगा, कीमत ₹1,299",
    "Mera order abhi tak nahi aaya, order no 7788 hai, 3 din ho gaye.",
    "Use code FESTIVE10 on orders above ₹2,000 till 10/11/2024.",
    "Sizes available: 28, 30, 32, 34; colour code 0012-BLK.",
]


def test_corpus_exercises_the_hard_cases() -> None:
    """The corpus is only a test if it holds numbers shaped like identifiers."""
    assert verhoeff_valid(UTR) and UTR[0] not in "01"  # would be an Aadhaar without the "UTR" context
    assert not luhn_valid("1234567812345678")  # the brief's non-Luhn 16-digit order id
    # phone-shaped order numbers (valid Indian mobiles) after "order"
    assert any("order 9876543210" in message for message in ORDINARY)


@pytest.mark.parametrize("message", ORDINARY)
def test_ordinary_messages_are_left_alone(message: str) -> None:
    result = redact_free_text(message)
    assert result.findings == ()
    assert result.text == message


def test_known_false_positive_luhn_valid_barcode_is_redacted() -> None:
    """Accepted cost (decision 0004): a Luhn-valid 13-19 digit number is a card whatever the context, so
    an EAN-13 barcode that happens to pass Luhn (1 in 10 do) is redacted. Missing a card is worse."""
    assert luhn_valid("8901234567890")
    assert redact_free_text("Item SKU 8901234567890 is damaged").text == "Item SKU [CARD_NUMBER] is damaged"


def test_same_digits_are_redacted_when_the_context_names_the_identifier() -> None:
    assert redact_free_text(f"my aadhaar {UTR}").text == "my aadhaar [AADHAAR]"
    assert redact_free_text("order 9876543210, call me on 9876543210").text == ("order 9876543210, call me on [PHONE]")


_OFFLINE_PROBE = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args)[:80])
        raise OSError("network is off in this test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from fiduciary.vault.redaction import redact_free_text, warm_up
    warm_up("IN")
    result = redact_free_text(
        "mail ravi@example.co.uk card 4111111111111111 phone +44 20 7946 0958 pan ABCPE1234F "
        "upi ravi@okaxis ifsc SBIN0001234 gst 27AAPFU0939F1ZV"
    )
    print(json.dumps({
        "attempts": attempts,
        "text": result.text,
        "models": sorted(
            name for name in sys.modules if name.split(".")[0] in {"en_core_web_lg", "spacy", "presidio_analyzer"}
        ),
    }))
    """
)


def test_redaction_never_touches_the_network_nor_loads_a_model(tmp_path: Path) -> None:
    """No socket is opened, no NLP library or model is imported (decision 0014: none is installed, and
    one that happens to be in the environment stays unused), nothing is cached in the home directory."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    completed = subprocess.run(
        [sys.executable, "-c", _OFFLINE_PROBE], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["models"] == []
    assert report["text"] == (
        "mail [EMAIL] card [CARD_NUMBER] phone [PHONE] pan [PAN] upi [UPI_ID] ifsc [IFSC] gst [GSTIN]"
    )
    # Nothing was cached to the home directory either (tldextract would write its suffix list there).
    assert list(tmp_path.rglob("*")) == []
