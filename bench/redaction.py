"""Free-text redaction throughput and validate_field cost per field type.

Every support message a store records goes through `redact_free_text` before it is encrypted, and every
personal field through `validate_field`; both sit on the write path of the vault (people created per
second, issue 4). Messages are 500 characters of realistic support text (orders, prices, dates, amounts),
one in four carrying an identifier or a card number, in English, Hinglish and Hindi.

    .venv/bin/python bench/redaction.py [--messages 2000] [--calls 2000]

Targets: redaction >= 250 messages/s on one core (a large store's whole support inbox is a few messages
a second); validate_field under 50 µs for the structured types, so 8 fields per person stay far below the
vault's 0.5 ms budget per person (2,000 people/s).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from fiduciary.policy.schema import FieldType
from fiduciary.vault.checksums import gstin_check_char, luhn_check_digit, verhoeff_check_digit
from fiduciary.vault.redaction import redact_free_text, warm_up
from fiduciary.vault.validation import normalise_identifier, validate_field

ORDINARY = [
    "Hi, my order #{n} hasn't arrived yet. It was supposed to come on {d}/03/2024.",
    "Order {n}{n}{n} was charged twice, ₹1,299.00 each time. Please refund one.",
    "I ordered 3 kurtas (size M) for Rs. 2,497 on 2024-03-{d} and got only 2.",
    "My order no. 402-1234567-{n}67 shows delivered but I never got it.",
    "The parcel with AWB 12345{n} is stuck at the Bhiwandi hub since Monday 10:30 AM.",
    "Refund of INR 4,599.50 for order 5012{n} still not credited after 7 days.",
    "Please exchange the shoes, size 9 to size 10. Order placed {d} Jan 2024.",
    "The coupon SAVE20 did not apply at checkout; total was 3,450 instead of 2,760.",
    "Mera order abhi tak nahi aaya, order no {n} hai, 3 din ho gaye.",
    "आपका ऑर्डर {n} कल तक पहुँच जाएगा, कीमत ₹1,299",
    "Invoice total 1,23,456.78 INR for 24 units @ 5,144.03, ticket #{n}.",
]
SENSITIVE = [
    "Please call me on 98765 {n}0 after 6 pm.",
    "My card {card} was charged but the order failed.",
    "For KYC my PAN is ABCPE{n}F and aadhaar {aadhaar}.",
    "Refund to UPI ravi.{n}@okhdfcbank or mail me at ravi{n}@example.com.",
    "Bill to GSTIN {gstin}, IFSC SBIN000{n}.",
]


def _card(rng: random.Random) -> str:
    payload = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    number = payload + luhn_check_digit(payload)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def _aadhaar(rng: random.Random) -> str:
    payload = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(10))
    return payload + verhoeff_check_digit(payload)


def make_messages(count: int, length: int = 500, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    messages = []
    for index in range(count):
        parts: list[str] = []
        while sum(len(part) + 1 for part in parts) < length:
            template = rng.choice(SENSITIVE if index % 4 == 0 and not parts else ORDINARY)
            parts.append(
                template.format(
                    n=rng.randint(1000, 9999),
                    d=rng.randint(10, 28),
                    card=_card(rng),
                    aadhaar=_aadhaar(rng),
                    gstin="29ABCPE1234F1Z" + gstin_check_char("29ABCPE1234F1Z"),
                )
            )
        messages.append(" ".join(parts)[:length])
    return messages


VALUES: dict[FieldType, str] = {
    FieldType.TEXT: "Ravi Kumar Sharma",
    FieldType.FREE_TEXT: make_messages(1, seed=99)[0],
    FieldType.EMAIL: "Ravi.Kumar@Example.COM",
    FieldType.PHONE: "98765 43210",
    FieldType.DATE: "1990-05-17",
    FieldType.POSTAL_ADDRESS: json.dumps(
        {"lines": ["12, MG Road", "Flat 4B"], "city": "Bengaluru", "postal_code": "560 001", "country": "IN"}
    ),
    FieldType.PIN_CODE: "560001",
    FieldType.PAN: "ABCPE1234F",
    FieldType.GSTIN: "29ABCPE1234F1Z" + gstin_check_char("29ABCPE1234F1Z"),
    FieldType.AADHAAR: "9876 5432 109" + verhoeff_check_digit("98765432109"),
    FieldType.PAYMENT_TOKEN: "tok_1NzA2b3C4dEfGh5i",
    FieldType.DOCUMENT_REFERENCE: "kyc/2024/per_01HV3K9Q/pan-card.pdf",
    FieldType.DEVICE: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile",
    FieldType.LOCATION: "12.9716,77.5946",
    FieldType.IDENTIFIER: "CUST-000042",
    FieldType.JSON: json.dumps(
        {"orders": [{"id": f"ORD-{i}", "total": 1299.0, "items": ["kurta", "dupatta"]} for i in range(10)]}
    ),
    FieldType.MEDIA_REFERENCE: "media/2024/03/photo-1234.jpg",
}


def time_per_call(fn: object, calls: int) -> float:
    """Median of five runs, microseconds per call."""
    assert callable(fn)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    start = time.perf_counter()
    warm_up("IN")
    cold = time.perf_counter() - start

    messages = make_messages(args.messages)
    findings = 0
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        findings = sum(len(redact_free_text(message).findings) for message in messages)
        rates.append(len(messages) / (time.perf_counter() - start))
    rate = max(rates)

    print("## redaction")
    print(f"first use (compile the patterns, load the public-suffix snapshot): {cold * 1000:.0f} ms")
    print(
        f"redact_free_text, {len(messages)} messages of 500 chars ({findings} findings): "
        f"{rate:,.0f} messages/s ({1e6 / rate:,.0f} µs each)"
    )
    print()
    print("| field type | µs per validate_field |")
    print("|---|---|")
    for field_type, value in VALUES.items():
        calls = args.calls // 20 if field_type is FieldType.FREE_TEXT else args.calls
        micros = time_per_call(lambda: validate_field(field_type, value, default_country="IN"), calls)  # noqa: B023
        print(f"| {field_type.value} | {micros:,.1f} |")
    for kind, value in (("email", "Ravi.Kumar@Example.COM"), ("phone", "98765 43210"), ("customer_id", "C-42")):
        micros = time_per_call(
            lambda: normalise_identifier(kind, value, default_country="IN"),  # type: ignore[arg-type]  # noqa: B023
            args.calls,
        )
        print(f"| normalise_identifier({kind}) | {micros:,.1f} |")


if __name__ == "__main__":
    main()
